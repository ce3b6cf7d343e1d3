"""birthdays: a per-merchant birthday rule and one greeting per customer and year

Revision ID: 1103
Revises: 1102
Create Date: 2026-12-02 07:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1103"
down_revision: str | Sequence[str] | None = "1102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "birthday_rules",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("days_before", sa.SmallInteger(), server_default="3", nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(8), server_default="push", nullable=False),
        sa.Column("message", sa.String(200), server_default="", nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "days_before BETWEEN 0 AND 60", name=op.f("ck_birthday_rules_days_before")
        ),
        sa.CheckConstraint("channel IN ('push', 'sms')", name=op.f("ck_birthday_rules_channel")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_birthday_rules_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["coupon_campaigns.id"],
            name=op.f("fk_birthday_rules_campaign_id_coupon_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_birthday_rules_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_birthday_rules")),
    )
    op.create_table(
        "birthday_greetings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("birthday_on", sa.Date(), nullable=False),
        sa.Column("greeted_on", sa.Date(), nullable=False),
        sa.Column("coupon_issued", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("delivery", sa.String(12), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "delivery IN ('sent', 'no_device', 'no_phone', 'failed', 'no_message')",
            name=op.f("ck_birthday_greetings_delivery"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_birthday_greetings_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_birthday_greetings_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_birthday_greetings")),
        sa.UniqueConstraint(
            "merchant_id",
            "customer_id",
            "year",
            name=op.f("uq_birthday_greetings_merchant_id_customer_id_year"),
        ),
    )
    # the job finds customers by the month and day of their birthday
    op.create_index(
        "ix_customers_merchant_birthday_md",
        "customers",
        [
            "merchant_id",
            sa.text("(EXTRACT(month FROM birthday))"),
            sa.text("(EXTRACT(day FROM birthday))"),
        ],
        postgresql_where=sa.text("birthday IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_customers_merchant_birthday_md", table_name="customers")
    op.drop_table("birthday_greetings")
    op.drop_table("birthday_rules")
