"""Tables of the push package: devices, subscriptions, location history, learned activity
areas, flash offers with their per-device deliveries, the delivery outbox and daily caps.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, IdMixin, TimestampMixin
from core.timezones import DEFAULT_TIMEZONE

PLATFORMS = ("android", "ios", "web")
CHANNELS = ("push", "sms")
DEFAULT_RADIUS_M = 2000
MIN_RADIUS_M = 100
MAX_RADIUS_M = 20_000
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "retry")


class Device(IdMixin, TimestampMixin, Base):
    """A push registration (an FCM token or a JPush registration id, by `provider`). A token
    identifies one app install, so it belongs to one user at a time: registering it again
    (even as someone else) moves it."""

    __tablename__ = "push_devices"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(4096), unique=True)
    platform: Mapped[str] = mapped_column(String(8))
    # FCM does not reach most mainland Android phones (no Google Play services): JPush does
    provider: Mapped[str] = mapped_column(String(8), default="fcm", server_default="fcm")

    __table_args__ = (
        CheckConstraint("platform IN ('android', 'ios', 'web')", name="platform"),
        CheckConstraint("provider IN ('fcm', 'jpush')", name="provider"),
        Index("ix_push_devices_user_id", "user_id"),
    )


class Subscription(Base):
    """What a user wants to hear about, how far from them, when and through which channels."""

    __tablename__ = "push_subscriptions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    categories: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default="{}"
    )
    merchant_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid()), default=list, server_default="{}"
    )
    radius_m: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_RADIUS_M, server_default=str(DEFAULT_RADIUS_M)
    )
    quiet_from: Mapped[time | None] = mapped_column(Time())
    quiet_to: Mapped[time | None] = mapped_column(Time())
    timezone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE
    )
    channels: Mapped[list[str]] = mapped_column(
        ARRAY(String(8)), default=lambda: ["push"], server_default="{push}"
    )
    opted_out: Mapped[bool] = mapped_column(default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint(f"radius_m BETWEEN {MIN_RADIUS_M} AND {MAX_RADIUS_M}", name="radius"),
        CheckConstraint("channels <@ ARRAY['push', 'sms']::varchar[]", name="channels"),
        # the audience query matches on these arrays
        Index("ix_push_subscriptions_categories", "categories", postgresql_using="gin"),
        Index("ix_push_subscriptions_merchant_ids", "merchant_ids", postgresql_using="gin"),
        # max(radius_m) bounds the spatial join with an index-only lookup
        Index("ix_push_subscriptions_radius_m", "radius_m"),
    )


class LocationPing(Base):
    """An opt-in location report; kept for the retention period, then deleted."""

    __tablename__ = "push_location_pings"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    location: Mapped[Any] = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False)
    )
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_push_location_pings_user_observed", "user_id", "observed_at"),
        Index("ix_push_location_pings_observed_at", "observed_at"),
    )


class ActivityArea(Base):
    """Where a user usually is (`usual`, learned by clustering pings) or was last seen
    (`last_known`, one per user, refreshed by every ping). Targeting joins on `centre`."""

    __tablename__ = "push_activity_areas"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    centre: Mapped[Any] = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False)
    )
    radius_m: Mapped[int] = mapped_column(Integer)
    share: Mapped[float | None] = mapped_column(Float)
    pings: Mapped[int] = mapped_column(Integer)
    # last_known: when the ping was taken; usual: when the area was computed
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('usual', 'last_known')", name="kind"),
        CheckConstraint("radius_m >= 0", name="radius"),
        Index("ix_push_activity_areas_centre", "centre", postgresql_using="gist"),
        Index("ix_push_activity_areas_user_id", "user_id"),
        Index(
            "uq_push_activity_areas_last_known",
            "user_id",
            unique=True,
            postgresql_where=text("kind = 'last_known'"),
        ),
    )


class AreaRecompute(Base):
    """Users whose pings changed since their areas were learned (a work queue for the job)."""

    __tablename__ = "push_area_recompute"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class FlashOffer(IdMixin, Base):
    __tablename__ = "flash_offers"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    shop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    # the `flash` coupon campaign; no FK here because campaigns live in the coupons package
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    audience_kind: Mapped[str] = mapped_column(String(16))
    audience_radius_m: Mapped[int | None] = mapped_column(Integer)
    segment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    # kind `tiers`: membership tier codes of the merchant's programs (all, or one program's);
    # no FK to programs because they live in the memberships package
    tier_codes: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    program_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "audience_kind IN ('nearby', 'customers', 'segment', 'tiers')", name="audience_kind"
        ),
        CheckConstraint(
            "(audience_kind = 'tiers') = (tier_codes IS NOT NULL)"
            " AND (program_id IS NULL OR audience_kind = 'tiers')",
            name="tiers",
        ),
        Index("ix_flash_offers_merchant_created", "merchant_id", "created_at"),
    )


class Delivery(Base):
    """One message to one device (push) or one user (SMS) for one offer.

    The row is the idempotency record: a sender moves it queued/retry -> sending in a committed
    conditional UPDATE before calling the transport, so no device gets an offer twice.
    """

    __tablename__ = "flash_offer_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flash_offers.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("push_devices.id", ondelete="SET NULL")
    )
    batch_no: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    # JPush's dedup key for this delivery, issued by JPush and stored before the first push,
    # so every resend carries it (push/jobs/outbox.py)
    jpush_cid: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        CheckConstraint("channel IN ('push', 'sms')", name="channel"),
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'retry')", name="status"
        ),
        UniqueConstraint("offer_id", "device_id"),
        Index(
            "uq_flash_offer_deliveries_sms",
            "offer_id",
            "user_id",
            unique=True,
            postgresql_where=text("channel = 'sms'"),
        ),
        Index("ix_flash_offer_deliveries_batch", "offer_id", "batch_no", "status"),
        Index("ix_flash_offer_deliveries_offer_user", "offer_id", "user_id"),
        Index("ix_flash_offer_deliveries_user_offer", "user_id", "offer_id"),  # the inbox
        Index(
            "ix_flash_offer_deliveries_sending",
            "lease_until",
            postgresql_where=text("status = 'sending'"),
        ),
    )


class OutboxEntry(Base):
    """A batch of deliveries to hand to the queue once due; written with the offer."""

    __tablename__ = "push_outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flash_offers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    batch_no: Mapped[int] = mapped_column(BigInteger)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'dispatched')", name="status"),
        Index("ix_push_outbox_due", "due_at", postgresql_where=text("status = 'pending'")),
        Index("ix_push_outbox_offer_id", "offer_id"),
    )


class MerchantDailyCount(Base):
    """Messages a merchant sent a user on one local day; the frequency cap is a conditional
    upsert on this row, so concurrent offers cannot both pass it."""

    __tablename__ = "push_merchant_daily_counts"

    # no foreign keys: these counters live two days (purged by the retention job), and
    # checking two FKs per row would add a third to the cap upsert of a large fan-out
    merchant_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_push_merchant_daily_counts_day", "day"),)


class UserDailyCount(Base):
    """Offers a user received from all merchants on one local day (the global cap)."""

    __tablename__ = "push_user_daily_counts"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)  # no FK: see above
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_push_user_daily_counts_day", "day"),)


class BirthdayRule(Base):
    """A merchant's birthday greeting: `days_before` the customer's birthday (in the
    merchant's timezone) a coupon of `campaign_id` is issued and `message` sent by `channel`."""

    __tablename__ = "birthday_rules"

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    days_before: Mapped[int] = mapped_column(SmallInteger, default=3, server_default="3")
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("coupon_campaigns.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(8), default="push", server_default="push")
    message: Mapped[str] = mapped_column(String(200), default="", server_default="")
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("days_before BETWEEN 0 AND 60", name="days_before"),
        CheckConstraint("channel IN ('push', 'sms')", name="channel"),
    )


class BirthdayGreeting(IdMixin, Base):
    """One greeting per customer and birthday year: the unique key is what makes the job
    safe to run twice or concurrently (the loser of the insert sends nothing)."""

    __tablename__ = "birthday_greetings"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(SmallInteger)
    # the day celebrated (Feb 29 birthdays: Feb 28 in common years) and the local day greeted
    birthday_on: Mapped[date] = mapped_column(Date)
    greeted_on: Mapped[date] = mapped_column(Date)
    coupon_issued: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    channel: Mapped[str] = mapped_column(String(8))
    delivery: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("merchant_id", "customer_id", "year"),
        CheckConstraint(
            "delivery IN ('sent', 'no_device', 'no_phone', 'failed', 'no_message')",
            name="delivery",
        ),
    )
