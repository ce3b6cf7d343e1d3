"""Campaigns, per-user claim counters, coupons, redemptions and per-merchant coupon settings.

The limits live in the database: `coupon_campaigns.handed_out` is raised by a conditional
UPDATE and capped by a CHECK against `total_quantity`; `coupon_claims.count` is raised by a
conditional upsert; a coupon leaves `active` by one conditional UPDATE; and a partial unique
index keeps at most one live (not reversed) redemption per coupon.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, IdMixin, TimestampMixin

CAMPAIGN_STATUSES = ("draft", "published", "paused", "ended")
DISCOUNT_KINDS = ("amount_off", "percent_off", "gift")
AUDIENCE_KINDS = ("public", "tiers", "segment", "customers")
COUPON_SOURCES = ("claim", "issue", "paper")


class Campaign(IdMixin, TimestampMixin, Base):
    __tablename__ = "coupon_campaigns"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    discount_kind: Mapped[str] = mapped_column(String(16))
    # amount_off: the amount; percent_off: unused (see discount_percent); gift: unused
    discount_amount: Mapped[int | None] = mapped_column(BigInteger)
    discount_percent: Mapped[int | None] = mapped_column(SmallInteger)
    max_off: Mapped[int | None] = mapped_column(BigInteger)
    gift_name: Mapped[str | None] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    min_spend: Mapped[int | None] = mapped_column(BigInteger)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # last instant a coupon can be claimed or issued (defaults to valid_until)
    claim_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    total_quantity: Mapped[int | None] = mapped_column(Integer)
    # every coupon handed out by any channel (claim, issue, paper); capped by total_quantity
    handed_out: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    per_user_limit: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    audience_kind: Mapped[str] = mapped_column(
        String(16), default="public", server_default="public"
    )
    # the rest of the audience: {"tier_codes": [...]}, {"segment_id": "..."}, {}
    audience: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    # audience kind "customers": the listed users
    audience_user_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid))
    # None: every shop of the merchant
    shop_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid))
    flash: Mapped[bool] = mapped_column(default=False, server_default="false")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'paused', 'ended')", name="status_known"),
        CheckConstraint(
            "discount_kind IN ('amount_off', 'percent_off', 'gift')", name="discount_kind_known"
        ),
        CheckConstraint(
            "audience_kind IN ('public', 'tiers', 'segment', 'customers')",
            name="audience_kind_known",
        ),
        CheckConstraint(
            "total_quantity IS NULL OR handed_out <= total_quantity", name="within_quantity"
        ),
        CheckConstraint("handed_out >= 0", name="handed_out_non_negative"),
        CheckConstraint("per_user_limit >= 1", name="per_user_limit_positive"),
        CheckConstraint("valid_until > valid_from", name="window_ordered"),
        Index("ix_coupon_campaigns_merchant_status", "merchant_id", "status", "created_at"),
    )


class ClaimCounter(Base):
    """How many coupons of a campaign a user holds (any channel); capped by per_user_limit."""

    __tablename__ = "coupon_claims"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coupon_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("count >= 0", name="count_non_negative"),)


class Coupon(IdMixin, Base):
    __tablename__ = "coupons"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coupon_campaigns.id", ondelete="CASCADE")
    )
    # None for paper coupons until someone redeems them
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(11), unique=True)
    # active | reserved | redeemed; "expired" is derived from valid_until, never stored.
    # reserved: held by an unpaid order (`reserved_for`), redeemed when it is paid, active
    # again when it is cancelled or expires; the counter cannot redeem it meanwhile
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    reserved_for: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reserved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(8))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('active', 'reserved', 'redeemed')", name="status_known"),
        CheckConstraint(
            "(status = 'reserved') = (reserved_for IS NOT NULL)", name="reserved_has_order"
        ),
        CheckConstraint("source IN ('claim', 'issue', 'paper')", name="source_known"),
        CheckConstraint(
            "(status = 'redeemed') = (redeemed_at IS NOT NULL)", name="redeemed_has_time"
        ),
        Index("ix_coupons_user_issued", "user_id", "issued_at", "id"),
        Index("ix_coupons_campaign_issued", "campaign_id", "issued_at"),
    )


class Redemption(IdMixin, Base):
    __tablename__ = "coupon_redemptions"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    coupon_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"))
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coupon_campaigns.id", ondelete="CASCADE")
    )
    shop_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("shops.id", ondelete="SET NULL"))
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # the coupon's holder at redemption time (None for an unclaimed paper coupon)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    order_amount: Mapped[int | None] = mapped_column(BigInteger)
    discount_amount: Mapped[int] = mapped_column(BigInteger)
    # redeemed by paying an online order (orders.id); None at the counter
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    currency: Mapped[str] = mapped_column(String(3))
    redeemed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reversed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reversal_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint("discount_amount >= 0", name="discount_non_negative"),
        # a second live redemption of one coupon is impossible even if the UPDATE were bypassed
        Index(
            "uq_coupon_redemptions_live_coupon",
            "coupon_id",
            unique=True,
            postgresql_where=text("reversed_at IS NULL"),
        ),
        Index("ix_coupon_redemptions_campaign_redeemed", "campaign_id", "redeemed_at"),
        Index("ix_coupon_redemptions_user_shop", "user_id", "shop_id"),
        # the day close (orders.service.day_close)
        Index("ix_coupon_redemptions_merchant_redeemed", "merchant_id", "redeemed_at"),
        Index(
            "ix_coupon_redemptions_merchant_reversed",
            "merchant_id",
            "reversed_at",
            postgresql_where=text("reversed_at IS NOT NULL"),
        ),
    )


class CouponSettings(Base):
    """Per-merchant coupon rules (absent row: defaults)."""

    __tablename__ = "coupon_settings"

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    reversal_window_minutes: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint(
            "reversal_window_minutes BETWEEN 0 AND 43200", name="reversal_window_range"
        ),
    )
