"""Sign-in: password with rate limits, SMS codes (sign-in, reset), token issue, refresh-token
rotation with reuse detection, sign-out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import revocation, sms_codes
from accounts.models import RefreshToken
from accounts.repository import (
    RefreshTokenRepository,
    UserRepository,
)
from accounts.security import (
    burn_verification,
    create_access_token,
    hash_secret,
    new_refresh_secret,
    refresh_token_hash,
    verify_secret,
)
from accounts.service.errors import (
    InvalidCredentials,
    LoginUnavailable,
    RefreshTokenInvalid,
    UserExists,
)
from accounts.service.users import create_user, parse_login, phone_proved
from core import ratelimit, sms
from core.errors import InvalidInput, RateLimited
from core.i18n import localised
from core.ids import new_id
from core.settings import Settings


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


async def _issue_tokens(
    session: AsyncSession,
    *,
    settings: Settings,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    now: datetime,
) -> IssuedTokens:
    secret = new_refresh_secret()
    token = RefreshToken(
        id=new_id(),
        user_id=user_id,
        family_id=family_id,
        token_hash=refresh_token_hash(secret),
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    await RefreshTokenRepository(session).add(token)
    return IssuedTokens(
        access_token=create_access_token(settings, user_id, now, family_id=family_id),
        refresh_token=f"{token.id.hex}.{secret}",
        expires_in=settings.access_token_ttl_seconds,
    )


async def _take_login_attempt(
    redis: Redis, settings: Settings, account: str, ip_key: str, now: datetime
) -> ratelimit.Lockout:
    """Take one attempt from the caller's IP and admit one evaluation for the account *before*
    the password is checked (atomic Redis scripts), so whatever the concurrency at most N
    wrong passwords per account (and M attempts per IP) are evaluated in a window. Reading the
    count first and increasing it after the check let 25 parallel guesses all be checked
    (issue 17, finding 2)."""
    attempts, attempts_ttl = await ratelimit.increment(redis, ip_key, settings.login_window_seconds)
    if attempts > settings.login_max_attempts_per_ip:
        raise RateLimited(attempts_ttl)
    lockout = ratelimit.Lockout(
        failures_key=f"login:fail:{account}",
        inflight_key=f"login:inflight:{account}",
        lock_key=f"login:lock:{account}",
        limit=settings.login_max_failures_per_account,
        window_seconds=settings.login_window_seconds,
    )
    try:
        await lockout.take(redis, now.timestamp())
    except ratelimit.Locked as exc:
        raise RateLimited(exc.retry_after) from exc
    return lockout


# a phone or an email is far shorter; a longer username is refused before it becomes a key
MAX_USERNAME_LENGTH = 254


MAX_PASSWORD_LENGTH = 1024


async def login(
    session: AsyncSession,
    *,
    settings: Settings,
    redis: Redis,
    username: str,
    password: str,
    client_ip: str,
    now: datetime,
) -> IssuedTokens:
    if len(username) > MAX_USERNAME_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            localised("账号或密码过长", "The username or password is too long"),
            loc=["body", "username"],
        )
    phone, email = parse_login(username)
    account = phone or email or username.strip().lower()
    try:
        lockout = await _take_login_attempt(redis, settings, account, f"login:ip:{client_ip}", now)
        ok: bool | None = None
        try:
            user = await UserRepository(session).by_login(phone=phone, email=email)
            if user is None or not user.is_active:
                await burn_verification(settings)
                ok = False
            else:
                ok = await verify_secret(settings, user.password_hash, password)
        finally:
            # a failure is counted, a success clears the failures, an error neither
            await lockout.release(redis, failed=None if ok is None else not ok)
        if not ok:
            raise InvalidCredentials()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise LoginUnavailable() from exc
    assert user is not None
    return await _issue_tokens(
        session, settings=settings, user_id=user.id, family_id=new_id(), now=now
    )


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
    """Sign in with a login code; the first sign-in of a phone creates its account.

    The code proves the phone. An account registered with a password for this phone had not
    proved it: anyone may type someone else's number. So the first proof makes the phone's
    owner the account's only holder — the password set before it is void and every session
    of the account is revoked (the owner sets a password by reset) — and only then do the
    records merchants made for the phone join the account (`phone_proved`' hooks)."""
    phone, _ = parse_login(username)
    if phone is None:
        raise sms_codes.SmsCodeInvalid()
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
                phone_verified=True,
            )
        except UserExists:  # a concurrent first sign-in of the same phone made it
            user = await repo.by_login(phone=phone, email=None)
    if user is None or not user.is_active:
        raise sms_codes.SmsCodeInvalid()
    if await phone_proved(session, user=user) and user.password_hash != NO_PASSWORD:
        await repo.set_password(user.id, NO_PASSWORD)
        await _revoke_user_sessions(session, settings, redis, user.id, now)
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
        raise sms_codes.SmsCodeInvalid()
    await UserRepository(session).set_password(user.id, await hash_secret(settings, new_password))
    await _revoke_user_sessions(session, settings, redis, user.id, now)
    await phone_proved(session, user=user)  # the code proved the phone too
    try:  # the owner proved the phone: earlier wrong passwords no longer lock them out
        await ratelimit.reset(redis, f"login:fail:{phone}")
    except (RedisConnectionError, RedisTimeoutError):
        pass


