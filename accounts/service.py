"""Account rules: registration, sign-in with rate limits, refresh rotation, merchants, staff."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from accounts import schemas, sms_codes
from accounts.models import Merchant, RefreshToken, StaffInvitation, User
from accounts.repository import (
    InvitationRepository,
    MerchantRepository,
    RefreshTokenRepository,
    UserRepository,
    role_expression,
)
from accounts.security import (
    burn_verification,
    create_access_token,
    hash_secret,
    new_refresh_secret,
    refresh_token_hash,
    verify_secret,
)
from core import ratelimit, sms
from core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
)
from core.ids import new_id
from core.settings import Settings


class UserExists(Conflict):
    code, title = "user_exists", "A user with this phone or email already exists"
    title_zh = "该手机号或邮箱已注册"


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Wrong username or password"
    title_zh = "账号或密码错误"


class RefreshTokenInvalid(Unauthorized):
    code, title = "refresh_token_invalid", "The refresh token is invalid"
    title_zh = "刷新令牌无效"


class RefreshTokenReused(Unauthorized):
    code, title = "refresh_token_reused", "The refresh token was already used"
    title_zh = "刷新令牌已被使用，该登录已被注销"


class MerchantNotFound(NotFound):
    code, title = "merchant_not_found", "Merchant not found"
    title_zh = "商户不存在"


class UserNotFound(NotFound):
    code, title = "user_not_found", "User not found"
    title_zh = "用户不存在"


class StaffExists(Conflict):
    code, title = "staff_exists", "This user is already staff of the merchant"
    title_zh = "该用户已是员工"


class StaffInvitationNotFound(NotFound):
    code, title = "staff_invitation_not_found", "Staff invitation not found"
    title_zh = "员工邀请不存在"


class LoginUnavailable(DomainError):
    # Rate limits fail closed for login: without Redis we cannot count guesses
    status, code, title = 503, "service_unavailable", "Sign-in is temporarily unavailable"
    title_zh = "登录服务暂时不可用"


# an invitation not answered within a week lapses; the inviter can invite again
INVITATION_TTL = timedelta(days=7)

# -- users --------------------------------------------------------------------------------

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
        access_token=create_access_token(settings, user_id, now),
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
        raise InvalidInput("The username or password is too long", loc=["body", "username"])
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


# -- sign-in by SMS code ---------------------------------------------------------------------

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
            )
        except UserExists:  # a concurrent first sign-in of the same phone made it
            user = await repo.by_login(phone=phone, email=None)
    if user is None or not user.is_active:
        raise sms_codes.SmsCodeInvalid()
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
    await RefreshTokenRepository(session).revoke_user(user.id, now)
    try:  # the owner proved the phone: earlier wrong passwords no longer lock them out
        await ratelimit.reset(redis, f"login:fail:{phone}")
    except (RedisConnectionError, RedisTimeoutError):
        pass


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
    session: AsyncSession, *, settings: Settings, raw: str, now: datetime
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
    await repo.revoke_family(known.family_id, now)
    return RefreshOutcome(None, reused=True)


async def revoke_refresh_token(session: AsyncSession, *, raw: str, now: datetime) -> None:
    parsed = _split_refresh(raw)
    if parsed is None:
        return
    repo = RefreshTokenRepository(session)
    known = await repo.get(*parsed)
    if known is not None:
        await repo.revoke_family(known.family_id, now)


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


# -- merchants and staff --------------------------------------------------------------------


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
        raise Forbidden(f"A {granter_role} cannot grant the role {data.role}")
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
