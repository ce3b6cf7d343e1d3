"""count cards and physical card numbers

Revision ID: 0901
Revises: 0802
Create Date: 2026-11-23 13:31:15.733299+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0901"
down_revision: str | Sequence[str] | None = "0802"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    "kind IN ('earn', 'spend_points', 'spend_balance', 'topup', 'bonus', 'adjustment',"
    " 'expiry', 'reversal', 'refund')"
)
NEW_KINDS = (
    "kind IN ('earn', 'spend_points', 'spend_balance', 'topup', 'bonus', 'adjustment',"
    " 'expiry', 'reversal', 'refund', 'count_purchase', 'count_use')"
)


def upgrade() -> None:
    op.create_table(
        "card_count_products",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.Column("shop_ids", postgresql.ARRAY(sa.Uuid()), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("price > 0", name=op.f("ck_card_count_products_price_positive")),
        sa.CheckConstraint("uses > 0 AND uses <= 1000", name=op.f("ck_card_count_products_uses")),
        sa.CheckConstraint(
            "validity_days IS NULL OR validity_days > 0",
            name=op.f("ck_card_count_products_validity_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_count_products_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["card_programs.id"],
            name=op.f("fk_card_count_products_program_id_card_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_count_products")),
    )
    op.create_index(
        "ix_card_count_products_program",
        "card_count_products",
        ["program_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "card_count_passes",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("uses_total", sa.Integer(), nullable=False),
        sa.Column("uses_left", sa.Integer(), server_default="0", nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.Column("shop_ids", postgresql.ARRAY(sa.Uuid()), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_reference", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status = 'active' OR uses_left = 0",
            name=op.f("ck_card_count_passes_unpaid_has_no_uses"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'failed')", name=op.f("ck_card_count_passes_status")
        ),
        sa.CheckConstraint(
            "uses_left >= 0 AND uses_left <= uses_total",
            name=op.f("ck_card_count_passes_uses_left"),
        ),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["cards.id"],
            name=op.f("fk_card_count_passes_card_id_cards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_count_passes_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["card_count_products.id"],
            name=op.f("fk_card_count_passes_product_id_card_count_products"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_card_count_passes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_count_passes")),
        sa.UniqueConstraint(
            "provider_reference", name=op.f("uq_card_count_passes_provider_reference")
        ),
    )
    op.create_index(
        "ix_card_count_passes_card", "card_count_passes", ["card_id", "created_at"], unique=False
    )
    op.create_table(
        "card_physical_numbers",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=19), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=True),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bound_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "number ~ '^[0-9]{8,19}$'", name=op.f("ck_card_physical_numbers_number_digits")
        ),
        sa.ForeignKeyConstraint(
            ["bound_by_user_id"],
            ["users.id"],
            name=op.f("fk_card_physical_numbers_bound_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["cards.id"],
            name=op.f("fk_card_physical_numbers_card_id_cards"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_physical_numbers_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["card_programs.id"],
            name=op.f("fk_card_physical_numbers_program_id_card_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_physical_numbers")),
        sa.UniqueConstraint("card_id", name=op.f("uq_card_physical_numbers_card_id")),
        sa.UniqueConstraint(
            "merchant_id", "number", name=op.f("uq_card_physical_numbers_merchant_id_number")
        ),
    )
    op.create_index(
        op.f("ix_card_physical_numbers_program_id"),
        "card_physical_numbers",
        ["program_id"],
        unique=False,
    )
    op.add_column("card_ledger", sa.Column("count_pass_id", sa.Uuid(), nullable=True))
    op.add_column(
        "card_ledger", sa.Column("uses_delta", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("card_ledger", sa.Column("uses_after", sa.Integer(), nullable=True))
    op.create_index(
        "ix_card_ledger_count_pass",
        "card_ledger",
        ["count_pass_id", "seq"],
        unique=False,
        postgresql_where=sa.text("count_pass_id IS NOT NULL"),
    )
    op.create_foreign_key(
        op.f("fk_card_ledger_count_pass_id_card_count_passes"),
        "card_ledger",
        "card_count_passes",
        ["count_pass_id"],
        ["id"],
    )
    # autogenerate does not see CHECK changes: the ledger's kinds and the uses rule by hand
    op.drop_constraint(op.f("ck_card_ledger_kind"), "card_ledger", type_="check")
    op.create_check_constraint(op.f("ck_card_ledger_kind"), "card_ledger", NEW_KINDS)
    op.create_check_constraint(
        op.f("ck_card_ledger_uses"),
        "card_ledger",
        "(count_pass_id IS NULL AND uses_delta = 0 AND uses_after IS NULL)"
        " OR (count_pass_id IS NOT NULL AND uses_after >= 0)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_card_ledger_uses"), "card_ledger", type_="check")
    op.execute("DELETE FROM card_ledger WHERE kind IN ('count_purchase', 'count_use')")
    op.drop_constraint(op.f("ck_card_ledger_kind"), "card_ledger", type_="check")
    op.create_check_constraint(op.f("ck_card_ledger_kind"), "card_ledger", OLD_KINDS)
    op.drop_constraint(
        op.f("fk_card_ledger_count_pass_id_card_count_passes"), "card_ledger", type_="foreignkey"
    )
    op.drop_index(
        "ix_card_ledger_count_pass",
        table_name="card_ledger",
        postgresql_where=sa.text("count_pass_id IS NOT NULL"),
    )
    op.drop_column("card_ledger", "uses_after")
    op.drop_column("card_ledger", "uses_delta")
    op.drop_column("card_ledger", "count_pass_id")
    op.drop_index(op.f("ix_card_physical_numbers_program_id"), table_name="card_physical_numbers")
    op.drop_table("card_physical_numbers")
    op.drop_index("ix_card_count_passes_card", table_name="card_count_passes")
    op.drop_table("card_count_passes")
    op.drop_index("ix_card_count_products_program", table_name="card_count_products")
    op.drop_table("card_count_products")
