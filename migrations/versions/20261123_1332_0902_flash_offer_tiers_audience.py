"""flash offer tiers audience

Revision ID: 0902
Revises: 0901
Create Date: 2026-11-23 13:32:39.629575+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0902"
down_revision: str | Sequence[str] | None = "0901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "flash_offers",
        sa.Column("tier_codes", postgresql.ARRAY(sa.String(length=32)), nullable=True),
    )
    op.add_column("flash_offers", sa.Column("program_id", sa.Uuid(), nullable=True))
    op.drop_constraint(op.f("ck_flash_offers_audience_kind"), "flash_offers", type_="check")
    op.create_check_constraint(
        op.f("ck_flash_offers_audience_kind"),
        "flash_offers",
        "audience_kind IN ('nearby', 'customers', 'segment', 'tiers')",
    )
    op.create_check_constraint(
        op.f("ck_flash_offers_tiers"),
        "flash_offers",
        "(audience_kind = 'tiers') = (tier_codes IS NOT NULL)"
        " AND (program_id IS NULL OR audience_kind = 'tiers')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM flash_offers WHERE audience_kind = 'tiers'")
    op.drop_constraint(op.f("ck_flash_offers_tiers"), "flash_offers", type_="check")
    op.drop_constraint(op.f("ck_flash_offers_audience_kind"), "flash_offers", type_="check")
    op.create_check_constraint(
        op.f("ck_flash_offers_audience_kind"),
        "flash_offers",
        "audience_kind IN ('nearby', 'customers', 'segment')",
    )
    op.drop_column("flash_offers", "program_id")
    op.drop_column("flash_offers", "tier_codes")
