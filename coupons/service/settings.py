"""The merchant's coupon settings (the reversal window); a merchant without a row has the
default (24 hours)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from coupons import schemas
from coupons.repository.settings import SettingsRepository

DEFAULT_REVERSAL_WINDOW_MINUTES = 24 * 60


async def get_settings(session: AsyncSession, *, merchant_id: uuid.UUID) -> schemas.CouponSettings:
    row = await SettingsRepository(session).get(merchant_id)
    return schemas.CouponSettings(
        reversal_window_minutes=row.reversal_window_minutes
        if row is not None
        else DEFAULT_REVERSAL_WINDOW_MINUTES
    )


async def put_settings(
    session: AsyncSession, *, merchant_id: uuid.UUID, data: schemas.CouponSettings
) -> schemas.CouponSettings:
    await SettingsRepository(session).put(
        merchant_id, reversal_window_minutes=data.reversal_window_minutes
    )
    return data
