from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, IdMixin

FOLLOW_UP_METHODS = ("phone", "sms", "wechat", "visit", "email")
COMPLAINT_STATUSES = ("open", "responded", "resolved", "closed")
INTEREST_LEVELS = ("high", "medium", "low")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Customer(IdMixin, Base):
    """One row per (merchant, user) who interacted with the merchant; counters kept current.

    `name` and `phone` are copied from the user when the record is created so the directory
    can search and sort without reaching into another package's tables; staff may edit `name`.
    RFM scores are refreshed by the `customers.refresh_rfm` job (window functions over the
    merchant's customers are too slow to run inside every segment count).
    """

    __tablename__ = "customers"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    # null for a customer staff added (walk-in, member book) until that phone signs in to the
    # app: then the account is linked (customers.service.link_customers_to_user)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    birthday: Mapped[date | None] = mapped_column(Date)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_visit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_visit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_purchase_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    visits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # bookings the customer did not come to (staff marked them no_show on the bookings board)
    no_shows: Mapped[int] = mapped_column(Integer, server_default="0")
    total_spend: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    source: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    tier: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default=text("'{}'::varchar[]")
    )
    notes: Mapped[str | None] = mapped_column(Text)
    refuses_calls: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    interest_level: Mapped[str | None] = mapped_column(String(8))
    r_score: Mapped[int | None] = mapped_column(SmallInteger)
    f_score: Mapped[int | None] = mapped_column(SmallInteger)
    m_score: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_segment: Mapped[str | None] = mapped_column(String(24))
    rfm_scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The customer's own mean time between visits (days, at least rfm.MIN_INTERVAL_DAYS), kept by
    # PostgreSQL on every upsert so the churn list reads it instead of computing it per request.
    usual_interval_days: Mapped[float | None] = mapped_column(
        Float,
        Computed(
            "CASE WHEN visits >= 2 THEN greatest(extract(epoch FROM last_visit_at - "
            "first_visit_at) / 86400.0 / (visits - 1), 1.0) END",
            persisted=True,
        ),
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("merchant_id", "user_id"),
        CheckConstraint("visits >= 0", name="visits_non_negative"),
        CheckConstraint("total_spend >= 0", name="spend_non_negative"),
        CheckConstraint(
            f"interest_level IS NULL OR {_in('interest_level', INTEREST_LEVELS)}",
            name="interest_level",
        ),
        # keyset orders of the directory: (merchant, sort key, id), scanned backwards
        Index("ix_customers_merchant_last_visit", "merchant_id", "last_visit_at", "id"),
        Index("ix_customers_merchant_total_spend", "merchant_id", "total_spend", "id"),
        Index("ix_customers_merchant_visits", "merchant_id", "visits", "id"),
        Index(
            "ix_customers_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        Index(
            "ix_customers_phone_trgm",
            "phone",
            postgresql_using="gin",
            postgresql_ops={"phone": "gin_trgm_ops"},
        ),
        Index("ix_customers_tags", "tags", postgresql_using="gin"),
        # the counter finds members by phone; one walk-in record per phone and merchant
        Index("ix_customers_merchant_phone", "merchant_id", "phone"),
        Index(
            "uq_customers_walk_in_phone",
            "merchant_id",
            "phone",
            unique=True,
            postgresql_where=text("user_id IS NULL"),
        ),
        Index("ix_customers_unlinked_phone", "phone", postgresql_where=text("user_id IS NULL")),
        # Segment counts read only rule columns: an index-only scan of this narrow index reads
        # ~3x fewer pages than the heap (name, phone, notes, tags live there). R is a key
        # column so the usual recency rules (r_score ≤ 2 …) scan a range, not every customer.
        Index(
            "ix_customers_segment_rules",
            "merchant_id",
            "r_score",
            postgresql_include=[
                "f_score",
                "m_score",
                "visits",
                "total_spend",
                "last_visit_at",
                "first_seen_at",
                "tier",
                "refuses_calls",
            ],
        ),
        # Churn list: customers with an interval, biggest spenders first, read index-only.
        Index(
            "ix_customers_churn",
            "merchant_id",
            text("total_spend DESC"),
            postgresql_include=["id", "last_visit_at", "usual_interval_days"],
            postgresql_where=text("visits >= 2"),
        ),
        # New customers by week: first visits in a range.
        Index("ix_customers_merchant_first_visit", "merchant_id", "first_visit_at"),
        # Birthday greetings: the merchant's customers born on a month and day.
        Index(
            "ix_customers_merchant_birthday_md",
            "merchant_id",
            text("(EXTRACT(month FROM birthday))"),
            text("(EXTRACT(day FROM birthday))"),
            postgresql_where=text("birthday IS NOT NULL"),
        ),
    )


class CustomerEvent(Base):
    """Append-only timeline: one row per activity reported through `record_activity`.

    Analytics (revenue and visits by week, new vs returning) read this table, so the timeline
    and the weekly figures exist without querying the packages that reported the events.
    """

    __tablename__ = "customer_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    visit: Mapped[bool] = mapped_column(Boolean)
    amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    reference_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_customer_events_customer_at", "customer_id", "at", "id"),
        Index("ix_customer_events_merchant_at", "merchant_id", "at"),
    )


# Shards of a merchant's week row. Every event of a merchant updates one of them and holds its
# lock until commit, so under concurrent redemptions 8 shards were a queue; 32 spread them.
WEEK_SHARDS = 32


