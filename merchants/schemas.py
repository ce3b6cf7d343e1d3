from __future__ import annotations

import datetime as dt
import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from accounts.schemas import normalise_phone
from core.money import Money
from core.pagination import MAX_LIMIT
from geo.schemas import Crs, LatLng
from merchants.categories import is_known

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

PhotoKind = Literal["storefront", "interior", "product"]
NearbySort = Literal["distance", "rating"]
# what the buyer of a paid, unconsumed order may do (the 随时退 / 过期退 of group-buy vouchers):
# anytime: refund on request, and automatically once the order expires unused;
# before_expiry: refund on request while the order is usable, not after (过期不退);
# none: only the merchant refunds (the default: what every offering did before policies)
RefundPolicy = Literal["anytime", "before_expiry", "none"]
VALID_DAYS_MAX = 3650


class OpeningPeriod(BaseModel):
    """One opening period; `close` at or before `open` means it closes after midnight."""

    model_config = ConfigDict(extra="forbid")

    day: int = Field(ge=0, le=6, description="Monday=0 … Sunday=6, in the merchant's timezone")
    open: str = Field(examples=["09:00"])
    close: str = Field(examples=["21:30", "02:00"])

    @field_validator("open", "close")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("use 24-hour HH:MM")
        return value


# an entry spans at most a year; a shop keeps at most this many entries
SPECIAL_MAX_DAYS = 366
SPECIAL_MAX_ENTRIES = 200


class SpecialHours(BaseModel):
    """A dated exception to the weekly hours: `closed` (a holiday), or changed `open`/`close`
    on `date` (through `until`, inclusive). On such a date these replace the weekly periods."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date
    until: dt.date | None = Field(None, description="Last date (inclusive); default `date`")
    closed: bool = False
    open: str | None = Field(None, examples=["10:00"])
    close: str | None = Field(None, examples=["16:00"])
    note: str = Field("", max_length=120, examples=["元旦"])

    @field_validator("open", "close")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM.match(value):
            raise ValueError("use 24-hour HH:MM")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SpecialHours:
        if self.until is None:
            self.until = self.date
        if self.until < self.date:
            raise ValueError("until must not be before date")
        if (self.until - self.date).days >= SPECIAL_MAX_DAYS:
            raise ValueError(f"an entry spans at most {SPECIAL_MAX_DAYS} days")
        if self.closed and (self.open is not None or self.close is not None):
            raise ValueError("a closed day has no open/close")
        if not self.closed and (self.open is None or self.close is None):
            raise ValueError("give open and close, or closed: true")
        return self


def _check_category(value: str | None) -> str | None:
    if value is not None and not is_known(value):
        raise ValueError("unknown category code (see GET /v1/categories)")
    return value


def _check_phone(value: str | None) -> str | None:
    return normalise_phone(value) if value is not None else None


def _clean_features(values: list[str]) -> list[str]:
    """Trimmed, without blanks or repeats, in the order given."""
    seen: list[str] = []
    for value in values:
        text = value.strip()
        if text and text not in seen:
            seen.append(text)
    return seen


Feature = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class ShopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    category: str
    location: LatLng
    crs: Crs = "wgs84"
    address: str = Field(min_length=1, max_length=255)
    phone: str | None = None
    opening_hours: list[OpeningPeriod] = Field(default_factory=list, max_length=50)
    special_hours: list[SpecialHours] = Field(default_factory=list, max_length=SPECIAL_MAX_ENTRIES)
    discovery_only: bool = False
    description: str = Field(default="", max_length=4000)
    features: list[Feature] = Field(default_factory=list, max_length=20)

    _category = field_validator("category")(_check_category)
    _phone = field_validator("phone")(_check_phone)
    _features = field_validator("features")(lambda v: _clean_features(v) if v is not None else None)


class ShopUpdate(BaseModel):
    """Fields to change; `location` (in `crs`) moves the shop."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    category: str | None = None
    location: LatLng | None = None
    crs: Crs = "wgs84"
    address: str | None = Field(default=None, min_length=1, max_length=255)
    phone: str | None = None
    opening_hours: list[OpeningPeriod] | None = Field(default=None, max_length=50)
    special_hours: list[SpecialHours] | None = Field(
        default=None,
        max_length=SPECIAL_MAX_ENTRIES,
        description="Replaces the whole list; overlapping entries are refused",
    )
    discovery_only: bool | None = None
    description: str | None = Field(default=None, max_length=4000)
    features: list[Feature] | None = Field(default=None, max_length=20)

    _category = field_validator("category")(_check_category)
    _phone = field_validator("phone")(_check_phone)
    _features = field_validator("features")(lambda v: _clean_features(v) if v is not None else None)

    @model_validator(mode="after")
    def _no_nulls(self) -> ShopUpdate:
        for name in (
            "name",
            "category",
            "location",
            "address",
            "opening_hours",
            "special_hours",
            "description",
            "features",
        ):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Shop(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    category: str
    location: LatLng
    address: str
    phone: str | None
    description: str
    features: list[str] = Field(description='Short tags shown on the shop\'s screen ("wifi")')
    opening_hours: list[OpeningPeriod]
    special_hours: list[SpecialHours]
    discovery_only: bool
    timezone: str
    open_now: bool
    rating: float | None = Field(description="Average stars, null before the first review")
    review_count: int
    created_at: datetime
    updated_at: datetime


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


class CategoryNode(BaseModel):
    code: str
    name: str = Field(description="Label in the request's language")
    labels: dict[str, str] = Field(description='{"zh-CN": …, "en": …}')
    parent: str | None
    children: list[CategoryNode] = Field(default_factory=list)


class Photo(BaseModel):
    id: uuid.UUID
    shop_id: uuid.UUID
    kind: PhotoKind
    content_type: str
    width: int
    height: int
    size_bytes: int
    url: str
    thumbnail_url: str
    position: int
    created_at: datetime


class OfferingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=4000)
    price: Money
    photo_id: uuid.UUID | None = None
    bookable: bool = False
    refund_policy: RefundPolicy = Field(
        default="none",
        description="anytime: the buyer may refund an unconsumed order at any time and it is"
        " refunded automatically when it expires unused (随时退, 过期退); before_expiry: the"
        " buyer may refund while it is usable (过期不退); none: only the merchant refunds",
    )
    valid_days: int | None = Field(
        default=None,
        ge=1,
        le=VALID_DAYS_MAX,
        description="A paid order is usable for this many days after payment (null: no end)",
    )


