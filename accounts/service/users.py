"""Users: registration, lookups, the login parser and the caller's own description."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import schemas
from accounts.models import User
from accounts.repository import (
    MerchantRepository,
    UserRepository,
)
from accounts.security import (
    hash_secret,
)
from accounts.service.errors import (
    UserExists,
    UserNotFound,
)
from core.settings import Settings


async def register_user(
    session: AsyncSession, *, settings: Settings, data: schemas.UserCreate
) -> User:
    repo = UserRepository(session)
    if await repo.by_login(phone=data.phone, email=data.email) is not None:
        raise UserExists()
    user = await repo.insert(
        phone=data.phone,
        email=data.email,
        password_hash=await hash_secret(settings, data.password),
        display_name=data.display_name,
    )
    if user is None:  # lost a race with a concurrent registration of the same phone/email
        raise UserExists()
    return user


async def get_user(session: AsyncSession, *, user_id: uuid.UUID) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None or not user.is_active:
        raise UserNotFound()
    return user


async def existing_user_ids(session: AsyncSession, *, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` that are active users (for bulk actions of other packages)."""
    return await UserRepository(session).existing_ids(user_ids)


def parse_login(username: str) -> tuple[str | None, str | None]:
    """A username is an email (has '@') or a phone number; returns (phone, email)."""
    text = username.strip()
    if "@" in text:
        return None, text.lower()
    try:
        return schemas.normalise_phone(text), None
    except ValueError:
        return None, None


async def describe_me(session: AsyncSession, *, user_id: uuid.UUID) -> schemas.Me:
    user = await get_user(session, user_id=user_id)
    merchants = await MerchantRepository(session).merchants_of(user_id)
    return schemas.Me(
        **schemas.User.model_validate(user).model_dump(),
        merchants=[
            schemas.StaffOf(merchant_id=m.id, name=m.name, role=role)  # type: ignore[arg-type]
            for m, role in merchants
        ],
    )
