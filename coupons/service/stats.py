"""A campaign's totals and per-day counts, in the merchant's timezone.

The redemption rate is redeemed / issued (0 when nothing was issued), rounded to 4 places;
days are the merchant's local days.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from coupons import schemas
from coupons.repository.stats import StatsRepository
from coupons.service.campaigns import load_campaign


async def campaign_stats(
    session: AsyncSession, *, campaign_id: uuid.UUID, now: datetime
) -> schemas.CampaignStats:
    campaign = await load_campaign(session, campaign_id=campaign_id)
    timezone = await accounts_service.merchant_timezone(session, merchant_id=campaign.merchant_id)
    repo = StatsRepository(session)
    totals = await repo.totals(campaign_id, now=now)
    days = await repo.by_day(campaign_id, timezone=timezone)
    return schemas.CampaignStats(
        campaign_id=campaign_id,
        timezone=timezone,
        issued=totals.issued,
        claimed=totals.claimed,
        redeemed=totals.redeemed,
        reversed=totals.reversed,
        expired=totals.expired,
        redemption_rate=round(totals.redeemed / totals.issued, 4) if totals.issued else 0.0,
        by_day=[
            schemas.DayStats(date=day, issued=v[0], claimed=v[1], redeemed=v[2], reversed=v[3])
            for day, v in sorted(days.items())
        ],
    )
