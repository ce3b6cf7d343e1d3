"""The nearby search: its query string (validated in one call, core.query) and its page of
shops, each with its geodesic distance and best claimable offer."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.pagination import MAX_LIMIT
from geo.schemas import Crs, LatLng

NearbySort = Literal["distance", "rating"]


class NearbyQuery(BaseModel):
    """The query string of `GET /v1/shops/nearby`, validated in one call (core.query)."""

    model_config = ConfigDict(frozen=True)

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    crs: Crs = Field("wgs84", description="Coordinate system of `location` in and out")
    radius_m: int = Field(2000, ge=1, le=50_000, description="Geodesic metres")
    category: str | None = Field(
        None, max_length=32, description="A category code; includes its subcategories"
    )
    q: str | None = Field(None, max_length=64, description="Name or offering text")
    open_now: bool = False
    has_offers: bool = Field(
        False, description="Only shops with a campaign whose coupons can be claimed now"
    )
    sort: Literal["distance", "rating"] = "distance"
    limit: int = Field(20, ge=1, le=MAX_LIMIT, description="Page size")
    cursor: str | None = Field(None, max_length=512, description="Opaque cursor")


class NearbyShop(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    category: str
    location: LatLng
    distance_m: float = Field(description="Geodesic metres on the WGS-84 spheroid")
    address: str
    rating: float | None
    review_count: int
    open_now: bool
    discovery_only: bool
    best_offer: str | None = Field(
        description="The most valuable coupon claimable there now, as one line of text "
        "in the request's language (立减¥10.00（满¥50.00可用）); null when none"
    )


class NearbyPage(BaseModel):
    items: list[NearbyShop]
    next_cursor: str | None = None
