"""The merchants package's request and response schemas, one module per concept, re-exported
here (routes and services use `schemas.X`).

- `shops`: shops, their opening periods and special hours, the category tree;
- `nearby`: the nearby search's query and page;
- `photos`: a shop's photos and their order;
- `offerings`: what a shop sells and its refund terms;
- `reviews`: reviews, replies and rating summaries;
- `page`: a shop as its page shows it.
"""

from __future__ import annotations

from merchants.schemas.nearby import NearbyPage, NearbyQuery, NearbyShop, NearbySort
from merchants.schemas.offerings import (
    VALID_DAYS_MAX,
    Offering,
    OfferingCreate,
    OfferingUpdate,
    RefundPolicy,
)
from merchants.schemas.page import ShopDetail, ShopPageParts
from merchants.schemas.photos import Photo, PhotoKind, PhotoOrder
from merchants.schemas.reviews import (
    MerchantReply,
    RatingSummary,
    Review,
    ReviewCreate,
    ReviewPage,
    ReviewReply,
    ReviewSummary,
)
from merchants.schemas.shops import (
    SPECIAL_MAX_DAYS,
    SPECIAL_MAX_ENTRIES,
    CategoryNode,
    Feature,
    OpeningPeriod,
    Shop,
    ShopCreate,
    ShopUpdate,
    SpecialHours,
)

__all__ = [
    "SPECIAL_MAX_DAYS",
    "SPECIAL_MAX_ENTRIES",
    "VALID_DAYS_MAX",
    "CategoryNode",
    "Feature",
    "MerchantReply",
    "NearbyPage",
    "NearbyQuery",
    "NearbyShop",
    "NearbySort",
    "Offering",
    "OfferingCreate",
    "OfferingUpdate",
    "OpeningPeriod",
    "Photo",
    "PhotoKind",
    "PhotoOrder",
    "RatingSummary",
    "RefundPolicy",
    "Review",
    "ReviewCreate",
    "ReviewPage",
    "ReviewReply",
    "ReviewSummary",
    "Shop",
    "ShopCreate",
    "ShopDetail",
    "ShopPageParts",
    "ShopUpdate",
    "SpecialHours",
]
