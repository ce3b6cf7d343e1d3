"""counter sales: a clerk sells a top-up or a count card at the counter (the member pays by the
QR on the tablet). Such a sale may be for a card whose holder has no app account (a walk-in or
imported member), so the buyer `user_id` becomes optional, and the sale remembers the shop and
the clerk so that the callback's ledger entries land in that shop's day close under that clerk.

Revision ID: 1151
Revises: 1113
Create Date: 2026-12-02 07:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1151"
down_revision: str | Sequence[str] | None = "1113"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("card_topups", "card_count_passes")


def upgrade() -> None:
    for table in TABLES:
        op.alter_column(table, "user_id", existing_type=sa.Uuid(), nullable=True)
        op.add_column(
            table,
            sa.Column("shop_id", sa.Uuid(), sa.ForeignKey("shops.id", ondelete="SET NULL")),
        )
        op.add_column(
            table,
            sa.Column("sold_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "sold_by")
        op.drop_column(table, "shop_id")
        op.execute(f"DELETE FROM {table} WHERE user_id IS NULL")
        op.alter_column(table, "user_id", existing_type=sa.Uuid(), nullable=False)
