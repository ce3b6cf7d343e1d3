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

from sqlalchemy import String, bindparam, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.ids import new_id
from core.lean import Connection, Statement
from coupons.models import Campaign, Coupon, Redemption
from coupons.repository.rows import COUPON, RedemptionRow


@cache
def _insert_statement() -> Statement:
    """New coupons of one campaign, one per (id, user, code) of the parameter arrays; a code
    already taken is skipped. One statement for a claim's coupon and a bulk issue's thousands
    (arrays are single parameters: no batching under the bind-parameter limit)."""
    c = Coupon.__table__.c
    new = (
        func.unnest(
            bindparam("ids", type_=ARRAY(Uuid())),
            bindparam("user_ids", type_=ARRAY(Uuid())),
            bindparam("codes", type_=ARRAY(String())),
        )
        .table_valued("id", "user_id", "code")
        .render_derived(name="new")
    )
    return Statement(
        insert(Coupon.__table__)  # type: ignore[arg-type]
        .from_select(
            [
                "id",
                "merchant_id",
                "campaign_id",
                "user_id",
                "code",
                "status",
                "source",
                "valid_from",
                "valid_until",
                "issued_at",
            ],
            select(
                new.c.id,
                bindparam("merchant_id", type_=Uuid),
                bindparam("campaign_id", type_=Uuid),
                new.c.user_id,
                new.c.code,
                literal("active"),
                bindparam("source", type_=c.source.type),
                bindparam("valid_from", type_=c.valid_from.type),
                bindparam("valid_until", type_=c.valid_until.type),
                bindparam("issued_at", type_=c.issued_at.type),
            ),
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(*COUPON.columns)
    )


async def insert_coupons(
    connection: Connection,
    campaign: Campaign,
    holders: list[tuple[uuid.UUID | None, str]],
    *,
    source: str,
    now: datetime,
) -> list[Coupon]:
    """The campaign's coupons for these (holder, code) pairs whose code is free (read-only
    views, `Detached.view`); a colliding code is skipped, the caller retries it with a new
    code."""
    params = {
        "ids": [new_id() for _ in holders],
        "user_ids": [holder for holder, _ in holders],
        "codes": [code for _, code in holders],
        "merchant_id": campaign.merchant_id,
        "campaign_id": campaign.id,
        "source": source,
        "valid_from": campaign.valid_from,
        "valid_until": campaign.valid_until,
        "issued_at": now,
    }
    return [COUPON.view(row) for row in await _insert_statement().all(connection, params)]


class CouponRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