async def _revoke_user_sessions(
    session: AsyncSession, settings: Settings, redis: Redis, user_id: uuid.UUID, now: datetime
) -> None:
    """Every refresh token of the user, and the access tokens already out (deny-list): a
    thief's session ends now too."""
    families = await RefreshTokenRepository(session).revoke_user(user_id, now)
    try:
        await revocation.revoke_families(redis, settings, families)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise LoginUnavailable() from exc


def _split_refresh(raw: str) -> tuple[uuid.UUID, bytes] | None:
    token_id, _, secret = raw.partition(".")
    try:
        return uuid.UUID(hex=token_id), refresh_token_hash(secret)
    except ValueError:
        return None


@dataclass(frozen=True)
class RefreshOutcome:
    tokens: IssuedTokens | None
    reused: bool


async def rotate_refresh_token(
    session: AsyncSession, *, settings: Settings, redis: Redis, raw: str, now: datetime
) -> RefreshOutcome:
    """Exchange a refresh token for a new pair. A replayed token revokes its whole family.

    Returns the outcome instead of raising on reuse: the caller must commit the revocation
    before answering 401, or the rollback of the error path would undo it.
    """
    parsed = _split_refresh(raw)
    if parsed is None:
        raise RefreshTokenInvalid()
    token_id, token_hash = parsed
    repo = RefreshTokenRepository(session)
    consumed = await repo.mark_used(token_id, token_hash, now)
    if consumed is not None:
        tokens = await _issue_tokens(
            session,
            settings=settings,
            user_id=consumed.user_id,
            family_id=consumed.family_id,
            now=now,
        )
        return RefreshOutcome(tokens, reused=False)
    known = await repo.get(token_id, token_hash)
    if known is None or known.expires_at <= now:
        raise RefreshTokenInvalid()
    await _revoke_family(session, settings, redis, known.family_id, now)
    return RefreshOutcome(None, reused=True)


async def _revoke_family(
    session: AsyncSession, settings: Settings, redis: Redis, family_id: uuid.UUID, now: datetime
) -> None:
    """The family's refresh tokens (database) and its access tokens (deny-list) alike."""
    await RefreshTokenRepository(session).revoke_family(family_id, now)
    try:
        await revocation.revoke_families(redis, settings, {family_id})
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise LoginUnavailable() from exc


async def revoke_refresh_token(
    session: AsyncSession, *, settings: Settings, redis: Redis, raw: str, now: datetime
) -> None:
    parsed = _split_refresh(raw)
    if parsed is None:
        return
    known = await RefreshTokenRepository(session).get(*parsed)
    if known is not None:
        await _revoke_family(session, settings, redis, known.family_id, now)