class OfferingUpdate(BaseModel):
    """Fields to change; a new price applies to orders from now (past ones keep theirs)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=4000)
    price: Money | None = None
    photo_id: uuid.UUID | None = None
    bookable: bool | None = None
    active: bool | None = None
    refund_policy: RefundPolicy | None = Field(
        default=None, description="Applies to orders from now; placed orders keep theirs"
    )
    valid_days: int | None = Field(
        default=None, ge=1, le=VALID_DAYS_MAX, description="null: paid orders never expire"
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> OfferingUpdate:
        for name in ("name", "description", "price", "bookable", "active", "refund_policy"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PhotoOrder(BaseModel):
    """The shop's photos in the order to show them; photos not named keep theirs, after."""

    model_config = ConfigDict(extra="forbid")

    photo_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)


class Offering(BaseModel):
    id: uuid.UUID
    shop_id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    description: str
    price: Money
    photo_id: uuid.UUID | None
    bookable: bool
    active: bool = Field(description="False once archived (DELETE): off the menu, no new orders")
    refund_policy: RefundPolicy
    valid_days: int | None
    created_at: datetime
    updated_at: datetime


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)
    text: str = Field(default="", max_length=2000)
    redemption_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None
    card_transaction_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> ReviewCreate:
        given = [self.redemption_id, self.order_id, self.card_transaction_id]
        if sum(x is not None for x in given) > 1:
            raise ValueError("give at most one of redemption_id, order_id, card_transaction_id")
        return self


class ReviewReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


class MerchantReply(BaseModel):
    text: str
    replied_at: datetime


class Review(BaseModel):
    id: uuid.UUID
    shop_id: uuid.UUID
    author: str = Field(description="The reviewer's display name")
    author_id: uuid.UUID = Field(
        description="A pseudonym of the reviewer, stable for their reviews of one merchant; "
        "never their user id"
    )
    rating: int
    text: str
    verified: bool
    redemption_id: uuid.UUID | None
    order_id: uuid.UUID | None
    card_transaction_id: uuid.UUID | None
    reply: MerchantReply | None
    created_at: datetime


class RatingSummary(BaseModel):
    count: int
    average: float | None
    by_star: dict[str, int] = Field(description='Counts keyed "1".."5"')


class ReviewSummary(BaseModel):
    all: RatingSummary
    verified: RatingSummary
    general: RatingSummary


class ReviewPage(BaseModel):
    items: list[Review]
    next_cursor: str | None = None
    summary: ReviewSummary


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
