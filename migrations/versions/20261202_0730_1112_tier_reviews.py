"""tier reviews: a programme may move cards down when their rolling 12-month spend falls below
their tier's threshold; every tier change of a card is recorded

Revision ID: 1112
Revises: 1111
Create Date: 2026-12-02 07:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1112"
down_revision: str | Sequence[str] | None = "1111"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "card_programs",
        sa.Column("tier_downgrade", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "card_tier_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("from_tier", sa.String(32), nullable=False),
        sa.Column("to_tier", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("spend_12m", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "direction IN ('up', 'down')", name=op.f("ck_card_tier_changes_direction")
        ),
        sa.CheckConstraint(
            "reason IN ('purchase', 'review')", name=op.f("ck_card_tier_changes_reason")
        ),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["cards.id"],
            name=op.f("fk_card_tier_changes_card_id_cards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_tier_changes_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_tier_changes")),
    )
    op.create_index(
        "ix_card_tier_changes_card_created", "card_tier_changes", ["card_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_card_tier_changes_card_created", table_name="card_tier_changes")
    op.drop_table("card_tier_changes")
    op.drop_column("card_programs", "tier_downgrade")
