"""What users want to hear about: categories, merchants, distance, quiet hours, channels."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from core.errors import InvalidInput
from core.i18n import localised
from core.timezones import DEFAULT_TIMEZONE
from customers import service as customers_service
from push import repository, schemas
from push.models import DEFAULT_RADIUS_M, Subscription


def _describe(sub: Subscription | None) -> schemas.Subscription:
    if sub is None:
        return schemas.Subscription(
            categories=[],
            merchant_ids=[],
            radius_m=DEFAULT_RADIUS_M,
            quiet_hours=None,
            timezone=DEFAULT_TIMEZONE,
            channels=["push"],
            opted_out=False,
            updated_at=None,
        )
    quiet = (
        schemas.QuietHours(from_=sub.quiet_from, to=sub.quiet_to)
        if sub.quiet_from is not None and sub.quiet_to is not None
        else None
    )
    return schemas.Subscription(
        categories=list(sub.categories),
        merchant_ids=list(sub.merchant_ids),
        radius_m=sub.radius_m,
        quiet_hours=quiet,
        timezone=sub.timezone,
        channels=list(sub.channels),  # type: ignore[arg-type]
        opted_out=sub.opted_out,
        updated_at=sub.updated_at,
    )


async def get_subscription(session: AsyncSession, *, user_id: uuid.UUID) -> schemas.Subscription:
    return _describe(await repository.SubscriptionRepository(session).get_subscription(user_id))


async def put_subscription(
    session: AsyncSession, *, user_id: uuid.UUID, data: schemas.SubscriptionUpdate, now: datetime
) -> schemas.Subscription:
    before = await repository.SubscriptionRepository(session).get_subscription(user_id)
    previously = set(before.merchant_ids) if before is not None else set()
    for index, merchant_id in enumerate(data.merchant_ids):
        try:
            await accounts_service.get_merchant(session, merchant_id=merchant_id)
        except accounts_service.MerchantNotFound as exc:
            raise InvalidInput(
                localised(f"商户 {merchant_id} 不存在", f"Merchant {merchant_id} does not exist"),
                loc=["body", "merchant_ids", index],
            ) from exc
    sub = await repository.SubscriptionRepository(session).put_subscription(
        {
            "user_id": user_id,
            "categories": data.categories,
            "merchant_ids": data.merchant_ids,
            "radius_m": data.radius_m,
            "quiet_from": data.quiet_hours.from_ if data.quiet_hours else None,
            "quiet_to": data.quiet_hours.to if data.quiet_hours else None,
            "timezone": data.timezone,
            "channels": list(data.channels),
            "opted_out": data.opted_out,
        },
    )
    for merchant_id in data.merchant_ids:
        if merchant_id not in previously:
            await _report_follow(session, merchant_id=merchant_id, user_id=user_id, now=now)
    return _describe(sub)


async def follow_merchant(
    session: AsyncSession, *, user_id: uuid.UUID, merchant_id: uuid.UUID, now: datetime
) -> schemas.Subscription:
    """Follow from the shop page: the merchant's offers reach the user wherever they are
    within their radius, whatever the categories."""
    await accounts_service.get_merchant(session, merchant_id=merchant_id)
    if await repository.SubscriptionRepository(session).follow_merchant(
        user_id=user_id, merchant_id=merchant_id
    ):
        await _report_follow(session, merchant_id=merchant_id, user_id=user_id, now=now)
    return await get_subscription(session, user_id=user_id)


async def unfollow_merchant(
    session: AsyncSession, *, user_id: uuid.UUID, merchant_id: uuid.UUID
) -> schemas.Subscription:
    await repository.SubscriptionRepository(session).unfollow_merchant(
        user_id=user_id, merchant_id=merchant_id
    )
    return await get_subscription(session, user_id=user_id)


async def _report_follow(
    session: AsyncSession, *, merchant_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> None:
    await customers_service.record_activity(
        session, merchant_id=merchant_id, user_id=user_id, kind="followed", at=now
    )
