"""users.phone_verified_at: customer records and cards merchants made for a phone are linked to
an account only once that account proved the phone by an SMS code

Revision ID: 1113
Revises: 1112
Create Date: 2026-12-02 07:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1113"
down_revision: str | Sequence[str] | None = "1112"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("phone_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    # accounts a first SMS sign-in created proved their phone then (no password: '!no-password')
    op.execute(
        "UPDATE users SET phone_verified_at = created_at"
        " WHERE phone IS NOT NULL AND password_hash = '!no-password'"
    )


def downgrade() -> None:
    op.drop_column("users", "phone_verified_at")
