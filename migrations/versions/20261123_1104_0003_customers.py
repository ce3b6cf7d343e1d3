"""customers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:04:43.255540+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_visit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("visits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_spend", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("total_spend >= 0", name=op.f("ck_customers_spend_non_negative")),
        sa.CheckConstraint("visits >= 0", name=op.f("ck_customers_visits_non_negative")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_customers_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_customers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "merchant_id", "user_id", name=op.f("uq_customers_merchant_id_user_id")
        ),
    )
    op.create_index(
        "ix_customers_merchant_last_visit",
        "customers",
        ["merchant_id", "last_visit_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_customers_merchant_last_visit", table_name="customers")
    op.drop_table("customers")
