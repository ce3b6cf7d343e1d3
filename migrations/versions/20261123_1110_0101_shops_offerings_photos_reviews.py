"""shops offerings photos reviews

Revision ID: 0101
Revises: 0003
Create Date: 2026-11-23 11:10:32.319850+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | Sequence[str] | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Opening hours are `[{day: 0..6 (Mon=0), open: "HH:MM", close: "HH:MM"}]` in the merchant's
# timezone; a close at or before the open time means the period ends after midnight (so the
# previous day's period can still be running now). The nearby query filters and answers
# `open_now` with this one definition (merchants/opening.py mirrors it for unit tests).
OPEN_AT_FUNCTION = """
CREATE OR REPLACE FUNCTION corner_shop_open_at(hours jsonb, tz text, at timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT EXISTS (
    SELECT 1
    FROM jsonb_array_elements(hours) AS p,
         LATERAL (SELECT (at AT TIME ZONE tz) AS t) AS l,
         LATERAL (SELECT extract(isodow FROM l.t)::int - 1 AS dow, l.t::time AS tm,
                         (p->>'open')::time AS o, (p->>'close')::time AS c) AS v
    WHERE ((p->>'day')::int = v.dow AND v.tm >= v.o AND (v.c <= v.o OR v.tm < v.c))
       OR ((p->>'day')::int = (v.dow + 6) % 7 AND v.c <= v.o AND v.tm < v.c)
  )
$$
"""


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("redemption_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("card_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "num_nonnulls(redemption_id, order_id, card_transaction_id) <= 1",
            name=op.f("ck_reviews_one_reference"),
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_reviews_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replied_by"],
            ["users.id"],
            name=op.f("fk_reviews_replied_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_reviews_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reviews_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index("ix_reviews_shop_id", "reviews", ["shop_id", "id"], unique=False)
    op.create_index(
        "ix_reviews_shop_verified", "reviews", ["shop_id", "verified", "id"], unique=False
    )
    op.create_index(
        "uq_reviews_card_transaction_id",
        "reviews",
        ["card_transaction_id"],
        unique=True,
        postgresql_where=sa.text("card_transaction_id IS NOT NULL"),
    )
    op.create_index(
        "uq_reviews_general_per_user",
        "reviews",
        ["shop_id", "user_id"],
        unique=True,
        postgresql_where=sa.text(
            "redemption_id IS NULL AND order_id IS NULL AND card_transaction_id IS NULL"
        ),
    )
    op.create_index(
        "uq_reviews_order_id",
        "reviews",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("order_id IS NOT NULL"),
    )
    op.create_index(
        "uq_reviews_redemption_id",
        "reviews",
        ["redemption_id"],
        unique=True,
        postgresql_where=sa.text("redemption_id IS NOT NULL"),
    )
    op.create_table(
        "shop_photos",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('storefront', 'interior', 'product')", name=op.f("ck_shop_photos_kind")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_shop_photos_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_shop_photos_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_photos")),
    )
    op.create_index("ix_shop_photos_shop_id", "shop_photos", ["shop_id", "id"], unique=False)
    op.create_table(
        "offerings",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("photo_id", sa.Uuid(), nullable=True),
        sa.Column("bookable", sa.Boolean(), server_default="false", nullable=False),
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
        sa.CheckConstraint("price_amount >= 0", name=op.f("ck_offerings_price_non_negative")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_offerings_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["shop_photos.id"],
            name=op.f("fk_offerings_photo_id_shop_photos"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_offerings_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offerings")),
    )
    op.create_index("ix_offerings_shop_id", "offerings", ["shop_id", "id"], unique=False)
    op.add_column(
        "shops", sa.Column("review_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "shops", sa.Column("rating_total", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "shops",
        sa.Column("rating", sa.Numeric(precision=3, scale=2), server_default="0", nullable=False),
    )
    op.add_column("shops", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint("rating_counts", "shops", "review_count >= 0 AND rating_total >= 0")
    op.execute(OPEN_AT_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS corner_shop_open_at(jsonb, text, timestamptz)")
    op.drop_constraint(op.f("ck_shops_rating_counts"), "shops", type_="check")
    op.drop_column("shops", "deleted_at")
    op.drop_column("shops", "rating")
    op.drop_column("shops", "rating_total")
    op.drop_column("shops", "review_count")
    op.drop_index("ix_offerings_shop_id", table_name="offerings")
    op.drop_table("offerings")
    op.drop_index("ix_shop_photos_shop_id", table_name="shop_photos")
    op.drop_table("shop_photos")
    op.drop_index(
        "uq_reviews_redemption_id",
        table_name="reviews",
        postgresql_where=sa.text("redemption_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_reviews_order_id",
        table_name="reviews",
        postgresql_where=sa.text("order_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_reviews_general_per_user",
        table_name="reviews",
        postgresql_where=sa.text(
            "redemption_id IS NULL AND order_id IS NULL AND card_transaction_id IS NULL"
        ),
    )
    op.drop_index(
        "uq_reviews_card_transaction_id",
        table_name="reviews",
        postgresql_where=sa.text("card_transaction_id IS NOT NULL"),
    )
    op.drop_index("ix_reviews_shop_verified", table_name="reviews")
    op.drop_index("ix_reviews_shop_id", table_name="reviews")
    op.drop_table("reviews")
