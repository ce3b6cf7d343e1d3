"""JPush cids kept with their delivery: JPush's dedup key (`cid`) must be one it issued
(`GET /v3/push/cid`); the sender stores the one it fetched on the delivery, committed before
the push, so a resend after a crash or an expired lease carries the same cid and JPush shows it
once. NULL until the first JPush send (FCM and SMS deliveries never have one).

Revision ID: 1201
Revises: 1151
Create Date: 2026-12-02 13:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1201"
down_revision: str | Sequence[str] | None = "1151"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("flash_offer_deliveries", sa.Column("jpush_cid", sa.String(80)))


def downgrade() -> None:
    op.drop_column("flash_offer_deliveries", "jpush_cid")
