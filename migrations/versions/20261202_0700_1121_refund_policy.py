"""refund policy: offerings say whether a buyer may refund (随时退 / 过期退) and how long a
paid order stays usable; orders keep a snapshot of both

Revision ID: 1121
Revises: 1033
Create Date: 2026-12-02 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1121"
down_revision: str | Sequence[str] | None = "1033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICIES = "refund_policy IN ('anytime', 'before_expiry', 'none')"


def upgrade() -> None:
    # 'none' is what every existing offering and order did: only staff refund, never expire
    for table in ("offerings", "orders"):
        op.add_column(
            table,
            sa.Column("refund_policy", sa.String(16), nullable=False, server_default="none"),
        )
        op.create_check_constraint(op.f(f"ck_{table}_refund_policy_known"), table, POLICIES)
    op.add_column("offerings", sa.Column("valid_days", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_offerings_valid_days_range"),
        "offerings",
        "valid_days IS NULL OR valid_days BETWEEN 1 AND 3650",
    )
    op.add_column("orders", sa.Column("valid_days", sa.SmallInteger(), nullable=True))
    op.add_column("orders", sa.Column("usable_until", sa.DateTime(timezone=True), nullable=True))
    # the automatic refund's scan: paid orders that expire and refund themselves
    op.create_index(
        "ix_orders_paid_refund_on_expiry",
        "orders",
        ["usable_until"],
        postgresql_where=sa.text("status = 'paid' AND refund_policy = 'anytime'"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_paid_refund_on_expiry", table_name="orders")
    op.drop_column("orders", "usable_until")
    op.drop_column("orders", "valid_days")
    op.drop_constraint(op.f("ck_offerings_valid_days_range"), "offerings", type_="check")
    op.drop_column("offerings", "valid_days")
    for table in ("offerings", "orders"):
        op.drop_constraint(op.f(f"ck_{table}_refund_policy_known"), table, type_="check")
        op.drop_column(table, "refund_policy")
