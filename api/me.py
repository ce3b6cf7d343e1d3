"""The caller's own data, under the personal-information law of this market (SPEC §11):
`GET /v1/me/export` (everything held, one JSON document) and `DELETE /v1/me` (erasure).

Both span every package, so they live here, above them all. Deletion runs in the request's
one transaction: the holder's proof, the stored-value check (409 `balance_remaining` with
the cards unless `forfeit_balance`), the forfeit entries in the ledger, and every package's
erasure commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from accounts import service as accounts
from accounts.permissions import CurrentUser, SettingsDep
from core.clientip import ClientIp
from core.database import SessionDep
from core.errors import Conflict
from core.i18n import localised
from core.redis import RedisDep
from core.timezones import utcnow
from coupons import service as coupons
from customers import service as customers
from memberships import service as memberships
from merchants import service as merchants
from orders import service as orders
from push import service as push

router = APIRouter(prefix="/v1", tags=["accounts"])


class BalanceRemaining(Conflict):
    code, title = "balance_remaining", "Your cards still hold stored value"
    title_zh = "您的会员卡仍有余额"


class AccountExport(BaseModel):
    """Everything Corner holds about the caller: each key a table, each row as stored (secrets
    such as password and PIN hashes left out)."""

    generated_at: str
    data: dict[str, list[dict[str, Any]]]


class AccountDeletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, max_length=128)
    code: str | None = Field(
        default=None, max_length=16, description="An SMS code (purpose delete or login)"
    )
    forfeit_balance: bool = Field(
        default=False, description="Give up the stored value left on cards"
    )

    @model_validator(mode="after")
    def _one_proof(self) -> AccountDeletion:
        if (self.password is None) == (self.code is None):
            raise ValueError("give exactly one of password or code")
        return self


@router.get("/me/export", response_model=AccountExport, operation_id="me_export")
async def export_me(principal: CurrentUser, session: SessionDep) -> AccountExport:
    user_id = principal.user_id
    await accounts.get_user(session, user_id=user_id)  # an erased account has nothing to give
    data: dict[str, list[dict[str, Any]]] = {}
    data |= await accounts.export_account(session, user_id=user_id)
    data |= await customers.export_personal_data(session, user_id=user_id)
    data |= await merchants.export_personal_data(session, user_id=user_id)
    data |= await coupons.export_personal_data(session, user_id=user_id)
    data |= await memberships.export_personal_data(session, user_id=user_id)
    data |= await orders.export_personal_data(session, user_id=user_id)
    data |= await push.export_personal_data(session, user_id=user_id)
    return AccountExport(generated_at=utcnow().isoformat(), data=data)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, operation_id="me_delete")
async def delete_me(
    data: AccountDeletion,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    redis: RedisDep,
    ip: ClientIp,
) -> Response:
    """Erase the caller's personal data (phone, name, devices, locations, subscriptions;
    customer records at every merchant anonymised); orders, ledgers and redemptions stay
    under a pseudonym. 409 `balance_remaining` (with the cards) while a card holds stored
    value, unless `forfeit_balance` is true; 409 `sole_owner` (with the merchants) while the
    caller is the only owner of a merchant (invite another owner first). Every access token
    of the caller is refused from then on (401)."""
    user = await accounts.confirm_deletion(
        session,
        settings=settings,
        redis=redis,
        user_id=principal.user_id,
        password=data.password,
        code=data.code,
        client_ip=ip,
    )
    if not data.forfeit_balance:
        cards = await memberships.stored_value(session, user_id=user.id)
        if cards:
            raise BalanceRemaining(
                localised(
                    "会员卡仍有余额：请先用完，或确认放弃余额后再注销",
                    "Your cards still hold stored value: spend it, or confirm giving it up",
                ),
                extra={"cards": cards},
            )
    else:
        await memberships.forfeit_stored_value(session, user_id=user.id)
    await customers.erase_personal_data(session, user_id=user.id)
    await orders.erase_personal_data(session, user_id=user.id)
    await push.erase_personal_data(session, user_id=user.id)
    await accounts.erase_account(session, settings=settings, redis=redis, user=user, now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
