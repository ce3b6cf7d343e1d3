"""Coupons: the per-user claim counter, codes, the wallet, paper sheets, and the counter's
redeem and order-reservation statements.

The guards are single statements: a conditional upsert of the per-user counter, and a
conditional UPDATE of the coupon's status feeding the redemption INSERT in the same statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.bulk import row_batches
from core.ids import new_id
from core.lean import Connection, Detached, RoleSql, ShopSql, Statement, driver_connection
from coupons.models import Campaign, ClaimCounter, Coupon, Redemption


class ClaimCounterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def increment(self, campaign_id: uuid.UUID, user_id: uuid.UUID, *, limit: int) -> bool:
        """+1 unless the user is at `limit`; a concurrent twin waits on the row and re-checks."""
        base = insert(ClaimCounter).values(campaign_id=campaign_id, user_id=user_id, count=1)
        stmt = base.on_conflict_do_update(
            index_elements=[ClaimCounter.campaign_id, ClaimCounter.user_id],
            set_={"count": ClaimCounter.count + 1},
            where=ClaimCounter.count < limit,
        ).returning(ClaimCounter.user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def increment_many(
        self, campaign_id: uuid.UUID, user_ids: Sequence[uuid.UUID], *, limit: int
    ) -> list[uuid.UUID]:
        """+1 for each user below the limit; returns those counted (sorted: a fixed lock order
        keeps concurrent bulk issues from deadlocking)."""
        if not user_ids:
            return []
        users = select(
            func.unnest(cast(sorted(set(user_ids)), ARRAY(Uuid))).label("user_id")
        ).subquery("users")
        source = select(
            literal(campaign_id, Uuid).label("campaign_id"), users.c.user_id, literal(1)
        )
        base = insert(ClaimCounter).from_select(
            ["campaign_id", "user_id", "count"], source.order_by(users.c.user_id)
        )
        stmt = base.on_conflict_do_update(
            index_elements=[ClaimCounter.campaign_id, ClaimCounter.user_id],
            set_={"count": ClaimCounter.count + 1},
            where=ClaimCounter.count < limit,
        ).returning(ClaimCounter.user_id)
        return sorted((await self.session.execute(stmt)).scalars())

    async def decrement_many(self, campaign_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> None:
        if not user_ids:
            return
        await self.session.execute(
            update(ClaimCounter)
            .where(ClaimCounter.campaign_id == campaign_id, ClaimCounter.user_id.in_(user_ids))
            .values(count=ClaimCounter.count - 1)
        )


@dataclass(frozen=True)
class RedemptionRow:
    id: uuid.UUID
    redeemed_at: datetime


# The counter's statements are built once with bind parameters and compiled once for the
# driver (core.lean.Statement): building, cache-keying and ORM-loading them per request cost
# more CPU than running them. They run on the transaction's psycopg connection.
_COUPON = Detached(Coupon)
_CAMPAIGN = Detached(Campaign)


@cache
def _counter_statement(staff_role: RoleSql, shop_owned: ShopSql) -> Statement:
    return Statement(
        select(
            *_COUPON.columns,
            *_CAMPAIGN.columns,
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
    split = len(_COUPON.keys)
    end = split + len(_CAMPAIGN.keys)
    coupon: Coupon = _COUPON.build(row[:split])
    campaign: Campaign = _CAMPAIGN.build(row[split:end])
    return coupon, campaign, row[end], bool(row[end + 1])


# the columns a new coupon's row gives (coupons.service.claim._insert_coupons); every other
# column has a server default or is empty
_NEW_COUPON_KEYS = ("id", "merchant_id", "campaign_id", "user_id", "code", "status", "source",
                    "valid_from", "valid_until", "issued_at")  # fmt: skip


@cache
def _insert_one() -> Statement:
    c = Coupon.__table__.c
    values = {key: bindparam(f"p_{key}", type_=c[key].type) for key in _NEW_COUPON_KEYS}
    return Statement(
        insert(Coupon.__table__)  # type: ignore[arg-type]
        .values(values)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(*_COUPON.columns)
    )


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


class CouponRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_many(self, rows: list[dict[str, Any]]) -> list[Coupon]:
        """Insert coupons whose code is free; returns those inserted (a colliding code is
        skipped, the caller retries it with a new code)."""
        if len(rows) == 1:  # a claim: one prepared statement on the session's connection
            connection = await driver_connection(self.session)
            params = {f"p_{key}": value for key, value in rows[0].items()}
            found = await _insert_one().one(connection, params)
            return [_COUPON.build(found)] if found is not None else []  # detached
        inserted: list[Coupon] = []
        for batch in row_batches(rows):  # under the bind-parameter limit (core.bulk)
            stmt = (
                insert(Coupon)
                .values(list(batch))
                .on_conflict_do_nothing(index_elements=[Coupon.code])
                .returning(Coupon)
            )
            inserted.extend((await self.session.execute(stmt)).scalars())
        return inserted

    async def by_code(self, code: str) -> tuple[Coupon, Campaign] | None:
        return await self._with_campaign(Coupon.code == code)

    async def get(self, coupon_id: uuid.UUID) -> tuple[Coupon, Campaign] | None:
        return await self._with_campaign(Coupon.id == coupon_id)

    async def _with_campaign(self, where: Any) -> tuple[Coupon, Campaign] | None:
        """The coupon matching `where` with its campaign, freshly read (not the identity map's
        copy: callers re-check status after a race)."""
        stmt = (
            select(Coupon, Campaign)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(where)
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], row[1]) if row else None

    async def wallet(
        self,
        user_id: uuid.UUID,
        *,
        status: str | None,
        now: datetime,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[tuple[Coupon, Campaign]]:
        stmt = (
            select(Coupon, Campaign)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(Coupon.user_id == user_id)
        )
        if status == "active":
            stmt = stmt.where(Coupon.status == "active", Coupon.valid_until > now)
        elif status == "expired":
            stmt = stmt.where(Coupon.status == "active", Coupon.valid_until <= now)
        elif status == "redeemed":
            stmt = stmt.where(Coupon.status == "redeemed")
        if after is not None:
            stmt = stmt.where(tuple_(Coupon.issued_at, Coupon.id) < tuple_(*after))
        stmt = stmt.order_by(Coupon.issued_at.desc(), Coupon.id.desc()).limit(limit + 1)
        return [(c, p) for c, p in (await self.session.execute(stmt)).all()]

    async def held_counts(
        self, user_id: uuid.UUID, campaign_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """How many coupons of each campaign the user holds (any status)."""
        if not campaign_ids:
            return {}
        stmt = (
            select(Coupon.campaign_id, func.count())
            .where(Coupon.user_id == user_id, Coupon.campaign_id.in_(campaign_ids))
            .group_by(Coupon.campaign_id)
        )
        return {c: int(n) for c, n in (await self.session.execute(stmt)).all()}

    async def usable_at(
        self, user_id: uuid.UUID, *, merchant_id: uuid.UUID, shop_id: uuid.UUID, now: datetime
    ) -> list[tuple[Coupon, Campaign]]:
        """The holder's coupons a clerk at `shop_id` (of `merchant_id`) would accept now,
        leaving the minimum spend aside: the redeem rules' status, window and shop tests."""
        stmt = (
            select(Coupon, Campaign)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(
                Coupon.user_id == user_id,
                Coupon.merchant_id == merchant_id,
                Coupon.status == "active",
                Coupon.valid_from <= now,
                Coupon.valid_until > now,
                or_(Campaign.shop_ids.is_(None), literal(shop_id) == func.any(Campaign.shop_ids)),
            )
        )
        return [(c, p) for c, p in (await self.session.execute(stmt)).all()]

    async def paper_coupons(
        self, campaign_id: uuid.UUID, *, start: int, count: int
    ) -> list[Coupon]:
        stmt = (
            select(Coupon)
            .where(Coupon.campaign_id == campaign_id, Coupon.source == "paper")
            .order_by(Coupon.issued_at, Coupon.id)
            .offset(start)
            .limit(count)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def count_paper(self, campaign_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            Coupon.campaign_id == campaign_id, Coupon.source == "paper"
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def reserve(
        self, coupon_id: uuid.UUID, *, user_id: uuid.UUID, order_id: uuid.UUID, now: datetime
    ) -> bool:
        """active → reserved for the order, if it still is the holder's, active and valid."""
        stmt = (
            update(Coupon)
            .where(
                Coupon.id == coupon_id,
                Coupon.user_id == user_id,
                Coupon.status == "active",
                Coupon.valid_from <= now,
                Coupon.valid_until > now,
            )
            .values(status="reserved", reserved_for=order_id, reserved_at=now)
            .returning(Coupon.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def release(self, coupon_id: uuid.UUID, *, order_id: uuid.UUID) -> bool:
        stmt = (
            update(Coupon)
            .where(
                Coupon.id == coupon_id,
                Coupon.status == "reserved",
                Coupon.reserved_for == order_id,
            )
            .values(status="active", reserved_for=None, reserved_at=None)
            .returning(Coupon.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def redeem_reserved(
        self,
        coupon_id: uuid.UUID,
        *,
        order_id: uuid.UUID,
        shop_id: uuid.UUID,
        order_amount: int,
        discount_amount: int,
        currency: str,
        now: datetime,
    ) -> RedemptionRow | None:
        """reserved (for this order) → redeemed, and the redemption row, in one statement."""
        taken = (
            update(Coupon)
            .where(
                Coupon.id == coupon_id,
                Coupon.status == "reserved",
                Coupon.reserved_for == order_id,
            )
            .values(status="redeemed", redeemed_at=now, reserved_for=None, reserved_at=None)
            .returning(Coupon.id, Coupon.merchant_id, Coupon.campaign_id, Coupon.user_id)
            .cte("taken")
        )
        source = select(
            literal(new_id(), Uuid),
            taken.c.merchant_id,
            taken.c.id,
            taken.c.campaign_id,
            literal(shop_id, Uuid),
            taken.c.user_id,
            literal(order_amount, Redemption.order_amount.type),
            literal(discount_amount, Redemption.discount_amount.type),
            literal(currency, Redemption.currency.type),
            literal(now, Redemption.redeemed_at.type),
            literal(order_id, Uuid),
        )
        stmt = (
            insert(Redemption)
            .from_select(
                [
                    "id",
                    "merchant_id",
                    "coupon_id",
                    "campaign_id",
                    "shop_id",
                    "user_id",
                    "order_amount",
                    "discount_amount",
                    "currency",
                    "redeemed_at",
                    "order_id",
                ],
                source,
            )
            .returning(Redemption.id, Redemption.redeemed_at)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return RedemptionRow(row[0], row[1]) if row else None

    async def reactivate(self, coupon_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.status == "redeemed")
            .values(status="active", redeemed_at=None)
        )

    async def extend_validity(
        self, campaign_id: uuid.UUID, old_until: datetime, new_until: datetime
    ) -> int:
        """Held coupons that ran to the campaign's end run to its new end (a coupon whose
        own validity was set apart, e.g. shorter, keeps it). Redeemed ones are history."""
        result = await self.session.execute(
            update(Coupon)
            .where(
                Coupon.campaign_id == campaign_id,
                Coupon.valid_until == old_until,
                Coupon.status != "redeemed",
            )
            .values(valid_until=new_until)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
