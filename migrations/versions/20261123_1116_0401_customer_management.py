"""customer management

Revision ID: 0401
Revises: 0003
Create Date: 2026-11-23 11:16:08.979376+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0401"
down_revision: str | Sequence[str] | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_access_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("staff_user_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_customer_access_log_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["users.id"],
            name=op.f("fk_customer_access_log_staff_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_access_log")),
    )
    op.create_index(
        "ix_customer_access_log_merchant_at",
        "customer_access_log",
        ["merchant_id", "at"],
        unique=False,
    )
    op.create_table(
        "customer_segments",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_customer_segments_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_customer_segments_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_segments")),
    )
    op.create_index(
        "ix_customer_segments_merchant_id", "customer_segments", ["merchant_id", "id"], unique=False
    )
    op.create_table(
        "follow_up_plans",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column(
            "offsets_days",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{}'::integer[]"),
            nullable=False,
        ),
        sa.Column("interest_level", sa.String(length=8), nullable=True),
        sa.Column("every_days", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "method IN ('phone', 'sms', 'wechat', 'visit', 'email')",
            name=op.f("ck_follow_up_plans_method"),
        ),
        sa.CheckConstraint(
            "trigger IN ('first_purchase', 'interest_level')",
            name=op.f("ck_follow_up_plans_trigger"),
        ),
        sa.CheckConstraint(
            "every_days IS NULL OR every_days > 0",
            name=op.f("ck_follow_up_plans_every_days_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_follow_up_plans_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_plans")),
    )
    op.create_index(
        "ix_follow_up_plans_merchant_id", "follow_up_plans", ["merchant_id"], unique=False
    )
    op.create_table(
        "complaints",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="open", nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("handled_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("source IN ('customer', 'staff')", name=op.f("ck_complaints_source")),
        sa.CheckConstraint(
            "status IN ('open', 'responded', 'resolved', 'closed')",
            name=op.f("ck_complaints_status"),
        ),
        sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name=op.f("ck_complaints_satisfaction")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_complaints_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handled_by"],
            ["users.id"],
            name=op.f("fk_complaints_handled_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_complaints_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["users.id"],
            name=op.f("fk_complaints_recorded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index("ix_complaints_customer_id", "complaints", ["customer_id"], unique=False)
    op.create_index(
        "ix_complaints_merchant_opened", "complaints", ["merchant_id", "opened_at"], unique=False
    )
    op.create_index(
        "ix_complaints_merchant_status_due",
        "complaints",
        ["merchant_id", "status", "due_at"],
        unique=False,
    )
    op.create_table(
        "customer_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visit", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("reference_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_customer_events_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_events")),
    )
    op.create_index(
        "ix_customer_events_customer_at",
        "customer_events",
        ["customer_id", "at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_customer_events_merchant_at", "customer_events", ["merchant_id", "at"], unique=False
    )
    op.create_table(
        "follow_ups",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("staff_user_id", sa.Uuid(), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("issues_found", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "method IN ('phone', 'sms', 'wechat', 'visit', 'email')",
            name=op.f("ck_follow_ups_method"),
        ),
        sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name=op.f("ck_follow_ups_satisfaction")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_follow_ups_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_follow_ups_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["users.id"],
            name=op.f("fk_follow_ups_staff_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    op.create_index(
        "ix_follow_ups_customer_occurred",
        "follow_ups",
        ["customer_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_follow_ups_merchant_occurred",
        "follow_ups",
        ["merchant_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_table(
        "follow_up_tasks",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "method IN ('phone', 'sms', 'wechat', 'visit', 'email')",
            name=op.f("ck_follow_up_tasks_method"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'cancelled')", name=op.f("ck_follow_up_tasks_status")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_follow_up_tasks_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_ups.id"],
            name=op.f("fk_follow_up_tasks_follow_up_id_follow_ups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_follow_up_tasks_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["follow_up_plans.id"],
            name=op.f("fk_follow_up_tasks_plan_id_follow_up_plans"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_tasks")),
        sa.UniqueConstraint(
            "plan_id",
            "customer_id",
            "due_at",
            name=op.f("uq_follow_up_tasks_plan_id_customer_id_due_at"),
        ),
    )
    op.create_index(
        "ix_follow_up_tasks_customer_id", "follow_up_tasks", ["customer_id"], unique=False
    )
    op.create_index(
        "ix_follow_up_tasks_merchant_status_due",
        "follow_up_tasks",
        ["merchant_id", "status", "due_at"],
        unique=False,
    )
    op.add_column(
        "customers", sa.Column("first_visit_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "customers", sa.Column("first_purchase_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("customers", sa.Column("name", sa.String(length=64), nullable=True))
    op.add_column("customers", sa.Column("phone", sa.String(length=20), nullable=True))
    op.add_column("customers", sa.Column("tier", sa.String(length=32), nullable=True))
    op.add_column(
        "customers",
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.String(length=32)),
            server_default=sa.text("'{}'::varchar[]"),
            nullable=False,
        ),
    )
    op.add_column("customers", sa.Column("notes", sa.Text(), nullable=True))
    op.add_column(
        "customers",
        sa.Column("refuses_calls", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("customers", sa.Column("interest_level", sa.String(length=8), nullable=True))
    op.add_column("customers", sa.Column("r_score", sa.SmallInteger(), nullable=True))
    op.add_column("customers", sa.Column("f_score", sa.SmallInteger(), nullable=True))
    op.add_column("customers", sa.Column("m_score", sa.SmallInteger(), nullable=True))
    op.add_column("customers", sa.Column("rfm_segment", sa.String(length=24), nullable=True))
    op.add_column(
        "customers", sa.Column("rfm_scored_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "customers",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_customers_merchant_total_spend",
        "customers",
        ["merchant_id", "total_spend", "id"],
        unique=False,
    )
    op.create_index(
        "ix_customers_merchant_visits", "customers", ["merchant_id", "visits", "id"], unique=False
    )
    op.create_index(
        "ix_customers_name_trgm",
        "customers",
        ["name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_customers_phone_trgm",
        "customers",
        ["phone"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"phone": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_customers_tags", "customers", ["tags"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "ix_customers_segment_rules",
        "customers",
        ["merchant_id"],
        unique=False,
        postgresql_include=[
            "r_score",
            "f_score",
            "m_score",
            "visits",
            "total_spend",
            "last_visit_at",
            "first_seen_at",
            "tier",
            "refuses_calls",
        ],
    )
    # CHECK constraints on an existing table are not autogenerated
    op.create_check_constraint(
        op.f("ck_customers_interest_level"),
        "customers",
        "interest_level IS NULL OR interest_level IN ('high', 'medium', 'low')",
    )
    # customers recorded before this revision: copy identity, approximate first visit/purchase
    op.execute(
        """
        UPDATE customers AS c
        SET name = u.display_name, phone = u.phone,
            first_visit_at = CASE WHEN c.visits > 0 THEN c.first_seen_at END,
            first_purchase_at = CASE WHEN c.total_spend > 0 THEN c.first_seen_at END
        FROM users AS u
        WHERE u.id = c.user_id
        """
    )


def downgrade() -> None:
    op.drop_index("ix_customers_segment_rules", table_name="customers")
    op.drop_constraint(op.f("ck_customers_interest_level"), "customers", type_="check")
    op.drop_index("ix_customers_tags", table_name="customers", postgresql_using="gin")
    op.drop_index(
        "ix_customers_phone_trgm",
        table_name="customers",
        postgresql_using="gin",
        postgresql_ops={"phone": "gin_trgm_ops"},
    )
    op.drop_index(
        "ix_customers_name_trgm",
        table_name="customers",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.drop_index("ix_customers_merchant_visits", table_name="customers")
    op.drop_index("ix_customers_merchant_total_spend", table_name="customers")
    op.drop_column("customers", "updated_at")
    op.drop_column("customers", "rfm_scored_at")
    op.drop_column("customers", "rfm_segment")
    op.drop_column("customers", "m_score")
    op.drop_column("customers", "f_score")
    op.drop_column("customers", "r_score")
    op.drop_column("customers", "interest_level")
    op.drop_column("customers", "refuses_calls")
    op.drop_column("customers", "notes")
    op.drop_column("customers", "tags")
    op.drop_column("customers", "tier")
    op.drop_column("customers", "phone")
    op.drop_column("customers", "name")
    op.drop_column("customers", "first_purchase_at")
    op.drop_column("customers", "first_visit_at")
    op.drop_index("ix_follow_up_tasks_merchant_status_due", table_name="follow_up_tasks")
    op.drop_index("ix_follow_up_tasks_customer_id", table_name="follow_up_tasks")
    op.drop_table("follow_up_tasks")
    op.drop_index("ix_follow_ups_merchant_occurred", table_name="follow_ups")
    op.drop_index("ix_follow_ups_customer_occurred", table_name="follow_ups")
    op.drop_table("follow_ups")
    op.drop_index("ix_customer_events_merchant_at", table_name="customer_events")
    op.drop_index("ix_customer_events_customer_at", table_name="customer_events")
    op.drop_table("customer_events")
    op.drop_index("ix_complaints_merchant_status_due", table_name="complaints")
    op.drop_index("ix_complaints_merchant_opened", table_name="complaints")
    op.drop_index("ix_complaints_customer_id", table_name="complaints")
    op.drop_table("complaints")
    op.drop_index("ix_follow_up_plans_merchant_id", table_name="follow_up_plans")
    op.drop_table("follow_up_plans")
    op.drop_index("ix_customer_segments_merchant_id", table_name="customer_segments")
    op.drop_table("customer_segments")
    op.drop_index("ix_customer_access_log_merchant_at", table_name="customer_access_log")
    op.drop_table("customer_access_log")
