"""merchants.sms_sign_name: the merchant's own SMS signature (短信签名, the 【…】 a phone shows)
for the messages a merchant sends its customers (flash offers, birthday greetings); NULL means
the platform's `CORNER_SMS_SIGN_NAME`. Aliyun's rule for a signature: 2–12 characters, Chinese,
English letters or digits, no symbols or spaces.

Revision ID: 1202
Revises: 1201
Create Date: 2026-12-02 13:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1202"
down_revision: str | Sequence[str] | None = "1201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("merchants", sa.Column("sms_sign_name", sa.String(12)))


def downgrade() -> None:
    op.drop_column("merchants", "sms_sign_name")
