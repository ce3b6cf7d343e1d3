"""A shop as its page in the app shows it, and the merchants package's part of
`GET /v1/shops/{shop_id}/page`."""

from __future__ import annotations

from pydantic import BaseModel

from merchants.schemas.offerings import Offering
from merchants.schemas.photos import Photo
from merchants.schemas.reviews import Review, ReviewSummary
from merchants.schemas.shops import Shop


class ShopDetail(Shop):
    """A shop as its page in the app shows it."""

    photos: list[Photo]
    rating_summary: ReviewSummary


class ShopPageParts(BaseModel):
    """What the merchants package contributes to `GET /v1/shops/{shop_id}/page`."""

    shop: ShopDetail
    offerings: list[Offering]
    reviews: list[Review]
    other_shops: list[Shop]
