"""The counter's lean statements: look a coupon up with its campaign and the clerk's rights,
read its status or live redemption again after a lost race, and redeem it.

Each statement is built once with bind parameters and compiled once for the driver
(core.lean.Statement, cached); they run on the transaction's psycopg connection, not the ORM
session. The redeem is one statement: the conditional UPDATE of the coupon's status (still
`active`, inside its window) feeds the redemption INSERT, so of concurrent attempts exactly
one writes a row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.types import Uuid

from core.ids import new_id
from core.lean import Connection, RoleSql, ShopSql, Statement
from coupons.models import Campaign, Coupon, Redemption
from coupons.repository.rows import CAMPAIGN, COUPON, RedemptionRow

# The counter's statements are built once with bind parameters and compiled once for the
# driver (core.lean.Statement): building, cache-keying and ORM-loading them per request cost
# more CPU than running them. They run on the transaction's psycopg connection.


@cache
def _counter_statement(staff_role: RoleSql, shop_owned: ShopSql) -> Statement:
    return Statement(
        select(
            *COUPON.columns,
            *CAMPAIGN.columns,
            staff_role(Coupon.__table__.c.merchant_id, bindparam("staff_user_id", type_=Uuid)),
            shop_owned(Coupon.__table__.c.merchant_id, bindparam("shop_id", type_=Uuid)),
        )
        .select_from(Coupon.__table__.join(Campaign.__table__, Campaign.id == Coupon.campaign_id))
        .where(Coupon.__table__.c.code == bindparam("code", type_=Coupon.code.type))
    )


async def counter_lookup(
    connection: Connection,
    code: str,
    *,
    staff_user_id: uuid.UUID,
    shop_id: uuid.UUID,
    staff_role: RoleSql,
    shop_owned: ShopSql,
) -> tuple[Coupon, Campaign, str | None, bool] | None:
    """The coupon with its campaign (detached objects, never flushed), the caller's role at
    the coupon's merchant and whether the counter's shop is that merchant's, in one statement
    (the counter's hot path). `staff_role` and `shop_owned` build those SQL expressions (from
    the accounts and merchants services) over the coupon's merchant id and a bind parameter."""
    statement = _counter_statement(staff_role, shop_owned)
    params = {"code": code, "staff_user_id": staff_user_id, "shop_id": shop_id}
    row = await statement.one(connection, params)
    if row is None:
        return None
    split = len(COUPON.keys)
    end = split + len(CAMPAIGN.keys)
    coupon: Coupon = COUPON.build(row[:split])
    campaign: Campaign = CAMPAIGN.build(row[split:end])
    return coupon, campaign, row[end], bool(row[end + 1])


@cache
def _status_statement() -> Statement:
    c = Coupon.__table__.c
    return Statement(select(c.status).where(c.id == bindparam("coupon_id", type_=Uuid)))


async def coupon_status(connection: Connection, coupon_id: uuid.UUID) -> str | None:
    """The coupon's status now (read again after losing a race)."""
    row = await _status_statement().one(connection, {"coupon_id": coupon_id})
    return row[0] if row else None


@cache
def _live_redemption_statement() -> Statement:
    r = Redemption.__table__.c
    return Statement(
        select(r.id, r.shop_id, r.redeemed_at).where(
            r.coupon_id == bindparam("coupon_id", type_=Uuid), r.reversed_at.is_(None)
        )
    )


async def live_redemption(
    connection: Connection, coupon_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID | None, datetime] | None:
    """The coupon's redemption that was not reversed: (id, shop id, redeemed at), or None."""
    row = await _live_redemption_statement().one(connection, {"coupon_id": coupon_id})
    return (row[0], row[1], row[2]) if row else None


@cache
def _redeem() -> Statement:
    return Statement(_redeem_statement())


async def redeem(
    connection: Connection,
    coupon_id: uuid.UUID,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID,
    staff_user_id: uuid.UUID,
    order_amount: int | None,
    discount_amount: int,
    currency: str,
    now: datetime,
) -> RedemptionRow | None:
    """One statement: the coupon leaves `active` (if it still is, and is inside its window)
    and the redemption row is written. None: someone else got there first (or the window
    closed); a concurrent loser waits for the winner's commit, then finds no active row."""
    params = {
        "p_coupon_id": coupon_id,
        "p_merchant_id": merchant_id,
        "p_now": now,
        "p_redemption_id": new_id(),
        "p_shop_id": shop_id,
        "p_staff_user_id": staff_user_id,
        "p_order_amount": order_amount,
        "p_discount_amount": discount_amount,
        "p_currency": currency,
    }
    row = await _redeem().one(connection, params)
    return RedemptionRow(row[0], row[1]) if row else None


@cache
def _redeem_statement() -> Any:
    c = Coupon.__table__.c
    now = bindparam("p_now", type_=c.redeemed_at.type)
    # Core tables, not ORM entities (an ORM insert executed with a parameter dict would be
    # taken for a bulk insert); parameters prefixed so none is taken for a SET column
    taken = (
        update(Coupon.__table__)  # type: ignore[arg-type]
        .where(
            c.id == bindparam("p_coupon_id", type_=Uuid),
            c.merchant_id == bindparam("p_merchant_id", type_=Uuid),
            c.status == "active",
            c.valid_from <= now,
            c.valid_until > now,
        )
        .values(status="redeemed", redeemed_at=now)
        .returning(c.id, c.campaign_id, c.user_id)
        .cte("taken")
    )
    source = select(
        bindparam("p_redemption_id", type_=Uuid),
        bindparam("p_merchant_id", type_=Uuid),
        taken.c.id,
        taken.c.campaign_id,
        bindparam("p_shop_id", type_=Uuid),
        bindparam("p_staff_user_id", type_=Uuid),
        taken.c.user_id,
        bindparam("p_order_amount", type_=Redemption.order_amount.type),
        bindparam("p_discount_amount", type_=Redemption.discount_amount.type),
        bindparam("p_currency", type_=Redemption.currency.type),
        bindparam("p_now", type_=Redemption.redeemed_at.type),
    )
    return (
        insert(Redemption.__table__)  # type: ignore[arg-type]
        .from_select(
            [
                "id",
                "merchant_id",
                "coupon_id",
                "campaign_id",
                "shop_id",
                "staff_user_id",
                "user_id",
                "order_amount",
                "discount_amount",
                "currency",
                "redeemed_at",
            ],
            source,
        )
        .returning(Redemption.__table__.c.id, Redemption.__table__.c.redeemed_at)
    )
