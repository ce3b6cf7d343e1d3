"""push devices provider: a device registers with FCM (default) or JPush

Revision ID: 1042
Revises: 1032
Create Date: 2026-12-02 04:33:31.223483+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1042"
down_revision: str | Sequence[str] | None = "1032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "push_devices",
        sa.Column("provider", sa.String(length=8), server_default="fcm", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_push_devices_provider"), "push_devices", "provider IN ('fcm', 'jpush')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_push_devices_provider"), "push_devices", type_="check")
    op.drop_column("push_devices", "provider")
