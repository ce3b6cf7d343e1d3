from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from core.timezones import DEFAULT_TIMEZONE, is_valid_timezone
from coupons.schemas import CampaignSummary
from geo.schemas import Crs, LatLng
from merchants.categories import is_known
from push.models import DEFAULT_RADIUS_M, MAX_RADIUS_M, MIN_RADIUS_M

Platform = Literal["android", "ios", "web"]
PushProvider = Literal["fcm", "jpush"]
Channel = Literal["push", "sms"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceCreate(_In):
    token: str = Field(min_length=16, max_length=4096, pattern=r"^[A-Za-z0-9_:\-.]+$")
    platform: Platform
    provider: PushProvider = Field(
        default="fcm", description="fcm (registration token) or jpush (registration id)"
    )


class DeviceDelete(_In):
    token: str = Field(min_length=1, max_length=4096)


class Device(BaseModel):
    id: uuid.UUID
    platform: Platform
    provider: PushProvider = "fcm"
    created_at: datetime
    updated_at: datetime


class QuietHours(_In):
    """Local times in the subscription's timezone; `from` after `to` spans midnight."""

    from_: time = Field(alias="from", examples=["22:00"])
    to: time = Field(examples=["08:00"])

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("from_", "to")
    @classmethod
    def _naive_minutes(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a local time without offset; the timezone field applies")
        return value.replace(second=0, microsecond=0)


class SubscriptionUpdate(_In):
    categories: list[str] = Field(default_factory=list, max_length=50)
    merchant_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    radius_m: int = Field(default=DEFAULT_RADIUS_M, ge=MIN_RADIUS_M, le=MAX_RADIUS_M)
    quiet_hours: QuietHours | None = None
    timezone: str = DEFAULT_TIMEZONE
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["push"]), max_length=2)
    opted_out: bool = False

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if not is_known(c)]
        if unknown:
            raise ValueError(f"unknown categories: {', '.join(unknown)}")
        return sorted(set(value))

    @field_validator("merchant_ids")
    @classmethod
    def _unique_merchants(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(dict.fromkeys(value))

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[Channel]) -> list[Channel]:
        return list(dict.fromkeys(value))

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        if not is_valid_timezone(value):
            raise ValueError("unknown IANA time zone")
        return value


class Subscription(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    categories: list[str]
    merchant_ids: list[uuid.UUID]
    radius_m: int
    quiet_hours: QuietHours | None
    timezone: str
    channels: list[Channel]
    opted_out: bool
    updated_at: datetime | None


class LocationPingCreate(_In):
    location: LatLng
    at: datetime | None = None
    crs: Crs = "wgs84"

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give an RFC 3339 time with an offset")
        return value


class LocationPingAccepted(BaseModel):
    observed_at: datetime


class LocationsForgotten(BaseModel):
    pings_deleted: int
    areas_deleted: int


class ActivityArea(BaseModel):
    centre: LatLng
    radius_m: int
    share: float = Field(description="Share of the user's recent pings inside this area (0..1)")
    pings: int
    computed_at: datetime


class LastKnownLocation(BaseModel):
    location: LatLng
    observed_at: datetime


class ActivityAreas(BaseModel):
    items: list[ActivityArea]
    last_known: LastKnownLocation | None
    crs: Crs = "wgs84"


TierCode = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]


