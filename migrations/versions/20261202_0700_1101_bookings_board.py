"""bookings board: arrived / completed / no_show, bookings made by staff for a customer

Revision ID: 1101
Revises: 1121
Create Date: 2026-12-02 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1101"
down_revision: str | Sequence[str] | None = "1121"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('booked', 'cancelled')"
NEW_STATUSES = "status IN ('booked', 'arrived', 'completed', 'no_show', 'cancelled')"


def upgrade() -> None:
    # staff book for a customer who phoned: a walk-in customer may have no app account
    op.alter_column("bookings", "user_id", nullable=True)
    op.add_column("bookings", sa.Column("customer_id", sa.Uuid(), nullable=True))
    op.add_column("bookings", sa.Column("booked_by", sa.Uuid(), nullable=True))
    for column in ("arrived_at", "completed_at", "no_show_at"):
        op.add_column("bookings", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(
        op.f("fk_bookings_customer_id_customers"),
        "bookings",
        "customers",
        ["customer_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_bookings_booked_by_users"),
        "bookings",
        "users",
        ["booked_by"],
        ["id"],
        ondelete="SET NULL",
    )
    op.drop_constraint(op.f("ck_bookings_status_known"), "bookings", type_="check")
    op.create_check_constraint(op.f("ck_bookings_status_known"), "bookings", NEW_STATUSES)
    op.create_check_constraint(
        op.f("ck_bookings_someone"),
        "bookings",
        "user_id IS NOT NULL OR customer_id IS NOT NULL",
    )
    op.create_index("ix_bookings_customer_id", "bookings", ["customer_id"])
    # existing bookings name the customer record of their holder (no-shows count on it)
    op.execute(
        "UPDATE bookings b SET customer_id = c.id FROM customers c "
        "WHERE c.merchant_id = b.merchant_id AND c.user_id = b.user_id"
    )
    op.add_column(
        "customers",
        sa.Column("no_shows", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("customers", "no_shows")
    op.drop_index("ix_bookings_customer_id", table_name="bookings")
    op.drop_constraint(op.f("ck_bookings_someone"), "bookings", type_="check")
    op.drop_constraint(op.f("ck_bookings_status_known"), "bookings", type_="check")
    op.execute("DELETE FROM bookings WHERE user_id IS NULL")
    op.execute(
        "UPDATE bookings SET status = 'cancelled' WHERE status NOT IN ('booked', 'cancelled')"
    )
    op.create_check_constraint(op.f("ck_bookings_status_known"), "bookings", OLD_STATUSES)
    op.drop_constraint(op.f("fk_bookings_booked_by_users"), "bookings", type_="foreignkey")
    op.drop_constraint(op.f("fk_bookings_customer_id_customers"), "bookings", type_="foreignkey")
    for column in ("no_show_at", "completed_at", "arrived_at", "booked_by", "customer_id"):
        op.drop_column("bookings", column)
    op.alter_column("bookings", "user_id", nullable=False)
