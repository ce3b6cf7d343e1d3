"""The account itself in a person's export, and its erasure (SPEC §11 `DELETE /v1/me`).

Erasure keeps the row (orders, ledgers and redemptions point at it) under a pseudonym: no
phone, an email address that names nobody (`deleted-<id>@deleted.invalid`, because an
account needs a login column), the display name `已注销用户`, no password, inactive. Refresh
tokens, staff roles and staff invitations go. Every access token of the user is denied from
the deletion on (accounts/revocation.py, `revoked:user:<id>`): each later request
with one is 401. The sole owner of a merchant cannot leave it ownerless: deletion is refused
(409 `sole_owner`, naming the merchants) until another owner is added (invite one with role
`owner`, they accept), and concurrent deletions of a merchant's last two owners are
serialised on their staff rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import revocation, sms_codes
from accounts.models import RefreshToken, StaffInvitation, StaffMembership, User
from accounts.repository import PersonalDataRepository
from accounts.security import burn_verification, verify_secret
from accounts.service.errors import DeletionUnavailable, InvalidCredentials, SoleOwner
from accounts.service.signin import NO_PASSWORD
from accounts.service.users import get_user
from core.export import export_tables
from core.i18n import localised
from core.settings import Settings

ERASED_NAME = "已注销用户"


def erased_email(user_id: uuid.UUID) -> str:
    return f"deleted-{user_id.hex}@deleted.invalid"


async def export_account(
    session: AsyncSession, *, user_id: uuid.UUID
) -> dict[str, list[dict[str, Any]]]:
    return await export_tables(
        session,
        {
            "account": (User, User.id == user_id, ("password_hash",)),
            "staff_roles": (StaffMembership, StaffMembership.user_id == user_id, ()),
            "sessions": (RefreshToken, RefreshToken.user_id == user_id, ("token_hash",)),
            "staff_invitations": (
                StaffInvitation,
                StaffInvitation.invitee_user_id == user_id,
                (),
            ),
        },
    )


async def confirm_deletion(
    session: AsyncSession,
    *,
    settings: Settings,
    redis: Redis,
    user_id: uuid.UUID,
    password: str | None,
    code: str | None,
    client_ip: str,
) -> User:
    """The holder proves it is them: their password, or a code sent to their phone (purpose
    `delete`, or a `login` code). 401 `invalid_credentials` / 400 `sms_code_invalid`."""
    user = await get_user(session, user_id=user_id)
    owned = await PersonalDataRepository(session).lock_owned_merchants(user_id)
    sole = [(mid, row[0]) for mid, row in owned.items() if row[1:] == [user_id]]
    if sole:  # before the proof, so an SMS code is not spent on a refusal
        raise SoleOwner(
            localised(
                "请先为这些商户添加其他所有者，再注销账号",
                "Add another owner to these merchants before deleting your account",
            ),
            extra={"merchants": [{"merchant_id": str(m), "name": n} for m, n in sole]},
        )
    if code is not None:
        if user.phone is None:
            raise sms_codes.SmsCodeInvalid()
        await sms_codes.consume_code(
            redis,
            settings,
            purposes=("delete", "login"),
            phone=user.phone,
            code=code,
            client_ip=client_ip,
        )
        return user
    if password is None or user.password_hash == NO_PASSWORD:
        await burn_verification(settings)
        raise InvalidCredentials()
    if not await verify_secret(settings, user.password_hash, password):
        raise InvalidCredentials()
    return user


async def erase_account(
    session: AsyncSession, *, settings: Settings, redis: Redis, user: User, now: datetime
) -> None:
    await PersonalDataRepository(session).erase(
        user.id,
        phone=user.phone,
        email=erased_email(user.id),
        display_name=ERASED_NAME,
        password_hash=NO_PASSWORD,
    )
    try:  # before the commit: without the deny-list entry nothing is erased (503, retry)
        await revocation.revoke_user(redis, settings, user.id)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise DeletionUnavailable() from exc
