"""Merchants and staff: create/update a merchant, staff roles, who may grant which, and staff
invitations (a person becomes staff only by accepting)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from accounts import schemas
from accounts.models import Merchant, StaffInvitation, User
from accounts.repository import (
    InvitationRepository,
    MerchantRepository,
    UserRepository,
    role_expression,
)
from accounts.service.errors import (
    ROLES,
    MerchantNotFound,
    StaffExists,
    StaffInvitationNotFound,
    UserNotFound,
)
from accounts.service.users import get_user, parse_login
from core.errors import (
    Conflict,
    Forbidden,
)
from core.i18n import localised

# an invitation not answered within a week lapses; the inviter can invite again
INVITATION_TTL = timedelta(days=7)


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


async def invite_staff(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    granter_role: str,
    invited_by: uuid.UUID,
    data: schemas.StaffCreate,
    now: datetime,
) -> schemas.StaffInvitation:
    """Offer a staff role; the person becomes staff only when they accept it.

    The user id or phone is stored as given and not looked up: the answer (and its timing) is
    the same whether it names an account or not, and says nothing about the person. Only the
    merchant's own staff list is consulted (409 `staff_exists`), which the inviter sees anyway.
    """
    if not may_grant(granter_role, data.role):
        raise Forbidden(
            localised(
                f"{ROLES.say(granter_role)}不能授予{ROLES.say(data.role)}角色",
                f"A {ROLES.say(granter_role)} cannot grant the {ROLES.say(data.role)} role",
            )
        )
    merchants = MerchantRepository(session)
    if await merchants.is_staff(merchant_id, user_id=data.user_id, phone=data.phone):
        raise StaffExists()
    invitation = await InvitationRepository(session).upsert_pending(
        merchant_id=merchant_id,
        invitee_user_id=data.user_id,
        invitee_phone=data.phone,
        role=data.role,
        invited_by=invited_by,
        expires_at=now + INVITATION_TTL,
    )
    return schemas.StaffInvitation.model_validate(invitation, from_attributes=True)


async def pending_invitations(
    session: AsyncSession, *, merchant_id: uuid.UUID, now: datetime
) -> list[schemas.StaffInvitation]:
    rows = await InvitationRepository(session).pending_of_merchant(merchant_id, now)
    return [schemas.StaffInvitation.model_validate(i, from_attributes=True) for i in rows]


async def revoke_invitation(
    session: AsyncSession, *, merchant_id: uuid.UUID, invitation_id: uuid.UUID, now: datetime
) -> None:
    if not await InvitationRepository(session).revoke(merchant_id, invitation_id, now):
        raise StaffInvitationNotFound()


async def my_invitations(
    session: AsyncSession, *, user_id: uuid.UUID, now: datetime
) -> list[schemas.MyStaffInvitation]:
    """Pending invitations addressed to the caller's id or to the phone of their account."""
    user = await get_user(session, user_id=user_id)
    rows = await InvitationRepository(session).pending_for(
        user_id=user.id, phone=user.phone, now=now
    )
    return [
        schemas.MyStaffInvitation(
            id=i.id,
            merchant_id=m.id,
            merchant_name=m.name,
            role=i.role,  # type: ignore[arg-type]
            created_at=i.created_at,
            expires_at=i.expires_at,
        )
        for i, m in rows
    ]


async def _answer_invitation(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    invitation_id: uuid.UUID,
    status: str,
    now: datetime,
) -> tuple[User, StaffInvitation]:
    """Answer a live pending invitation addressed to the caller (by id or by their phone);
    anything else, someone else's included, is 404."""
    user = await get_user(session, user_id=user_id)
    invitation = await InvitationRepository(session).answer(
        invitation_id=invitation_id, user_id=user.id, phone=user.phone, status=status, now=now
    )
    if invitation is None:
        raise StaffInvitationNotFound()
    return user, invitation


async def accept_invitation(
    session: AsyncSession, *, user_id: uuid.UUID, invitation_id: uuid.UUID, now: datetime
) -> schemas.StaffOf:
    user, invitation = await _answer_invitation(
        session, user_id=user_id, invitation_id=invitation_id, status="accepted", now=now
    )
    if not await MerchantRepository(session).add_staff(
        invitation.merchant_id, user.id, invitation.role
    ):
        raise StaffExists()
    merchant = await get_merchant(session, merchant_id=invitation.merchant_id)
    return schemas.StaffOf(
        merchant_id=merchant.id,
        name=merchant.name,
        role=invitation.role,  # type: ignore[arg-type]
    )


async def decline_invitation(
    session: AsyncSession, *, user_id: uuid.UUID, invitation_id: uuid.UUID, now: datetime
) -> None:
    await _answer_invitation(
        session, user_id=user_id, invitation_id=invitation_id, status="declined", now=now
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


# Called in the removing transaction after a staff member left a merchant (merchant id, their
# user id): packages above accounts plug in through api/wiring.py (customers hands the person's
# open follow-up tasks and complaints to the managers).
StaffRemovedHook = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[None]]
_staff_removed_hooks: list[StaffRemovedHook] = []


def register_staff_removed_hook(hook: StaffRemovedHook) -> None:
    """Run `hook(session, merchant_id, user_id)` after each staff removal, in its transaction."""
    if hook not in _staff_removed_hooks:
        _staff_removed_hooks.append(hook)


async def remove_staff(
    session: AsyncSession, *, merchant_id: uuid.UUID, granter_role: str, user_id: uuid.UUID
) -> None:
    repo = MerchantRepository(session)
    role = await repo.role_of(merchant_id, user_id)
    if role is None:
        raise UserNotFound()
    if not may_grant(granter_role, role):
        raise Forbidden(
            localised(
                f"{ROLES.say(granter_role)}不能移除{ROLES.say(role)}",
                f"A {ROLES.say(granter_role)} cannot remove a {ROLES.say(role)}",
            )
        )
    if role == "owner" and await repo.count_owners(merchant_id) <= 1:
        raise Conflict(
            localised("商户至少要保留一位店主", "A merchant must keep at least one owner")
        )
    await repo.remove_staff(merchant_id, user_id)
    for hook in _staff_removed_hooks:
        await hook(session, merchant_id, user_id)


async def managers_of(session: AsyncSession, *, merchant_id: uuid.UUID) -> list[uuid.UUID]:
    """The merchant's owners and managers (user ids), owners first: who escalations reach
    and who takes over a leaver's work."""
    rows = await MerchantRepository(session).staff(merchant_id)
    ranked = sorted(
        ((s.role, u.id) for s, u in rows if s.role in ("owner", "manager")),
        key=lambda r: (r[0] != "owner", str(r[1])),
    )
    return [user_id for _, user_id in ranked]


async def find_user_by_login(session: AsyncSession, *, username: str) -> User | None:
    phone, email = parse_login(username)
    return await UserRepository(session).by_login(phone=phone, email=email)


async def users_with_phones(
    session: AsyncSession, *, phones: list[str]
) -> dict[str, tuple[uuid.UUID, str]]:
    """The accounts of these phones (phone → (user id, display name)), for bulk linking."""
    if not phones:
        return {}
    return await UserRepository(session).by_phones(phones)


async def merchants_of(session: AsyncSession, *, user_id: uuid.UUID) -> list[tuple[Merchant, str]]:
    return await MerchantRepository(session).merchants_of(user_id)
