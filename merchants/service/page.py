"""The merchants package's part of a shop's page: the shop with its photos and rating
summary, its offerings, the latest reviews (verified first) and the merchant's other shops.

Six statements whatever the counts (shop, photos, offerings, reviews, review counts, other
shops); the page's other parts come from the packages above, through api/shop_page.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from geo.schemas import Crs
from merchants import schemas
from merchants.repository import ShopRepository
from merchants.repository.catalog import OfferingRepository, PhotoRepository
from merchants.repository.reviews import ReviewRepository
from merchants.service import get_shop, shop_schema
from merchants.service.catalog import offering_schema, photo_schema
from merchants.service.reviews import public_review, rating_summary, review_schema

MAX_PHOTOS = 20
MAX_OFFERINGS = 100
MAX_REVIEWS = 5
MAX_OTHER_SHOPS = 10


async def shop_page_parts(
    session: AsyncSession, *, shop_id: uuid.UUID, crs: Crs, now: datetime
) -> schemas.ShopPageParts:
    shop = await get_shop(session, shop_id=shop_id, crs=crs, at=now)  # 404 for a closed shop
    photos = await PhotoRepository(session).of_shop(shop.id, None, MAX_PHOTOS)
    offerings = await OfferingRepository(session).of_shop(shop.id, None, MAX_OFFERINGS)
    reviews = ReviewRepository(session)
    latest = await reviews.latest_verified_first(shop.id, MAX_REVIEWS)
    counts = await reviews.counts(shop.id)
    siblings = await ShopRepository(session).page_of_merchant(
        shop.merchant_id, now, None, MAX_OTHER_SHOPS + 1
    )
    return schemas.ShopPageParts(
        shop=schemas.ShopDetail(
            **shop.model_dump(),
            photos=[photo_schema(p) for p in photos],
            rating_summary=schemas.ReviewSummary(
                all=rating_summary(counts, None),
                verified=rating_summary(counts, True),
                general=rating_summary(counts, False),
            ),
        ),
        offerings=[offering_schema(o) for o in offerings],
        reviews=[public_review(review_schema(r, name)) for r, name in latest],
        other_shops=[shop_schema(r, crs) for r in siblings if r.shop.id != shop.id][
            :MAX_OTHER_SHOPS
        ],
    )
