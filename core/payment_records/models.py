"""The tables of durable payments: `payments` (one row per payment), `payment_calls` (the
outbox of provider calls decided in a committed transaction) and `payment_events` (every
callback and query answer, applied or not).

The CHECKs hold the money invariants in the database: `refunded` stays within `amount`, and
only a succeeded payment has refunds; a refund call always carries its refund number and a
positive amount.
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
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import new_id
from core.models import Base, IdMixin, TimestampMixin

PAYMENT_KINDS = ("order", "topup", "count_pass")
PAYMENT_STATUSES = ("pending", "succeeded", "failed", "closed")
CALL_STATUSES = ("pending", "sent", "succeeded", "failed")


class Payment(IdMixin, TimestampMixin, Base):
    __tablename__ = "payments"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID]  # the order, top-up or count pass paid for
    provider: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # out_trade_no
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_transaction_id: Mapped[str | None] = mapped_column(String(64))
    instructions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_query_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('order', 'topup', 'count_pass')", name="kind_known"),
        CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'closed')", name="status_known"
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded >= 0 AND refunded <= amount", name="refunded_within_amount"),
        CheckConstraint("refunded = 0 OR status = 'succeeded'", name="refunds_follow_payment"),
        Index("ix_payments_subject", "subject_id"),
        # the reconciliation job's scan: pending payments only
        Index("ix_payments_pending", "next_query_at", postgresql_where=text("status = 'pending'")),
    )


class PaymentCall(IdMixin, TimestampMixin, Base):
    """Outbox: a provider call decided in a committed transaction (refund, close)."""

    __tablename__ = "payment_calls"

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    refund_no: Mapped[str | None] = mapped_column(String(64), unique=True)  # out_refund_no
    amount: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('refund', 'close')", name="kind_known"),
        CheckConstraint(
            "status IN ('pending', 'sent', 'succeeded', 'failed')", name="status_known"
        ),
        CheckConstraint(
            "(kind = 'refund') = (refund_no IS NOT NULL AND amount > 0)", name="refund_has_amount"
        ),
        Index(
            "ix_payment_calls_due", "next_attempt_at", postgresql_where=text("status = 'pending'")
        ),
        Index("ix_payment_calls_payment", "payment_id"),
    )


class PaymentEvent(Base):
    """Every callback and query answer, applied or not (the audit trail of refusals)."""

    __tablename__ = "payment_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_payment_events_reference", "reference", "created_at"),)
