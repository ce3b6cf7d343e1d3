"""Merchants and staff: create/update a merchant, staff roles and who may grant which."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from accounts import schemas
from accounts.models import Merchant, User
from accounts.repository import (
    MerchantRepository,
    UserRepository,
    role_expression,
)
from accounts.service.errors import (
    MerchantNotFound,
    StaffExists,
    UserNotFound,
)
from accounts.service.users import get_user, parse_login
from core.errors import Conflict, Forbidden


async def create_merchant(
    session: AsyncSession, *, owner_id: uuid.UUID, data: schemas.MerchantCreate
) -> Merchant:
    await get_user(session, user_id=owner_id)
    repo = MerchantRepository(session)
    merchant = await repo.add(
        Merchant(name=data.name.strip(), timezone=data.timezone, contact_phone=data.contact_phone)
    )
    await repo.add_staff(merchant.id, owner_id, "owner")
    return merchant


async def get_merchant(session: AsyncSession, *, merchant_id: uuid.UUID) -> Merchant:
    merchant = await MerchantRepository(session).get(merchant_id)
    if merchant is None:
        raise MerchantNotFound()
    return merchant


async def merchant_timezone(session: AsyncSession, *, merchant_id: uuid.UUID) -> str:
    return (await get_merchant(session, merchant_id=merchant_id)).timezone


async def update_merchant(
    session: AsyncSession, *, merchant_id: uuid.UUID, data: schemas.MerchantUpdate
) -> Merchant:
    merchant = await get_merchant(session, merchant_id=merchant_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        changes.pop("name")
    if "timezone" in changes and changes["timezone"] is None:
        changes.pop("timezone")
    for field, value in changes.items():
        setattr(merchant, field, value)
    await session.flush()
    await session.refresh(merchant)
    return merchant


async def staff_role(
    session: AsyncSession, *, merchant_id: uuid.UUID, user_id: uuid.UUID
) -> str | None:
    return await MerchantRepository(session).role_of(merchant_id, user_id)


def staff_role_expression(merchant_id: ColumnElement[Any], user_id: Any) -> ColumnElement[Any]:
    """`staff_role` as a SQL expression over another package's merchant id column, for hot
    paths (the counter) that fold the role check into their own lookup statement."""
    return role_expression(merchant_id, user_id)


def may_grant(granter_role: str, role: str) -> bool:
    """Owners grant any role; managers may add clerks and managers, never owners."""
    if granter_role == "owner":
        return True
    return granter_role == "manager" and role in ("manager", "clerk")


async def add_staff(
    session: AsyncSession, *, merchant_id: uuid.UUID, granter_role: str, data: schemas.StaffCreate
) -> schemas.Staff:
    if not may_grant(granter_role, data.role):
        raise Forbidden(f"A {granter_role} cannot grant the role {data.role}")
    users = UserRepository(session)
    user = (
        await users.get(data.user_id)
        if data.user_id is not None
        else await users.by_login(phone=data.phone, email=None)
    )
    if user is None or not user.is_active:
        raise UserNotFound()
    repo = MerchantRepository(session)
    if not await repo.add_staff(merchant_id, user.id, data.role):
        raise StaffExists()
    staff = await repo.staff(merchant_id)
    created = next(s for s, u in staff if u.id == user.id)
    return schemas.Staff(
        user_id=user.id,
        display_name=user.display_name,
        phone=user.phone,
        role=data.role,
        created_at=created.created_at,
    )


async def list_staff(session: AsyncSession, *, merchant_id: uuid.UUID) -> list[schemas.Staff]:
    rows = await MerchantRepository(session).staff(merchant_id)
    return [
        schemas.Staff(
            user_id=u.id,
            display_name=u.display_name,
            phone=u.phone,
            role=s.role,
            created_at=s.created_at,
        )  # type: ignore[arg-type]
        for s, u in rows
    ]


async def remove_staff(
    session: AsyncSession, *, merchant_id: uuid.UUID, granter_role: str, user_id: uuid.UUID
) -> None:
    repo = MerchantRepository(session)
    role = await repo.role_of(merchant_id, user_id)
    if role is None:
        raise UserNotFound()
    if not may_grant(granter_role, role):
        raise Forbidden(f"A {granter_role} cannot remove a {role}")
    if role == "owner" and await repo.count_owners(merchant_id) <= 1:
        raise Conflict("A merchant must keep at least one owner")
    await repo.remove_staff(merchant_id, user_id)


async def find_user_by_login(session: AsyncSession, *, username: str) -> User | None:
    phone, email = parse_login(username)
    return await UserRepository(session).by_login(phone=phone, email=email)


async def merchants_of(session: AsyncSession, *, user_id: uuid.UUID) -> list[tuple[Merchant, str]]:
    return await MerchantRepository(session).merchants_of(user_id)
