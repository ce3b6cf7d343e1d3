"""Every query of the coupons package.

The guards are single statements: a conditional UPDATE of the campaign's `handed_out` counter,
a conditional upsert of the per-user counter, and a conditional UPDATE of the coupon's status
feeding the redemption INSERT in the same statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    bindparam,
    cast,
    exists,
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

from core.ids import new_id
from coupons.models import Campaign, ClaimCounter, Coupon, CouponSettings, Redemption


def claim_deadline_open(now: Any) -> ColumnElement[bool]:
    """Campaign rows that can hand out a coupon at `now` (ignoring audience)."""
    return and_(
        Campaign.status == "published",
        Campaign.claim_until > now,
        Campaign.valid_until > now,
        or_(Campaign.total_quantity.is_(None), Campaign.handed_out < Campaign.total_quantity),
    )


def claimable_offer_exists(
    shop_id: ColumnElement[Any], merchant_id: ColumnElement[Any], now: Any
) -> ColumnElement[bool]:
    """SQL predicate for other packages' queries (nearby `has_offers`): the shop has a public
    campaign a customer can claim right now."""
    return exists(
        select(literal(1))
        .select_from(Campaign)
        .where(
            Campaign.merchant_id == merchant_id,
            Campaign.audience_kind == "public",
            claim_deadline_open(now),
            or_(Campaign.shop_ids.is_(None), shop_id == func.any(Campaign.shop_ids)),
        )
    )


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, campaign: Campaign) -> Campaign:
        self.session.add(campaign)
        await self.session.flush()
        return campaign

    async def get(self, campaign_id: uuid.UUID) -> Campaign | None:
        return await self.session.get(Campaign, campaign_id, populate_existing=True)

    async def page_of_merchant(
        self, merchant_id: uuid.UUID, status: str | None, before: uuid.UUID | None, limit: int
    ) -> list[Campaign]:
        """Newest first (ids are time-ordered UUIDv7); limit+1 rows."""
        stmt = select(Campaign).where(Campaign.merchant_id == merchant_id)
        if status is not None:
            stmt = stmt.where(Campaign.status == status)
        if before is not None:
            stmt = stmt.where(Campaign.id < before)
        stmt = stmt.order_by(Campaign.id.desc()).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())

    async def lock(self, campaign_id: uuid.UUID) -> Campaign | None:
        stmt = (
            select(Campaign)
            .where(Campaign.id == campaign_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def transition(
        self,
        campaign_id: uuid.UUID,
        *,
        allowed_from: Sequence[str],
        to: str,
        values: dict[str, Any],
    ) -> Campaign | None:
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status.in_(allowed_from))
            .values(status=to, updated_at=func.now(), **values)
            .returning(Campaign)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def take(self, campaign_id: uuid.UUID, *, count: int, now: datetime) -> int:
        """Hand out up to `count` coupons; returns how many the quantity allows (0 if none or
        the campaign cannot hand out now). The row lock is held until commit."""
        # RETURNING sees only new values, so the old counter comes from a locking CTE
        old = (
            select(Campaign.id, Campaign.handed_out)
            .where(Campaign.id == campaign_id, claim_deadline_open(now))
            .with_for_update()
            .cte("old")
        )
        granted = func.least(
            count, func.coalesce(Campaign.total_quantity - old.c.handed_out, count)
        )
        stmt = (
            update(Campaign)
            .where(Campaign.id == old.c.id)
            .values(handed_out=old.c.handed_out + granted)
            .returning(granted)
        )
        return int((await self.session.execute(stmt)).scalar_one_or_none() or 0)

    async def take_one(self, campaign_id: uuid.UUID, *, now: datetime) -> bool:
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id, claim_deadline_open(now))
            .values(handed_out=Campaign.handed_out + 1)
            .returning(Campaign.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def claimable_shop_ids(
        self, shops: Sequence[tuple[uuid.UUID, uuid.UUID]], *, now: datetime
    ) -> set[uuid.UUID]:
        if not shops:
            return set()
        pairs = (
            select(
                func.unnest(cast([s for s, _ in shops], ARRAY(Uuid))).label("shop_id"),
                func.unnest(cast([m for _, m in shops], ARRAY(Uuid))).label("merchant_id"),
            )
        ).subquery("pairs")
        stmt = select(pairs.c.shop_id).where(
            claimable_offer_exists(pairs.c.shop_id, pairs.c.merchant_id, now)
        )
        return set((await self.session.execute(stmt)).scalars())


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


RoleSql = Callable[[Any, Any], ColumnElement[Any]]
ShopSql = Callable[[Any, Any], ColumnElement[bool]]


# The counter's statements are built once with bind parameters: building and cache-keying
# them per request cost more CPU than running them.
@cache
def _counter_statement(staff_role: RoleSql, shop_owned: ShopSql) -> Any:
    return (
        select(
            Coupon,
            Campaign,
            staff_role(Coupon.merchant_id, bindparam("staff_user_id", type_=Uuid)),
            shop_owned(Coupon.merchant_id, bindparam("shop_id", type_=Uuid)),
        )
        .join(Campaign, Campaign.id == Coupon.campaign_id)
        .where(Coupon.code == bindparam("code", type_=Coupon.code.type))
        .execution_options(populate_existing=True)
    )


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
        if not rows:
            return []
        stmt = (
            insert(Coupon)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[Coupon.code])
            .returning(Coupon)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def by_code(self, code: str) -> tuple[Coupon, Campaign] | None:
        stmt = (
            select(Coupon, Campaign)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(Coupon.code == code)
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], row[1]) if row else None

    async def for_counter(
        self,
        code: str,
        *,
        staff_user_id: uuid.UUID,
        shop_id: uuid.UUID,
        staff_role: RoleSql,
        shop_owned: ShopSql,
    ) -> tuple[Coupon, Campaign, str | None, bool] | None:
        """`by_code` plus the caller's role at the coupon's merchant and whether the counter's
        shop is that merchant's, in one statement (the counter's hot path). `staff_role` and
        `shop_owned` build those SQL expressions (from the accounts and merchants services)
        over `Coupon.merchant_id` and a bind parameter."""
        stmt = _counter_statement(staff_role, shop_owned)
        params = {"code": code, "staff_user_id": staff_user_id, "shop_id": shop_id}
        row = (await self.session.execute(stmt, params)).one_or_none()
        return (row[0], row[1], row[2], bool(row[3])) if row else None

    async def get(self, coupon_id: uuid.UUID) -> tuple[Coupon, Campaign] | None:
        stmt = (
            select(Coupon, Campaign)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(Coupon.id == coupon_id)
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

    async def redeem(
        self,
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
        row = (await self.session.execute(_redeem_statement(), params)).one_or_none()
        return RedemptionRow(row[0], row[1]) if row else None

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


class RedemptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, redemption_id: uuid.UUID) -> Redemption | None:
        return await self.session.get(Redemption, redemption_id, populate_existing=True)

    async def live_of_coupon(self, coupon_id: uuid.UUID) -> Redemption | None:
        stmt = select(Redemption).where(
            Redemption.coupon_id == coupon_id, Redemption.reversed_at.is_(None)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def reverse(
        self,
        redemption_id: uuid.UUID,
        *,
        merchant_id: uuid.UUID,
        by: uuid.UUID,
        reason: str | None,
        now: datetime,
        not_before: datetime,
    ) -> Redemption | None:
        stmt = (
            update(Redemption)
            .where(
                Redemption.id == redemption_id,
                Redemption.merchant_id == merchant_id,
                Redemption.reversed_at.is_(None),
                Redemption.redeemed_at >= not_before,
            )
            .values(reversed_at=now, reversed_by=by, reversal_reason=reason)
            .returning(Redemption)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def reverse_of_order(
        self, redemption_id: uuid.UUID, *, order_id: uuid.UUID, by: uuid.UUID | None, now: datetime
    ) -> Redemption | None:
        stmt = (
            update(Redemption)
            .where(
                Redemption.id == redemption_id,
                Redemption.order_id == order_id,
                Redemption.reversed_at.is_(None),
            )
            .values(reversed_at=now, reversed_by=by, reversal_reason="order refunded")
            .returning(Redemption)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_user_at_shop(
        self, redemption_id: uuid.UUID, *, user_id: uuid.UUID, shop_id: uuid.UUID
    ) -> Redemption | None:
        stmt = select(Redemption).where(
            Redemption.id == redemption_id,
            Redemption.user_id == user_id,
            Redemption.shop_id == shop_id,
            Redemption.reversed_at.is_(None),
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class Totals:
    issued: int
    claimed: int
    expired: int
    redeemed: int
    reversed: int


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def totals(self, campaign_id: uuid.UUID, *, now: datetime) -> Totals:
        coupons = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count().filter(Coupon.source == "claim"),
                    func.count().filter(Coupon.status == "active", Coupon.valid_until <= now),
                ).where(Coupon.campaign_id == campaign_id)
            )
        ).one()
        redemptions = (
            await self.session.execute(
                select(
                    func.count().filter(Redemption.reversed_at.is_(None)),
                    func.count().filter(Redemption.reversed_at.is_not(None)),
                ).where(Redemption.campaign_id == campaign_id)
            )
        ).one()
        return Totals(coupons[0], coupons[1], coupons[2], redemptions[0], redemptions[1])

    async def by_day(self, campaign_id: uuid.UUID, *, timezone: str) -> dict[date, list[int]]:
        """{local date: [issued, claimed, redeemed, reversed]} in the merchant's timezone."""

        def local_day(column: Any) -> Any:
            return cast(func.timezone(timezone, column), Date)

        days: dict[date, list[int]] = {}
        issued_day = local_day(Coupon.issued_at)
        for day, issued, claimed in await self.session.execute(
            select(issued_day, func.count(), func.count().filter(Coupon.source == "claim"))
            .where(Coupon.campaign_id == campaign_id)
            .group_by(issued_day)
        ):
            days.setdefault(day, [0, 0, 0, 0])[0:2] = [issued, claimed]
        redeemed_day = local_day(Redemption.redeemed_at)
        for day, redeemed in await self.session.execute(
            select(redeemed_day, func.count())
            .where(Redemption.campaign_id == campaign_id, Redemption.reversed_at.is_(None))
            .group_by(redeemed_day)
        ):
            days.setdefault(day, [0, 0, 0, 0])[2] = redeemed
        reversed_day = local_day(Redemption.reversed_at)
        for day, reversed_count in await self.session.execute(
            select(reversed_day, func.count())
            .where(Redemption.campaign_id == campaign_id, Redemption.reversed_at.is_not(None))
            .group_by(reversed_day)
        ):
            days.setdefault(day, [0, 0, 0, 0])[3] = reversed_count
        return days


class SettingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, merchant_id: uuid.UUID) -> CouponSettings | None:
        return await self.session.get(CouponSettings, merchant_id)

    async def put(self, merchant_id: uuid.UUID, *, reversal_window_minutes: int) -> None:
        stmt = insert(CouponSettings).values(
            merchant_id=merchant_id, reversal_window_minutes=reversal_window_minutes
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[CouponSettings.merchant_id],
                set_={"reversal_window_minutes": reversal_window_minutes, "updated_at": func.now()},
            )
        )
