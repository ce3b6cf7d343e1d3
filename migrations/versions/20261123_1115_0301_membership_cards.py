"""membership cards

Revision ID: 0301
Revises: 0003
Create Date: 2026-11-23 11:15:17.220873+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0301"
down_revision: str | Sequence[str] | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_programs",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("points_expire_months", sa.SmallInteger(), nullable=True),
        sa.Column("redeem_points_per_unit", sa.Integer(), nullable=False),
        sa.Column("bonus_spend_rule", sa.String(length=16), nullable=False),
        sa.Column("topup_bonuses", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
        sa.CheckConstraint(
            "bonus_spend_rule IN ('principal_first', 'bonus_first', 'proportional')",
            name=op.f("ck_card_programs_bonus_spend_rule"),
        ),
        sa.CheckConstraint(
            "points_expire_months IS NULL OR points_expire_months > 0",
            name=op.f("ck_card_programs_expiry_positive"),
        ),
        sa.CheckConstraint(
            "redeem_points_per_unit > 0", name=op.f("ck_card_programs_redeem_positive")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_programs_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_programs")),
    )
    op.create_index(
        op.f("ix_card_programs_merchant_id"), "card_programs", ["merchant_id"], unique=False
    )
    op.create_table(
        "card_designs",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("background_color", sa.String(length=9), nullable=False),
        sa.Column("text_color", sa.String(length=9), nullable=False),
        sa.Column("text_lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("background_image", sa.LargeBinary(), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_designs_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["card_programs.id"],
            name=op.f("fk_card_designs_program_id_card_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_card_designs")),
    )
    op.create_table(
        "card_tiers",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("discount_percent", sa.SmallInteger(), nullable=False),
        sa.Column("earn_points_per_unit", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("upgrade_min_spend_12m", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "discount_percent >= 0 AND discount_percent < 100", name=op.f("ck_card_tiers_discount")
        ),
        sa.CheckConstraint(
            "earn_points_per_unit >= 0", name=op.f("ck_card_tiers_earn_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_tiers_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["card_programs.id"],
            name=op.f("fk_card_tiers_program_id_card_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_tiers")),
        sa.UniqueConstraint("program_id", "code", name=op.f("uq_card_tiers_program_id_code")),
        sa.UniqueConstraint("program_id", "rank", name=op.f("uq_card_tiers_program_id_rank")),
    )
    op.create_table(
        "cards",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("card_number", sa.String(length=19), nullable=False),
        sa.Column("tier_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("principal", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bonus", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lifetime_spend", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=True),
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
        sa.CheckConstraint("bonus >= 0", name=op.f("ck_cards_bonus_non_negative")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_cards_points_non_negative")),
        sa.CheckConstraint("principal >= 0", name=op.f("ck_cards_principal_non_negative")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_cards_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["card_programs.id"],
            name=op.f("fk_cards_program_id_card_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tier_id"], ["card_tiers.id"], name=op.f("fk_cards_tier_id_card_tiers")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cards_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("card_number", name=op.f("uq_cards_card_number")),
        sa.UniqueConstraint("program_id", "user_id", name=op.f("uq_cards_program_id_user_id")),
    )
    op.create_index(op.f("ix_cards_merchant_id"), "cards", ["merchant_id"], unique=False)
    op.create_index("ix_cards_user_id", "cards", ["user_id", "created_at"], unique=False)
    op.create_table(
        "card_qr_token_uses",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column(
            "used_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["cards.id"],
            name=op.f("fk_card_qr_token_uses_card_id_cards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_card_qr_token_uses")),
    )
    op.create_index(
        op.f("ix_card_qr_token_uses_used_at"), "card_qr_token_uses", ["used_at"], unique=False
    )
    op.create_table(
        "card_topups",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("bonus", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_reference", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_card_topups_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_card_topups_amount_positive")),
        sa.CheckConstraint("bonus >= 0", name=op.f("ck_card_topups_bonus_non_negative")),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_topups_card_id_cards"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_topups_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_card_topups_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_topups")),
        sa.UniqueConstraint("provider_reference", name=op.f("uq_card_topups_provider_reference")),
    )
    op.create_index("ix_card_topups_card_id", "card_topups", ["card_id"], unique=False)
    op.create_table(
        "card_ledger",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points_delta", sa.BigInteger(), nullable=False),
        sa.Column("principal_delta", sa.BigInteger(), nullable=False),
        sa.Column("bonus_delta", sa.BigInteger(), nullable=False),
        sa.Column("points_after", sa.BigInteger(), nullable=False),
        sa.Column("principal_after", sa.BigInteger(), nullable=False),
        sa.Column("bonus_after", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("paid_amount", sa.BigInteger(), nullable=True),
        sa.Column("spend_delta", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=True),
        sa.Column("staff_user_id", sa.Uuid(), nullable=True),
        sa.Column("reverses_entry_id", sa.Uuid(), nullable=True),
        sa.Column("topup_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('earn', 'spend_points', 'spend_balance', 'topup', 'bonus', 'adjustment',"
            " 'expiry', 'reversal', 'refund')",
            name=op.f("ck_card_ledger_kind"),
        ),
        sa.CheckConstraint(
            "points_after >= 0 AND principal_after >= 0 AND bonus_after >= 0",
            name=op.f("ck_card_ledger_totals_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_ledger_card_id_cards"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_card_ledger_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reverses_entry_id"],
            ["card_ledger.id"],
            name=op.f("fk_card_ledger_reverses_entry_id_card_ledger"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_card_ledger_shop_id_shops"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["users.id"],
            name=op.f("fk_card_ledger_staff_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["topup_id"], ["card_topups.id"], name=op.f("fk_card_ledger_topup_id_card_topups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_ledger")),
        sa.UniqueConstraint("reverses_entry_id", name=op.f("uq_card_ledger_reverses_entry_id")),
        sa.UniqueConstraint("seq", name=op.f("uq_card_ledger_seq")),
    )
    op.create_index(
        "ix_card_ledger_card_created", "card_ledger", ["card_id", "created_at"], unique=False
    )
    op.create_index("ix_card_ledger_card_seq", "card_ledger", ["card_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_card_ledger_card_seq", table_name="card_ledger")
    op.drop_index("ix_card_ledger_card_created", table_name="card_ledger")
    op.drop_table("card_ledger")
    op.drop_index("ix_card_topups_card_id", table_name="card_topups")
    op.drop_table("card_topups")
    op.drop_index(op.f("ix_card_qr_token_uses_used_at"), table_name="card_qr_token_uses")
    op.drop_table("card_qr_token_uses")
    op.drop_index("ix_cards_user_id", table_name="cards")
    op.drop_index(op.f("ix_cards_merchant_id"), table_name="cards")
    op.drop_table("cards")
    op.drop_table("card_tiers")
    op.drop_table("card_designs")
    op.drop_index(op.f("ix_card_programs_merchant_id"), table_name="card_programs")
    op.drop_table("card_programs")
