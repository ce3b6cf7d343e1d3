"""Orders (bought online, consumed at the counter), bookings of time slots, booking reminders
and settlement statements.

Exactly-once lives in the database: an order changes state only by a conditional
`UPDATE … WHERE status = <expected>`; a slot's `booked` counter only by a conditional UPDATE
capped by a CHECK against its capacity; a statement is one row per merchant, period and
currency, frozen once the period is closed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, IdMixin, TimestampMixin

ORDER_STATUSES = ("pending_payment", "paid", "consumed", "refunded", "expired", "cancelled")


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    shop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shops.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # short human-typable code for the counter (12 Crockford characters, check included)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    # price snapshot: sum of the lines, then coupon, then tier discount, then points
    subtotal: Mapped[int] = mapped_column(BigInteger)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("coupons.id"))
    coupon_discount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    card_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cards.id"))
    card_discount_percent: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    card_discount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    points_used: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    points_value: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    # the card ledger entries this order wrote (points spent at order time, earned on use)
    points_entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card_ledger.id"))
    earn_entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card_ledger.id"))
    points_earned: Mapped[int | None] = mapped_column(BigInteger)
    redemption_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("coupon_redemptions.id"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consumed_shop_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("shops.id"))
    consumed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refunded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    refund_reference: Mapped[str | None] = mapped_column(String(64))
    # snapshot of the offerings' refund terms at order time (the strictest of its lines):
    # a later change of the offering does not change what the buyer was sold
    refund_policy: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    valid_days: Mapped[int | None] = mapped_column(SmallInteger)
    # paid_at + valid_days: past it the order can no longer be consumed
    usable_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_payment', 'paid', 'consumed', 'refunded', 'expired', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint(
            "subtotal >= 0 AND coupon_discount >= 0 AND card_discount >= 0 AND points_used >= 0"
            " AND points_value >= 0 AND total >= 0",
            name="amounts_non_negative",
        ),
        CheckConstraint(
            "total = subtotal - coupon_discount - card_discount - points_value",
            name="total_adds_up",
        ),
        CheckConstraint("(status = 'paid') <= (paid_at IS NOT NULL)", name="paid_has_time"),
        CheckConstraint(
            "(status = 'consumed') = (consumed_at IS NOT NULL)", name="consumed_has_time"
        ),
        CheckConstraint(
            "refund_policy IN ('anytime', 'before_expiry', 'none')", name="refund_policy_known"
        ),
        Index("ix_orders_user_created", "user_id", "created_at", "id"),
        Index("ix_orders_merchant_created", "merchant_id", "created_at"),
        # the expiry job's scan: only pending orders are indexed
        Index(
            "ix_orders_pending_expiry",
            "expires_at",
            postgresql_where=text("status = 'pending_payment'"),
        ),
        Index("ix_orders_merchant_consumed", "merchant_id", "consumed_at"),
        Index("ix_orders_merchant_paid", "merchant_id", "paid_at"),
        Index("ix_orders_merchant_refunded", "merchant_id", "refunded_at"),
        Index("ix_orders_user_shop", "user_id", "consumed_shop_id"),
        # the automatic refund's scan (orders.jobs.refund_expired_orders)
        Index(
            "ix_orders_paid_refund_on_expiry",
            "usable_until",
            postgresql_where=text("status = 'paid' AND refund_policy = 'anytime'"),
        ),
    )


class OrderItem(IdMixin, Base):
    __tablename__ = "order_items"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    offering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offerings.id"))
    name: Mapped[str] = mapped_column(String(120))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    position: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = (
        CheckConstraint("quantity >= 1 AND unit_price >= 0", name="positive"),
        CheckConstraint("line_total = unit_price * quantity", name="line_adds_up"),
        Index("ix_order_items_order", "order_id", "position"),
    )


class BookingRule(Base):
    """How an offering is booked (absent row: the default slot length, capacity 1)."""

    __tablename__ = "booking_rules"

    offering_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offerings.id", ondelete="CASCADE"), primary_key=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    slot_minutes: Mapped[int] = mapped_column(SmallInteger)
    capacity: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint("slot_minutes BETWEEN 5 AND 1440", name="slot_minutes_range"),
        CheckConstraint("capacity BETWEEN 1 AND 1000", name="capacity_range"),
    )


class BookingSlot(IdMixin, Base):
    """One bookable time slot of an offering; created on its first booking."""

    __tablename__ = "booking_slots"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    shop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    offering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offerings.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(SmallInteger)
    booked: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    __table_args__ = (
        UniqueConstraint("offering_id", "starts_at"),
        # the database's word on "never over capacity", whatever the application does
        CheckConstraint("booked >= 0 AND booked <= capacity", name="within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ordered"),
    )


class Booking(IdMixin, TimestampMixin, Base):
    __tablename__ = "bookings"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    shop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    offering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offerings.id", ondelete="CASCADE"))
    # null for a walk-in customer without the app, booked by staff (then `customer_id` names them)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    # the staff member who booked for a customer who phoned or came by; null: the customer did
    booked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("booking_slots.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    party_size: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    status: Mapped[str] = mapped_column(String(16), default="booked", server_default="booked")
    note: Mapped[str | None] = mapped_column(String(500))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    no_show_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'arrived', 'completed', 'no_show', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint("user_id IS NOT NULL OR customer_id IS NOT NULL", name="someone"),
        CheckConstraint("party_size >= 1", name="party_positive"),
        Index("ix_bookings_merchant_starts", "merchant_id", "starts_at"),
        Index("ix_bookings_user_starts", "user_id", "starts_at", "id"),
        Index("ix_bookings_customer_id", "customer_id"),
    )


class BookingReminder(IdMixin, Base):
    """Outbox of booking reminders: written with the booking, marked `due` by a job when its
    time comes; the push package's sender takes `due` rows from here (merge point)."""

    __tablename__ = "booking_reminders"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    remind_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # pending → due (job) → sent (push worker); cancelled with the booking
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(500))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'due', 'sent', 'cancelled')", name="status_known"),
        Index(
            "ix_booking_reminders_pending",
            "remind_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class SettlementStatement(IdMixin, Base):
    """What the platform owes a merchant for a calendar month (in the merchant's timezone)."""

    __tablename__ = "settlement_statements"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    fee_bps: Mapped[int] = mapped_column(Integer)
    # open: the period is running (regenerated on request); closed: frozen for good
    status: Mapped[str] = mapped_column(String(8))
    collected: Mapped[int] = mapped_column(BigInteger)
    refunded: Mapped[int] = mapped_column(BigInteger)
    consumed: Mapped[int] = mapped_column(BigInteger)
    fees: Mapped[int] = mapped_column(BigInteger)
    payable: Mapped[int] = mapped_column(BigInteger)
    orders_paid: Mapped[int] = mapped_column(Integer)
    orders_refunded: Mapped[int] = mapped_column(Integer)
    orders_consumed: Mapped[int] = mapped_column(Integer)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("merchant_id", "period", "currency"),
        CheckConstraint("status IN ('open', 'closed')", name="status_known"),
        CheckConstraint("payable = consumed - fees", name="payable_adds_up"),
        CheckConstraint("fees >= 0 AND fees <= consumed", name="fees_within_consumed"),
    )