class CustomerWeek(Base):
    """Weekly figures of a merchant (local Monday in the merchant's time zone), maintained by
    `record_activity` in the same statement as the customer upsert: analytics reads ≤ 104 rows
    instead of the timeline. Split into shards by customer so concurrent events of one merchant
    do not all queue on one row lock until commit; readers sum the shards (a customer always
    lands in the same shard, so distinct visitors add up)."""

    __tablename__ = "customer_weeks"

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    visits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    visitors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CustomerVisitWeek(Base):
    """One row per (customer, local week with a visit): the first visit of a week inserts it,
    and only that insert counts the customer as a visitor in `customer_weeks`."""

    __tablename__ = "customer_visit_weeks"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))


class CustomerAccessLog(Base):
    """Who viewed or exported customer data, and when (personal data access audit)."""

    __tablename__ = "customer_access_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    staff_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(24))
    customer_id: Mapped[uuid.UUID | None] = mapped_column()
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_customer_access_log_merchant_at", "merchant_id", "at"),)


class Segment(IdMixin, Base):
    __tablename__ = "customer_segments"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_customer_segments_merchant_id", "merchant_id", "id"),)


class FollowUp(IdMixin, Base):
    """A follow-up (回访) record; kept at least three years (no delete route)."""

    __tablename__ = "follow_ups"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    method: Mapped[str] = mapped_column(String(8))
    content: Mapped[str] = mapped_column(Text)
    issues_found: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    task_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("method", FOLLOW_UP_METHODS), name="method"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        Index("ix_follow_ups_merchant_occurred", "merchant_id", "occurred_at", "id"),
        Index("ix_follow_ups_customer_occurred", "customer_id", "occurred_at"),
    )


class FollowUpPlan(IdMixin, Base):
    """Rules that schedule follow-ups: days after a first purchase, or every N days by interest."""

    __tablename__ = "follow_up_plans"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    trigger: Mapped[str] = mapped_column(String(16))
    offsets_days: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), default=list, server_default=text("'{}'::integer[]")
    )
    interest_level: Mapped[str | None] = mapped_column(String(8))
    every_days: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("trigger IN ('first_purchase', 'interest_level')", name="trigger"),
        CheckConstraint(_in("method", FOLLOW_UP_METHODS), name="method"),
        CheckConstraint("every_days IS NULL OR every_days > 0", name="every_days_positive"),
        Index("ix_follow_up_plans_merchant_id", "merchant_id"),
    )


class FollowUpTask(IdMixin, Base):
    """A scheduled follow-up (from a plan or a record's `next_at`), done by a later record."""

    __tablename__ = "follow_up_tasks"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("follow_up_plans.id", ondelete="SET NULL")
    )
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    method: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    follow_up_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("follow_ups.id", ondelete="SET NULL")
    )
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the staff member who should do it (null: anyone); removing them hands it to a manager
    assignee: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # the resolved complaint this follow-up checks on (reason complaint_resolved)
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done', 'cancelled')", name="status"),
        CheckConstraint(_in("method", FOLLOW_UP_METHODS), name="method"),
        # a plan schedules one task per customer and due time, however often its job runs
        UniqueConstraint("plan_id", "customer_id", "due_at"),
        Index("ix_follow_up_tasks_merchant_status_due", "merchant_id", "status", "due_at"),
        Index("ix_follow_up_tasks_customer_id", "customer_id"),
        Index(
            "ix_follow_up_tasks_merchant_assignee",
            "merchant_id",
            "assignee",
            postgresql_where=text("status = 'pending'"),
        ),
        # the triggers' idempotency: one follow-up per resolved complaint, and one pending
        # churn-risk follow-up per customer, however often (and concurrently) they fire
        Index(
            "uq_follow_up_tasks_complaint",
            "complaint_id",
            unique=True,
            postgresql_where=text("reason = 'complaint_resolved'"),
        ),
        Index(
            "uq_follow_up_tasks_churn_pending",
            "customer_id",
            unique=True,
            postgresql_where=text("reason = 'churn_risk' AND status = 'pending'"),
        ),
    )


class Complaint(IdMixin, Base):
    __tablename__ = "complaints"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open", server_default="open")
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    handled_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    assignee: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # set once by the escalation job when the complaint is still open past its due time
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("status", COMPLAINT_STATUSES), name="status"),
        CheckConstraint("source IN ('customer', 'staff')", name="source"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        Index("ix_complaints_merchant_status_due", "merchant_id", "status", "due_at"),
        Index("ix_complaints_merchant_opened", "merchant_id", "opened_at"),
        Index("ix_complaints_customer_id", "customer_id"),
        Index("ix_complaints_merchant_assignee", "merchant_id", "assignee"),
        Index(
            "ix_complaints_to_escalate",
            "due_at",
            postgresql_where=text("status = 'open' AND escalated_at IS NULL"),
        ),
    )


class ServiceDeskNotice(IdMixin, Base):
    """Outbox of service-desk notices to staff (an escalated complaint to each manager):
    written in the escalating transaction, sent by push's job (devices, else SMS), marked
    `sent` or `failed` there. One per (complaint, staff member, kind)."""

    __tablename__ = "service_desk_notices"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    channel: Mapped[str | None] = mapped_column(String(8))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        UniqueConstraint("complaint_id", "user_id", "kind"),
        Index(
            "ix_service_desk_notices_pending",
            "created_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )
