"""The offers a shop shows: which shops have a claimable public coupon now (nearby's
`has_offers`) and the campaigns claimable at one shop (the shop page).

Claimable means published, inside the claim period, not sold out and valid at that shop;
each read is one statement.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from coupons import schemas
from coupons.repository.campaigns import CampaignRepository
from coupons.service.views import campaign_schema


async def shops_with_claimable_offers(
    session: AsyncSession, *, shops: list[tuple[uuid.UUID, uuid.UUID]], now: datetime
) -> set[uuid.UUID]:
    """For nearby `has_offers`: of `shops` as (shop_id, merchant_id) pairs, those where a
    customer can claim a public coupon now (published, inside the claim period, not sold out,
    valid at that shop). One query. `coupons.repository.claimable_offer_exists` is the same
    rule as an SQL predicate to embed in another query."""
    return await CampaignRepository(session).claimable_shop_ids(shops, now=now)


async def claimable_at_shop(
    session: AsyncSession,
    *,
    shop_id: uuid.UUID,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    now: datetime,
    limit: int = 20,
) -> list[schemas.ShopCampaign]:
    """The public campaigns claimable now at the shop (one statement), with the caller's
    claims left and usable coupons when signed in."""
    rows = await CampaignRepository(session).claimable_at_shop(
        shop_id=shop_id, merchant_id=merchant_id, user_id=user_id, now=now, limit=limit
    )
    return [
        schemas.ShopCampaign(
            **campaign_schema(r.campaign, staff=False, now=now).model_dump(),
            per_user_left=(
                max(0, r.campaign.per_user_limit - r.claimed) if user_id is not None else None
            ),
            held=r.held if user_id is not None else None,
        )
        for r in rows
    ]
