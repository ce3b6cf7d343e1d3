"""Users: the one way an account is created (with its on-created hooks), registration, lookups,
the login parser and the caller's own description."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

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

# Called in the creating transaction for every new account, whatever the path (registration,
# first SMS sign-in, demo data); packages above accounts plug in through api/wiring.py (e.g.
# customers links the walk-in records a merchant made with this phone to the new account).
UserCreatedHook = Callable[[AsyncSession, User], Awaitable[None]]


_user_created_hooks: list[UserCreatedHook] = []


def register_user_created_hook(hook: UserCreatedHook) -> None:
    """Run `hook(session, user)` after each account creation, in its transaction."""
    if hook not in _user_created_hooks:
        _user_created_hooks.append(hook)


async def create_user(
    session: AsyncSession,
    *,
    phone: str | None,
    email: str | None,
    password_hash: str,
    display_name: str,
) -> User:
    """The one way an account comes to exist: insert (UserExists when the phone or email is
    taken, also under a concurrent creation), then the on-created hooks."""
    user = await UserRepository(session).insert(
        phone=phone, email=email, password_hash=password_hash, display_name=display_name
    )
    if user is None:
        raise UserExists()
    for hook in _user_created_hooks:
        await hook(session, user)
    return user


async def register_user(
    session: AsyncSession, *, settings: Settings, data: schemas.UserCreate
) -> User:
    repo = UserRepository(session)
    if await repo.by_login(phone=data.phone, email=data.email) is not None:
        raise UserExists()
    return await create_user(
        session,
        phone=data.phone,
        email=data.email,
        password_hash=await hash_secret(settings, data.password),
        display_name=data.display_name,
    )


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
