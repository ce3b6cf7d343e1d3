"""The merchants package's part of a shop's page: the shop with its photos and rating
summary, its offerings, the latest reviews (verified first) and the merchant's other shops.

Four statements whatever the counts (merchants.repository.page: the shop with the other
shops and the review counts, photos, offerings, reviews), on the page's psycopg connection;
the page's other parts come from the packages above, through api/shop_page.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from core.lean import Connection
from geo.schemas import Crs
from merchants import schemas
from merchants.repository import page
from merchants.service import shop_schema
from merchants.service.catalog import offering_schema, photo_schema
from merchants.service.errors import ShopNotFound
from merchants.service.reviews import public_review, rating_summary, review_schema

MAX_PHOTOS = 20
MAX_OFFERINGS = 100
MAX_REVIEWS = 5
MAX_OTHER_SHOPS = 10


async def shop_page_parts(
    connection: Connection, *, shop_id: uuid.UUID, crs: Crs, now: datetime
) -> schemas.ShopPageParts:
    found = await page.shop_with_others(connection, shop_id, now, MAX_OTHER_SHOPS)
    if found is None:
        raise ShopNotFound()  # unknown or closed
    shop = shop_schema(found.shop, crs)
    photos = await page.photos_of_shop(connection, shop_id, MAX_PHOTOS)
    offerings = await page.active_offerings(connection, shop_id, MAX_OFFERINGS)
    latest = await page.latest_reviews(connection, shop_id, MAX_REVIEWS)
    counts = found.review_counts
    return schemas.ShopPageParts(
        # built from validated models: assembled, not validated again (model_construct)
        shop=schemas.ShopDetail.model_construct(
            **shop.__dict__,
            photos=[photo_schema(p) for p in photos],
            rating_summary=schemas.ReviewSummary(
                all=rating_summary(counts, None),
                verified=rating_summary(counts, True),
                general=rating_summary(counts, False),
            ),
        ),
        offerings=[offering_schema(o) for o in offerings],
        reviews=[public_review(review_schema(r, name)) for r, name in latest],
        other_shops=[shop_schema(r, crs) for r in found.others],
    )
