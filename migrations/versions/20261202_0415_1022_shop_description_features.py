"""shops gain a description and feature tags (the shop page, /v1/shops/{shop_id}/page)

Revision ID: 1022
Revises: 1021
Create Date: 2026-12-02 04:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1022"
down_revision: str | Sequence[str] | None = "1021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("shops", sa.Column("description", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "shops",
        sa.Column(
            "features",
            postgresql.ARRAY(sa.String(length=32)),
            server_default="{}",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("shops", "features")
    op.drop_column("shops", "description")
