"""customer analytics rollups

Revision ID: 0802
Revises: 0701
Create Date: 2026-11-23 12:46:17.040846+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Weekly rollups from the timeline already recorded (the same week and shard formulas as
# customers/repository/directory.py: local Monday in the merchant's zone, last id byte & 7).
SEGMENT_INCLUDE = [
    "f_score",
    "m_score",
    "visits",
    "total_spend",
    "last_visit_at",
    "first_seen_at",
    "tier",
    "refuses_calls",
]

BACKFILL = (
    """
    INSERT INTO customer_visit_weeks (customer_id, week, merchant_id)
    SELECT DISTINCT e.customer_id, CAST(date_trunc('week', e.at AT TIME ZONE m.timezone) AS date),
           e.merchant_id
    FROM customer_events AS e JOIN merchants AS m ON m.id = e.merchant_id
    WHERE e.visit
    """,
    """
    INSERT INTO customer_weeks (merchant_id, week, shard, revenue, visits, visitors)
    SELECT e.merchant_id, CAST(date_trunc('week', e.at AT TIME ZONE m.timezone) AS date),
           get_byte(uuid_send(e.customer_id), 15) & 7,
           sum(e.amount), count(*) FILTER (WHERE e.visit),
           count(DISTINCT e.customer_id) FILTER (WHERE e.visit)
    FROM customer_events AS e JOIN merchants AS m ON m.id = e.merchant_id
    GROUP BY 1, 2, 3
    """,
)


revision: str = "0802"
down_revision: str | Sequence[str] | None = "0701"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_weeks",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("visits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("visitors", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_customer_weeks_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("merchant_id", "week", "shard", name=op.f("pk_customer_weeks")),
    )
    op.create_table(
        "customer_visit_weeks",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_visit_weeks_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_customer_visit_weeks_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "week", name=op.f("pk_customer_visit_weeks")),
    )
    op.add_column(
        "customers",
        sa.Column(
            "usual_interval_days",
            sa.Float(),
            sa.Computed(
                "CASE WHEN visits >= 2 THEN greatest(extract(epoch FROM last_visit_at - "
                "first_visit_at) / 86400.0 / (visits - 1), 1.0) END",
                persisted=True,
            ),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_customers_churn",
        "customers",
        ["merchant_id", sa.literal_column("total_spend DESC")],
        unique=False,
        postgresql_include=["id", "last_visit_at", "usual_interval_days"],
        postgresql_where=sa.text("visits >= 2"),
    )
    op.create_index(
        "ix_customers_merchant_first_visit",
        "customers",
        ["merchant_id", "first_visit_at"],
        unique=False,
    )
    for statement in BACKFILL:
        op.execute(statement)
    # R becomes a key column of the segment index (range scans for recency rules)
    op.drop_index("ix_customers_segment_rules", table_name="customers")
    op.create_index(
        "ix_customers_segment_rules",
        "customers",
        ["merchant_id", "r_score"],
        unique=False,
        postgresql_include=SEGMENT_INCLUDE,
    )


def downgrade() -> None:
    op.drop_index("ix_customers_segment_rules", table_name="customers")
    op.create_index(
        "ix_customers_segment_rules",
        "customers",
        ["merchant_id"],
        unique=False,
        postgresql_include=["r_score", *SEGMENT_INCLUDE],
    )
    op.drop_index("ix_customers_merchant_first_visit", table_name="customers")
    op.drop_index(
        "ix_customers_churn",
        table_name="customers",
        postgresql_include=["id", "last_visit_at", "usual_interval_days"],
        postgresql_where=sa.text("visits >= 2"),
    )
    op.drop_column("customers", "usual_interval_days")
    op.drop_table("customer_visit_weeks")
    op.drop_table("customer_weeks")
