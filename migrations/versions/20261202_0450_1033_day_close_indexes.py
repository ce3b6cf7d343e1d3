"""day close: the day's ledger entries and redemptions of a merchant by time

Revision ID: 1033
Revises: 1022
Create Date: 2026-12-02 04:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1033"
down_revision: str | Sequence[str] | None = "1022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the day close reads one merchant's day; without these it scans every card's history
    op.create_index("ix_card_ledger_merchant_created", "card_ledger", ["merchant_id", "created_at"])
    op.create_index(
        "ix_coupon_redemptions_merchant_redeemed",
        "coupon_redemptions",
        ["merchant_id", "redeemed_at"],
    )
    op.create_index(
        "ix_coupon_redemptions_merchant_reversed",
        "coupon_redemptions",
        ["merchant_id", "reversed_at"],
        postgresql_where=sa.text("reversed_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_coupon_redemptions_merchant_reversed", table_name="coupon_redemptions")
    op.drop_index("ix_coupon_redemptions_merchant_redeemed", table_name="coupon_redemptions")
    op.drop_index("ix_card_ledger_merchant_created", table_name="card_ledger")
