"""programme rule versions: a PATCH of the rules starts a new version; ledger entries and
top-ups record the version whose rules they used

Revision ID: 1111
Revises: 1103
Create Date: 2026-12-02 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1111"
down_revision: str | Sequence[str] | None = "1103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the shape memberships.service.programs.rules_snapshot writes
SNAPSHOT_SQL = """
INSERT INTO card_program_versions (program_id, version, merchant_id, rules, created_at)
SELECT p.id, 1, p.merchant_id, jsonb_build_object(
    'tiers', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'code', t.code, 'name', t.name, 'rank', t.rank,
            'discount_percent', t.discount_percent,
            'earn_points_per_unit', t.earn_points_per_unit::text,
            'upgrade_min_spend_12m', t.upgrade_min_spend_12m) ORDER BY t.rank)
        FROM card_tiers t WHERE t.program_id = p.id), '[]'::jsonb),
    'redeem_points_per_unit', p.redeem_points_per_unit,
    'topup_bonuses', p.topup_bonuses,
    'bonus_spend_rule', p.bonus_spend_rule,
    'points_expire_months', p.points_expire_months), p.created_at
FROM card_programs p
"""


def upgrade() -> None:
    op.add_column("card_programs", sa.Column("description", sa.String(1000), nullable=True))
    op.add_column(
        "card_programs",
        sa.Column("rule_version", sa.Integer(), server_default="1", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_card_programs_rule_version_positive"), "card_programs", "rule_version > 0"
    )
    op.create_table(
        "card_program_versions",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["card_programs.id"],
            name=op.f("fk_card_program_versions_program_id_card_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_program_versions_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_card_program_versions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("program_id", "version", name=op.f("pk_card_program_versions")),
    )
    op.execute(SNAPSHOT_SQL)
    # every existing entry was written under the programme's first (and only) rules; the
    # default only fills them: from now on each write path names its version
    for table in ("card_ledger", "card_topups"):
        op.add_column(
            table, sa.Column("rule_version", sa.Integer(), server_default="1", nullable=False)
        )
        op.alter_column(table, "rule_version", server_default=None)


def downgrade() -> None:
    op.drop_column("card_topups", "rule_version")
    op.drop_column("card_ledger", "rule_version")
    op.drop_table("card_program_versions")
    op.drop_constraint(
        op.f("ck_card_programs_rule_version_positive"), "card_programs", type_="check"
    )
    op.drop_column("card_programs", "rule_version")
    op.drop_column("card_programs", "description")
