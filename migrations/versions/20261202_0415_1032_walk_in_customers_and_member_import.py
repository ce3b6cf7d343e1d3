"""walk-in customers, cards without an app account, opening balances

Revision ID: 1032
Revises: 1041
Create Date: 2026-12-02 04:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1032"
down_revision: str | Sequence[str] | None = "1041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    "kind IN ('earn', 'spend_points', 'spend_balance', 'topup', 'bonus', 'adjustment',"
    " 'expiry', 'reversal', 'refund', 'count_purchase', 'count_use')"
)
NEW_KINDS = (
    "kind IN ('earn', 'spend_points', 'spend_balance', 'topup', 'bonus', 'adjustment',"
    " 'expiry', 'reversal', 'refund', 'count_purchase', 'count_use', 'opening_balance')"
)


def upgrade() -> None:
    # a customer staff added (walk-in, member book) has no app account until that phone signs in
    op.alter_column("customers", "user_id", nullable=True)
    op.add_column("customers", sa.Column("birthday", sa.Date(), nullable=True))
    op.create_index("ix_customers_merchant_phone", "customers", ["merchant_id", "phone"])
    op.create_index(
        "uq_customers_walk_in_phone",
        "customers",
        ["merchant_id", "phone"],
        unique=True,
        postgresql_where=sa.text("user_id IS NULL"),
    )
    op.create_index(
        "ix_customers_unlinked_phone",
        "customers",
        ["phone"],
        postgresql_where=sa.text("user_id IS NULL"),
    )
    op.alter_column("cards", "user_id", nullable=True)
    op.add_column("cards", sa.Column("customer_id", sa.Uuid(), nullable=True))
    op.add_column("cards", sa.Column("legacy_number", sa.String(32), nullable=True))
    op.create_foreign_key(
        op.f("fk_cards_customer_id_customers"),
        "cards",
        "customers",
        ["customer_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_unique_constraint(
        op.f("uq_cards_program_id_customer_id"), "cards", ["program_id", "customer_id"]
    )
    op.create_unique_constraint(
        op.f("uq_cards_program_id_legacy_number"), "cards", ["program_id", "legacy_number"]
    )
    op.create_check_constraint(
        op.f("ck_cards_holder"), "cards", "user_id IS NOT NULL OR customer_id IS NOT NULL"
    )
    op.drop_constraint(op.f("ck_card_ledger_kind"), "card_ledger", type_="check")
    op.create_check_constraint(op.f("ck_card_ledger_kind"), "card_ledger", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM card_ledger WHERE kind = 'opening_balance'")
    op.drop_constraint(op.f("ck_card_ledger_kind"), "card_ledger", type_="check")
    op.create_check_constraint(op.f("ck_card_ledger_kind"), "card_ledger", OLD_KINDS)
    op.drop_constraint(op.f("ck_cards_holder"), "cards", type_="check")
    op.drop_constraint(op.f("uq_cards_program_id_legacy_number"), "cards", type_="unique")
    op.drop_constraint(op.f("uq_cards_program_id_customer_id"), "cards", type_="unique")
    op.drop_constraint(op.f("fk_cards_customer_id_customers"), "cards", type_="foreignkey")
    op.drop_column("cards", "legacy_number")
    op.drop_column("cards", "customer_id")
    op.execute("DELETE FROM cards WHERE user_id IS NULL")
    op.alter_column("cards", "user_id", nullable=False)
    op.drop_index("ix_customers_unlinked_phone", table_name="customers")
    op.drop_index("uq_customers_walk_in_phone", table_name="customers")
    op.drop_index("ix_customers_merchant_phone", table_name="customers")
    op.drop_column("customers", "birthday")
    op.execute("DELETE FROM customers WHERE user_id IS NULL")
    op.alter_column("customers", "user_id", nullable=False)
