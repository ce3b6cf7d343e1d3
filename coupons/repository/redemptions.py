"""Redemptions: lookups and reversals."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coupons.models import Redemption


class RedemptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, redemption_id: uuid.UUID) -> Redemption | None:
        return await self.session.get(Redemption, redemption_id, populate_existing=True)

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
