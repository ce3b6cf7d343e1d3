"""staff invitations: staff membership is offered, then accepted by the person

Revision ID: 1011
Revises: 0902
Create Date: 2026-12-02 04:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1011"
down_revision: str | Sequence[str] | None = "0902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("invitee_user_id", sa.Uuid(), nullable=True),
        sa.Column("invitee_phone", sa.String(length=20), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('owner', 'manager', 'clerk')", name=op.f("ck_staff_invitations_role")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'revoked')",
            name=op.f("ck_staff_invitations_status"),
        ),
        sa.CheckConstraint(
            "(invitee_user_id IS NULL) <> (invitee_phone IS NULL)",
            name=op.f("ck_staff_invitations_one_invitee"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_staff_invitations_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.id"],
            name=op.f("fk_staff_invitations_invited_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_invitations")),
    )
    op.create_index(
        "uq_staff_invitations_pending_user",
        "staff_invitations",
        ["merchant_id", "invitee_user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending' AND invitee_user_id IS NOT NULL"),
    )
    op.create_index(
        "uq_staff_invitations_pending_phone",
        "staff_invitations",
        ["merchant_id", "invitee_phone"],
        unique=True,
        postgresql_where=sa.text("status = 'pending' AND invitee_phone IS NOT NULL"),
    )
    op.create_index(
        "ix_staff_invitations_invitee_user_id",
        "staff_invitations",
        ["invitee_user_id"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_staff_invitations_invitee_phone",
        "staff_invitations",
        ["invitee_phone"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("staff_invitations")
