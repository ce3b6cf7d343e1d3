from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.money import Money

CampaignStatus = Literal["draft", "published", "paused", "ended"]
CouponStatus = Literal["active", "reserved", "redeemed", "expired"]


def _parse_time(value: Any) -> Any:
    """`YYYY-MM-DD` is a local date; anything longer an RFC 3339 date-time (offset optional:
    without one it is local time). Local values are read in the merchant's timezone."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError("use YYYY-MM-DD or an RFC 3339 date-time") from exc
    return value


TimeInput = Annotated[
    datetime | date,
    BeforeValidator(_parse_time),
    Field(
        description="RFC 3339 date-time, or a local date/date-time read in the merchant's "
        "timezone (a date as `valid_until`/`claim_until` includes that whole day)",
        examples=["2026-12-01", "2026-12-31T21:00:00+08:00"],
    ),
]


# -- discounts -------------------------------------------------------------------------------


class AmountOff(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["amount_off"]
    value: Money


class PercentOff(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["percent_off"]
    value: int = Field(ge=1, le=100, description="Percent off the order (20 = 20% off, 八折)")
    max_off: Money | None = None


class Gift(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["gift"]
    gift_name: str = Field(min_length=1, max_length=120)


Discount = Annotated[AmountOff | PercentOff | Gift, Field(discriminator="kind")]


# -- audiences -------------------------------------------------------------------------------


class PublicAudience(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["public"]


class TiersAudience(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["tiers"]
    tier_codes: list[str] = Field(min_length=1, max_length=20)
    program_id: uuid.UUID | None = None


class SegmentAudience(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["segment"]
    segment_id: uuid.UUID


class CustomersAudience(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["customers"]
    user_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)


Audience = Annotated[
    PublicAudience | TiersAudience | SegmentAudience | CustomersAudience,
    Field(discriminator="kind"),
]


class AudienceSummary(BaseModel):
    """What the public sees of an audience: only its kind."""

    kind: Literal["public", "tiers", "segment", "customers"]


# -- campaigns -------------------------------------------------------------------------------


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    discount: Discount
    min_spend: Money | None = None
    valid_from: TimeInput
    valid_until: TimeInput
    claim_until: TimeInput | None = None
    total_quantity: int | None = Field(default=None, ge=1, le=10_000_000)
    per_user_limit: int = Field(default=1, ge=1, le=100)
    audience: Audience = Field(default_factory=lambda: PublicAudience(kind="public"))
    shop_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=200)
    flash: bool = False


class CampaignUpdate(BaseModel):
    """PATCH: the fields to change (see the route for what a live campaign may change)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    discount: Discount | None = None
    min_spend: Money | None = None
    valid_from: TimeInput | None = None
    valid_until: TimeInput | None = None
    claim_until: TimeInput | None = None
    total_quantity: int | None = Field(default=None, ge=1, le=10_000_000)
    per_user_limit: int | None = Field(default=None, ge=1, le=100)
    audience: Audience | None = None
    shop_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=200)
    flash: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> CampaignUpdate:
        required = ("name", "discount", "valid_from", "valid_until", "per_user_limit")
        for name in (*required, "audience", "flash"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Campaign(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    description: str | None
    status: CampaignStatus
    discount: Discount
    min_spend: Money | None
    valid_from: datetime
    valid_until: datetime
    claim_until: datetime
    total_quantity: int | None
    remaining: int | None = Field(description="Coupons left to hand out (null: unlimited)")
    per_user_limit: int
    audience: Audience | AudienceSummary
    shop_ids: list[uuid.UUID] | None
    flash: bool
    claimable_now: bool
    created_at: datetime
    published_at: datetime | None
    ended_at: datetime | None


class ShopCampaign(Campaign):
    """A campaign on a shop's page: what the caller may still claim and already holds."""

    per_user_left: int | None = Field(
        description="Coupons the caller may still claim (null when anonymous)"
    )
    held: int | None = Field(description="The caller's usable coupons of it (null when anonymous)")


class CampaignSummary(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    discount: Discount
    min_spend: Money | None
    shop_ids: list[uuid.UUID] | None
    flash: bool


# -- coupons ---------------------------------------------------------------------------------


class Coupon(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    merchant_id: uuid.UUID
    code: str = Field(description="11 characters (Crockford base32 + check character)")
    code_display: str = Field(description="The code grouped for reading: XXXX-XXXX-XXX")
    status: CouponStatus
    source: Literal["claim", "issue", "paper"]
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    redeemed_at: datetime | None
    campaign: CampaignSummary


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=10_000,
        description="Recipients; default: the campaign's `customers` audience",
    )


class IssueResult(BaseModel):
    issued: int
    skipped: int = Field(description="Recipients at their per-user limit or beyond the quantity")


# -- counter ---------------------------------------------------------------------------------


class CounterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(default=None, min_length=1, max_length=64)
    qr: str | None = Field(default=None, min_length=1, max_length=512)
    shop_id: uuid.UUID
    order_amount: Money | None = None

    @model_validator(mode="after")
    def _one_of(self) -> CounterRequest:
        if (self.code is None) == (self.qr is None):
            raise ValueError("give exactly one of `code` or `qr`")
        return self


class AppliedDiscount(BaseModel):
    kind: Literal["amount_off", "percent_off", "gift"]
    amount: Money | None = Field(description="Money off this order (null: needs order_amount)")
    percent: int | None = None
    max_off: Money | None = None
    gift_name: str | None = None


class Refusal(BaseModel):
    code: str
    title: str
    detail: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Lookup(BaseModel):
    redeemable: bool
    refusal: Refusal | None
    coupon: Coupon
    discount: AppliedDiscount
    order_amount: Money | None
    pay_amount: Money | None


class RedeemResult(BaseModel):
    redemption_id: uuid.UUID
    coupon: Coupon
    discount: AppliedDiscount
    order_amount: Money | None
    pay_amount: Money | None
    shop_id: uuid.UUID
    redeemed_at: datetime


class ReverseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


class Redemption(BaseModel):
    id: uuid.UUID
    coupon_id: uuid.UUID
    campaign_id: uuid.UUID
    shop_id: uuid.UUID | None
    staff_user_id: uuid.UUID | None
    order_amount: Money | None
    discount: Money
    redeemed_at: datetime
    reversed_at: datetime | None
    reversed_by: uuid.UUID | None
    reversal_reason: str | None


# -- stats and settings ----------------------------------------------------------------------


class DayStats(BaseModel):
    date: date
    issued: int
    claimed: int
    redeemed: int
    reversed: int


class CampaignStats(BaseModel):
    campaign_id: uuid.UUID
    timezone: str
    issued: int = Field(description="Coupons handed out by any channel (claim, issue, paper)")
    claimed: int = Field(description="Of those, claimed by customers themselves")
    redeemed: int = Field(description="Redemptions in force (reversed ones excluded)")
    reversed: int
    expired: int = Field(description="Coupons never redeemed whose validity has ended")
    redemption_rate: float = Field(description="redeemed / issued (0 when nothing was issued)")
    by_day: list[DayStats]


class CouponSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reversal_window_minutes: int = Field(
        default=24 * 60, ge=0, le=43_200, description="How long a redemption can be reversed"
    )
