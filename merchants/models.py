from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, IdMixin, TimestampMixin

PHOTO_KINDS = ("storefront", "interior", "product")


class Shop(IdMixin, TimestampMixin, Base):
    __tablename__ = "shops"

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(32), index=True)
    # WGS-84 geography; conversions to GCJ-02/BD-09 happen at the API edge (geo/)
    location: Mapped[Any] = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False)
    )
    address: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    opening_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # dated exceptions (merchants/opening.py): `[{date, until, closed, open, close, note}]`
    special_hours: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=sql_text("'[]'::jsonb")
    )
    # the shop's screen in the app: a text about it and short feature tags ("wifi", "停车")
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    features: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default="{}"
    )
    # public-service places (banks, post offices, clinics): found by search, never sell
    discovery_only: Mapped[bool] = mapped_column(default=False, server_default="false")
    # kept current by every review insert (one conditional UPDATE), so sort=rating is a column
    review_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rating: Mapped[Decimal] = mapped_column(Numeric(3, 2), default=0, server_default="0")
    # soft delete: coupons, redemptions and orders keep pointing at a closed shop
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_shops_location", "location", postgresql_using="gist"),
        CheckConstraint("review_count >= 0 AND rating_total >= 0", name="rating_counts"),
    )


class ShopPhoto(IdMixin, Base):
    __tablename__ = "shop_photos"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    shop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    # the order the shop shows its photos in (PUT /v1/shops/{id}/photos/order), then id
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('storefront', 'interior', 'product')", name="kind"),
        Index("ix_shop_photos_shop_id", "shop_id", "position", "id"),
    )


class Offering(IdMixin, TimestampMixin, Base):
    """A service or product a shop sells (a haircut, a shirt wash, a bowl of noodles)."""

    __tablename__ = "offerings"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    shop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    photo_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("shop_photos.id", ondelete="SET NULL")
    )
    bookable: Mapped[bool] = mapped_column(default=False, server_default="false")
    # archived offerings (DELETE) leave the menu; orders keep their own snapshot of the price
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # what a buyer may do with a paid, unconsumed order (orders.service.refunds); 'none' is
    # the behaviour from before policies existed: only the merchant refunds
    refund_policy: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    # a paid order is usable for this many days (None: no end)
    valid_days: Mapped[int | None] = mapped_column(SmallInteger)

    __table_args__ = (
        CheckConstraint("price_amount >= 0", name="price_non_negative"),
        CheckConstraint(
            "refund_policy IN ('anytime', 'before_expiry', 'none')", name="refund_policy_known"
        ),
        CheckConstraint(
            "valid_days IS NULL OR valid_days BETWEEN 1 AND 3650", name="valid_days_range"
        ),
        Index("ix_offerings_shop_id", "shop_id", "id"),
    )


class Review(IdMixin, Base):
    """A star rating with text; `verified` when tied to the reviewer's own consumption."""

    __tablename__ = "reviews"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    shop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    verified: Mapped[bool] = mapped_column(default=False, server_default="false")
    # references to the consumption reviewed; no FK yet (those tables belong to other packages)
    redemption_id: Mapped[uuid.UUID | None] = mapped_column()
    order_id: Mapped[uuid.UUID | None] = mapped_column()
    card_transaction_id: Mapped[uuid.UUID | None] = mapped_column()
    reply_text: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint(
            "num_nonnulls(redemption_id, order_id, card_transaction_id) <= 1",
            name="one_reference",
        ),
        Index("ix_reviews_shop_id", "shop_id", "id"),
        Index("ix_reviews_shop_verified", "shop_id", "verified", "id"),
        # one review per consumption, and one general review per user and shop
        Index(
            "uq_reviews_redemption_id",
            "redemption_id",
            unique=True,
            postgresql_where=sql_text("redemption_id IS NOT NULL"),
        ),
        Index(
            "uq_reviews_order_id",
            "order_id",
            unique=True,
            postgresql_where=sql_text("order_id IS NOT NULL"),
        ),
        Index(
            "uq_reviews_card_transaction_id",
            "card_transaction_id",
            unique=True,
            postgresql_where=sql_text("card_transaction_id IS NOT NULL"),
        ),
        Index(
            "uq_reviews_general_per_user",
            "shop_id",
            "user_id",
            unique=True,
            postgresql_where=sql_text(
                "redemption_id IS NULL AND order_id IS NULL AND card_transaction_id IS NULL"
            ),
        ),
    )
