"""Sign-in and password reset by SMS code (SPEC §11); the codes themselves: `sms_codes`.

A first sign-in by code creates the account (through `users.create_user`, so the on-created
hooks run); a reset revokes every refresh token of the user. Answers never tell whether a
phone has an account: a code request is the same 202 and every failure the same 400.
"""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.repository import RefreshTokenRepository, UserRepository
from accounts.security import hash_secret
from accounts.service import sms_codes
from accounts.service.errors import SmsCodeInvalid, UserExists
from accounts.service.signin import IssuedTokens, _issue_tokens
from accounts.service.users import create_user, parse_login
from core import ratelimit, sms
from core.ids import new_id
from core.settings import Settings

# accounts made by a first SMS sign-in have no password until one is set by reset: this is
# not an Argon2 hash, so no password ever verifies against it
NO_PASSWORD = "!no-password"
CODE_KINDS = {"login": sms.LOGIN_CODE, "reset": sms.RESET_CODE, "delete": sms.DELETE_CODE}


async def request_sms_code(
    session: AsyncSession,
    *,
    settings: Settings,
    redis: Redis,
    phone: str,
    purpose: sms_codes.Purpose,
    client_ip: str,
) -> sms.SmsMessage | None:
    """Take the send budget and store a new code; the message to send, or None when there is
    nobody to send it to (reset/delete for a phone without an account). The caller answers the
    same 202 either way and sends after answering, so neither the body nor the timing tells
    whether the phone has an account."""
    await sms_codes.take_send_budget(redis, settings, phone=phone, client_ip=client_ip)
    if purpose != "login":
        user = await UserRepository(session).by_login(phone=phone, email=None)
        if user is None or not user.is_active:
            return None
    code = sms_codes.new_code()
    await sms_codes.store_code(redis, settings, purpose=purpose, phone=phone, code=code)
    minutes = str(max(1, settings.sms_code_ttl_seconds // 60))
    return sms.sms_message(phone, CODE_KINDS[purpose], {"code": code, "minutes": minutes})


async def login_with_code(
    session: AsyncSession,
    *,
    settings: Settings,
    redis: Redis,
    username: str,
    code: str,
    client_ip: str,
    now: datetime,
) -> IssuedTokens:
    """Sign in with a login code; the first sign-in of a phone creates its account."""
    phone, _ = parse_login(username)
    if phone is None:
        raise SmsCodeInvalid()
    await sms_codes.consume_code(
        redis, settings, purposes=("login",), phone=phone, code=code, client_ip=client_ip
    )
    repo = UserRepository(session)
    user = await repo.by_login(phone=phone, email=None)
    if user is None:
        try:
            user = await create_user(
                session,
                phone=phone,
                email=None,
                password_hash=NO_PASSWORD,
                display_name=f"用户{phone[-4:]}",
            )
        except UserExists:  # a concurrent first sign-in of the same phone made it
            user = await repo.by_login(phone=phone, email=None)
    if user is None or not user.is_active:
        raise SmsCodeInvalid()
    return await _issue_tokens(
        session, settings=settings, user_id=user.id, family_id=new_id(), now=now
    )


async def reset_password(
    session: AsyncSession,
    *,
    settings: Settings,
    redis: Redis,
    phone: str,
    code: str,
    new_password: str,
    client_ip: str,
    now: datetime,
) -> None:
    """Set a new password with a reset code; every refresh token of the user is revoked."""
    await sms_codes.consume_code(
        redis, settings, purposes=("reset",), phone=phone, code=code, client_ip=client_ip
    )
    user = await UserRepository(session).by_login(phone=phone, email=None)
    if user is None or not user.is_active:
        raise SmsCodeInvalid()
    await UserRepository(session).set_password(user.id, await hash_secret(settings, new_password))
    await RefreshTokenRepository(session).revoke_user(user.id, now)
    try:  # the owner proved the phone: earlier wrong passwords no longer lock them out
        await ratelimit.reset(redis, f"login:fail:{phone}")
    except (RedisConnectionError, RedisTimeoutError):
        pass
