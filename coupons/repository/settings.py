"""The merchant's coupon settings (the reversal window)."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coupons.models import CouponSettings


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
