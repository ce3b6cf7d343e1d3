"""service desk: assignees, complaint escalation and its notices, new follow-up triggers

Revision ID: 1102
Revises: 1101
Create Date: 2026-12-02 07:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1102"
down_revision: str | Sequence[str] | None = "1101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("follow_up_tasks", "complaints"):
        op.add_column(table, sa.Column("assignee", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_assignee_users"),
            table,
            "users",
            ["assignee"],
            ["id"],
            ondelete="SET NULL",
        )
    op.add_column("follow_up_tasks", sa.Column("complaint_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_follow_up_tasks_complaint_id_complaints"),
        "follow_up_tasks",
        "complaints",
        ["complaint_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        "ix_follow_up_tasks_merchant_assignee",
        "follow_up_tasks",
        ["merchant_id", "assignee"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    # one follow-up per resolved complaint; one pending churn-risk follow-up per customer
    op.create_index(
        "uq_follow_up_tasks_complaint",
        "follow_up_tasks",
        ["complaint_id"],
        unique=True,
        postgresql_where=sa.text("reason = 'complaint_resolved'"),
    )
    op.create_index(
        "uq_follow_up_tasks_churn_pending",
        "follow_up_tasks",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text("reason = 'churn_risk' AND status = 'pending'"),
    )
    op.add_column("complaints", sa.Column("escalated_at", sa.DateTime(timezone=True)))
    op.create_index("ix_complaints_merchant_assignee", "complaints", ["merchant_id", "assignee"])
    op.create_index(
        "ix_complaints_to_escalate",
        "complaints",
        ["due_at"],
        postgresql_where=sa.text("status = 'open' AND escalated_at IS NULL"),
    )
    op.create_table(
        "service_desk_notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("body", sa.String(500), nullable=False),
        sa.Column("status", sa.String(12), server_default="pending", nullable=False),
        sa.Column("channel", sa.String(8), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_service_desk_notices_status")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_service_desk_notices_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_service_desk_notices_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_service_desk_notices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_desk_notices")),
        sa.UniqueConstraint(
            "complaint_id",
            "user_id",
            "kind",
            name=op.f("uq_service_desk_notices_complaint_id_user_id_kind"),
        ),
    )
    op.create_index(
        "ix_service_desk_notices_pending",
        "service_desk_notices",
        ["created_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_service_desk_notices_pending", table_name="service_desk_notices")
    op.drop_table("service_desk_notices")
    op.drop_index("ix_complaints_to_escalate", table_name="complaints")
    op.drop_index("ix_complaints_merchant_assignee", table_name="complaints")
    op.drop_column("complaints", "escalated_at")
    op.drop_index("uq_follow_up_tasks_churn_pending", table_name="follow_up_tasks")
    op.drop_index("uq_follow_up_tasks_complaint", table_name="follow_up_tasks")
    op.drop_index("ix_follow_up_tasks_merchant_assignee", table_name="follow_up_tasks")
    op.drop_constraint(
        op.f("fk_follow_up_tasks_complaint_id_complaints"), "follow_up_tasks", type_="foreignkey"
    )
    op.drop_column("follow_up_tasks", "complaint_id")
    for table in ("follow_up_tasks", "complaints"):
        op.drop_constraint(op.f(f"fk_{table}_assignee_users"), table, type_="foreignkey")
        op.drop_column(table, "assignee")
