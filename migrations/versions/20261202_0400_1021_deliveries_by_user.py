"""flash offer deliveries by user (the consumer's offer inbox, /v1/me/offers)

Revision ID: 1021
Revises: 1042
Create Date: 2026-12-02 04:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1021"
down_revision: str | Sequence[str] | None = "1042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_flash_offer_deliveries_user_offer",
        "flash_offer_deliveries",
        ["user_id", "offer_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_flash_offer_deliveries_user_offer", table_name="flash_offer_deliveries")
