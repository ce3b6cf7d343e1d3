"""Redemptions: lookups and reversals."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coupons.models import Redemption


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
class RedemptionDayLine:
    """Redemptions (or reversals) of one staff member in a window, in one currency."""

    staff_user_id: uuid.UUID | None
    currency: str
    count: int
    discount: int
    order_amount: int


async def redemption_lines(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID | None,
    start: datetime,
    end: datetime,
    reversals: bool,
) -> list[RedemptionDayLine]:
    """Redemptions made in [start, end) by staff member, or (`reversals`) those reversed in it
    by whoever reversed them; the merchant's, or one shop's."""
    at = Redemption.reversed_at if reversals else Redemption.redeemed_at
    who = Redemption.reversed_by if reversals else Redemption.staff_user_id
    stmt = (
        select(
            who,
            Redemption.currency,
            func.count(),
            func.coalesce(func.sum(Redemption.discount_amount), 0),
            func.coalesce(func.sum(Redemption.order_amount), 0),
        )
        .where(Redemption.merchant_id == merchant_id, at >= start, at < end)
        .group_by(who, Redemption.currency)
    )
    if shop_id is not None:
        stmt = stmt.where(Redemption.shop_id == shop_id)
    return [
        RedemptionDayLine(r[0], r[1], int(r[2]), int(r[3]), int(r[4] or 0))
        for r in await session.execute(stmt)
    ]