class Audience(_In):
    """`nearby` (subscribers around the shop), `customers` (the merchant's customers),
    `segment` (`segment_id`), or `tiers` (holders of the merchant's membership cards at
    `tier_codes`, in every program of the merchant or only `program_id`'s), the same shape as
    a coupon campaign's `tiers` audience."""

    kind: Literal["nearby", "customers", "segment", "tiers"]
    radius_m: int | None = Field(
        default=None,
        ge=MIN_RADIUS_M,
        le=MAX_RADIUS_M,
        description="nearby only: also cap every user's own radius at this distance",
    )
    segment_id: uuid.UUID | None = None
    tier_codes: list[TierCode] | None = Field(default=None, min_length=1, max_length=20)
    program_id: uuid.UUID | None = Field(
        default=None, description="tiers only: one program's tiers instead of all programs'"
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Audience:
        if self.kind == "segment" and self.segment_id is None:
            raise ValueError("segment_id is required when kind is segment")
        if self.kind != "segment" and self.segment_id is not None:
            raise ValueError("segment_id is only for kind segment")
        if self.kind != "nearby" and self.radius_m is not None:
            raise ValueError("radius_m is only for kind nearby")
        if self.kind == "tiers" and not self.tier_codes:
            raise ValueError("tier_codes is required when kind is tiers")
        if self.kind != "tiers" and (self.tier_codes is not None or self.program_id is not None):
            raise ValueError("tier_codes and program_id are only for kind tiers")
        if self.tier_codes is not None:
            self.tier_codes = sorted(set(self.tier_codes))
        return self


class Message(_In):
    title: str = Field(min_length=1, max_length=80)
    body: str = Field(min_length=1, max_length=500)


class FlashOfferCreate(_In):
    campaign_id: uuid.UUID
    shop_id: uuid.UUID
    audience: Audience
    expires_in_minutes: int = Field(ge=5, le=24 * 60)
    message: Message


class FlashOfferAccepted(BaseModel):
    id: uuid.UUID
    recipients_estimate: int = Field(description="Users who will get the offer")
    expires_at: datetime


class FlashOffer(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    shop_id: uuid.UUID
    campaign_id: uuid.UUID
    audience: Audience
    message: Message
    status: Literal["scheduled", "sending", "completed", "expired"]
    recipients: int = Field(description="Users selected (after opt-outs and caps)")
    queued: int = Field(description="Deliveries (per device or SMS) not finished yet")
    sent: int
    failed: int
    opened: int = Field(description="Recipients who opened the offer")
    expires_at: datetime
    created_at: datetime


class Opened(BaseModel):
    opened: bool


OfferStatus = Literal["unread", "read", "expired"]


class ReceivedOffer(BaseModel):
    """A flash offer as its recipient sees it in the app's inbox."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    shop_id: uuid.UUID
    title: str
    body: str
    status: OfferStatus
    delivered_at: datetime
    read_at: datetime | None
    expires_at: datetime
    campaign: CampaignSummary | None = Field(description="The campaign it promotes")
    claimed: bool = Field(description="The caller already holds a coupon of that campaign")


class ReceivedOfferPage(BaseModel):
    items: list[ReceivedOffer]
    next_cursor: str | None


# -- birthday greetings ---------------------------------------------------------------------


class BirthdayRuleUpdate(_In):
    """The merchant's birthday greeting. Enabled, it needs a coupon campaign, a message, or both;
    the message may contain `{name}` (the customer's name)."""

    enabled: bool
    days_before: int = Field(ge=0, le=60, description="Days before the birthday (0: on the day)")
    campaign_id: uuid.UUID | None = Field(
        default=None, description="A published coupon campaign of the merchant to issue from"
    )
    channel: Channel = "push"
    message: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""

    @model_validator(mode="after")
    def _something_to_give(self) -> BirthdayRuleUpdate:
        if self.enabled and self.campaign_id is None and not self.message:
            raise ValueError("an enabled birthday rule needs a campaign_id, a message, or both")
        return self


class BirthdayRule(BaseModel):
    merchant_id: uuid.UUID
    enabled: bool
    days_before: int
    campaign_id: uuid.UUID | None
    channel: Channel
    message: str
    updated_at: datetime | None = Field(description="Null until the rule is first set")


class BirthdayGreeting(BaseModel):
    """A greeting the job made: which birthday, when, whether a coupon went with it, and how
    the message went (`sent`, `no_device`, `no_phone`, `failed`, `no_message`)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str | None
    year: int
    birthday_on: date
    greeted_on: date
    coupon_issued: bool
    channel: Channel
    delivery: str
    created_at: datetime
