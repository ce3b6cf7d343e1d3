"""Coupons: the claim insert, the wallet, paper sheets and order reservations.

A code is unique: an insert whose code is taken is skipped (`ON CONFLICT DO NOTHING`) and the
caller retries it with a new code. Reservations move a coupon `active → reserved → redeemed`
(or back to `active`) with conditional UPDATEs, one statement each; the redemption of a
reserved coupon is written in the same statement as its status change.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.bulk import row_batches
from core.ids import new_id
from core.lean import Statement, driver_connection
from coupons.models import Campaign, Coupon, Redemption
from coupons.repository.rows import COUPON, RedemptionRow

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
        .returning(*COUPON.columns)
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
            return [COUPON.build(found)] if found is not None else []  # detached
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
