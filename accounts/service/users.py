"""Users: the one way an account is created (with its on-created hooks), registration, lookups,
the login parser and the caller's own description."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
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
from core import ratelimit
from core.errors import RateLimited
from core.settings import Settings

log = structlog.get_logger("corner.accounts")

# Called in the creating transaction for every new account, whatever the path (registration,
# first SMS sign-in, demo data); packages above accounts plug in through api/wiring.py.
UserCreatedHook = Callable[[AsyncSession, User], Awaitable[None]]
# Called in the transaction in which an account first proves its phone by an SMS code (its
# first SMS sign-in, a later sign-in or password reset by code), once per account: what
# merchants recorded under that phone (walk-in customers, member-book cards) joins the account
# then, never on a password registration alone — anyone can type someone else's number.
PhoneVerifiedHook = Callable[[AsyncSession, User], Awaitable[None]]


_user_created_hooks: list[UserCreatedHook] = []
_phone_verified_hooks: list[PhoneVerifiedHook] = []


def register_user_created_hook(hook: UserCreatedHook) -> None:
    """Run `hook(session, user)` after each account creation, in its transaction."""
    if hook not in _user_created_hooks:
        _user_created_hooks.append(hook)


def register_phone_verified_hook(hook: PhoneVerifiedHook) -> None:
    """Run `hook(session, user)` when an account proves its phone, in that transaction."""
    if hook not in _phone_verified_hooks:
        _phone_verified_hooks.append(hook)


async def create_user(
    session: AsyncSession,
    *,
    phone: str | None,
    email: str | None,
    password_hash: str,
    display_name: str,
    phone_verified: bool = False,
) -> User:
    """The one way an account comes to exist: insert (UserExists when the phone or email is
    taken, also under a concurrent creation), then the on-created hooks, and the
    phone-verified ones when the creation itself proved the phone (a first SMS sign-in)."""
    user = await UserRepository(session).insert(
        phone=phone,
        email=email,
        password_hash=password_hash,
        display_name=display_name,
        phone_verified=phone_verified and phone is not None,
    )
    if user is None:
        raise UserExists()
    for hook in _user_created_hooks:
        await hook(session, user)
    if user.phone_verified_at is not None:
        for verified_hook in _phone_verified_hooks:
            await verified_hook(session, user)
    return user


async def phone_proved(session: AsyncSession, *, user: User) -> bool:
    """The account's holder just proved its phone by an SMS code. The first time: record it
    and run the phone-verified hooks; True then (the caller voids what was set before the
    proof — see `signin.login_with_code`)."""
    verified = await UserRepository(session).mark_phone_verified(user.id)
    if verified is None:
        return False
    for hook in _phone_verified_hooks:
        await hook(session, verified)
    return True


REGISTER_WINDOW_SECONDS = 3600


async def take_register_budget(redis: Redis, settings: Settings, *, client_ip: str) -> None:
    """Count one password sign-up of this client IP; 429 past the hourly limit. Fails open
    without Redis (logged): sign-ups keep working, only their pace is unguarded."""
    try:
        count, ttl = await ratelimit.increment(
            redis, f"register:ip:{client_ip}", REGISTER_WINDOW_SECONDS
        )
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("register_rate_limit_skipped", reason=type(exc).__name__)
    else:
        if count > settings.register_max_per_ip_per_hour:
            raise RateLimited(ttl or REGISTER_WINDOW_SECONDS)


async def register_user(
    session: AsyncSession, *, settings: Settings, data: schemas.UserCreate
) -> User:
    """Create a password account. The password is hashed before the phone/email is looked
    up, so that `user_exists` takes as long as a sign-up: it used to answer 10x faster (issue
    17, finding 9). The 409 itself stays (SPEC §2), bounded by the per-IP limit of the route;
    the sign-up that tells nothing at all is the SMS-code one (202 whatever the phone)."""
    password_hash = await hash_secret(settings, data.password)
    if await UserRepository(session).by_login(phone=data.phone, email=data.email) is not None:
        raise UserExists()
    return await create_user(
        session,
        phone=data.phone,
        email=data.email,
        password_hash=password_hash,
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
