"""coupons

Revision ID: 0201
Revises: 0003
Create Date: 2026-11-23 11:15:17.248741+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0201"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupon_campaigns",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("discount_kind", sa.String(length=16), nullable=False),
        sa.Column("discount_amount", sa.BigInteger(), nullable=True),
        sa.Column("discount_percent", sa.SmallInteger(), nullable=True),
        sa.Column("max_off", sa.BigInteger(), nullable=True),
        sa.Column("gift_name", sa.String(length=120), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("min_spend", sa.BigInteger(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_quantity", sa.Integer(), nullable=True),
        sa.Column("handed_out", sa.Integer(), server_default="0", nullable=False),
        sa.Column("per_user_limit", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("audience_kind", sa.String(length=16), server_default="public", nullable=False),
        sa.Column(
            "audience", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("audience_user_ids", postgresql.ARRAY(sa.Uuid()), nullable=True),
        sa.Column("shop_ids", postgresql.ARRAY(sa.Uuid()), nullable=True),
        sa.Column("flash", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
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
            "audience_kind IN ('public', 'tiers', 'segment', 'customers')",
            name=op.f("ck_coupon_campaigns_audience_kind_known"),
        ),
        sa.CheckConstraint(
            "discount_kind IN ('amount_off', 'percent_off', 'gift')",
            name=op.f("ck_coupon_campaigns_discount_kind_known"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'paused', 'ended')",
            name=op.f("ck_coupon_campaigns_status_known"),
        ),
        sa.CheckConstraint(
            "handed_out >= 0", name=op.f("ck_coupon_campaigns_handed_out_non_negative")
        ),
        sa.CheckConstraint(
            "per_user_limit >= 1", name=op.f("ck_coupon_campaigns_per_user_limit_positive")
        ),
        sa.CheckConstraint(
            "total_quantity IS NULL OR handed_out <= total_quantity",
            name=op.f("ck_coupon_campaigns_within_quantity"),
        ),
        sa.CheckConstraint(
            "valid_until > valid_from", name=op.f("ck_coupon_campaigns_window_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_coupon_campaigns_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_coupon_campaigns_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_campaigns")),
    )
    op.create_index(
        "ix_coupon_campaigns_merchant_status",
        "coupon_campaigns",
        ["merchant_id", "status", "created_at"],
        unique=False,
    )
    op.create_table(
        "coupon_settings",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("reversal_window_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "reversal_window_minutes BETWEEN 0 AND 43200",
            name=op.f("ck_coupon_settings_reversal_window_range"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_coupon_settings_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_coupon_settings")),
    )
    op.create_table(
        "coupon_claims",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_coupon_claims_count_non_negative")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["coupon_campaigns.id"],
            name=op.f("fk_coupon_claims_campaign_id_coupon_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_coupon_claims_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name=op.f("pk_coupon_claims")),
    )
    op.create_table(
        "coupons",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=11), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(status = 'redeemed') = (redeemed_at IS NOT NULL)",
            name=op.f("ck_coupons_redeemed_has_time"),
        ),
        sa.CheckConstraint(
            "source IN ('claim', 'issue', 'paper')", name=op.f("ck_coupons_source_known")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'redeemed')", name=op.f("ck_coupons_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["coupon_campaigns.id"],
            name=op.f("fk_coupons_campaign_id_coupon_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_coupons_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coupons_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_index(
        "ix_coupons_campaign_issued", "coupons", ["campaign_id", "issued_at"], unique=False
    )
    op.create_index(
        "ix_coupons_user_issued", "coupons", ["user_id", "issued_at", "id"], unique=False
    )
    op.create_table(
        "coupon_redemptions",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=True),
        sa.Column("staff_user_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("order_amount", sa.BigInteger(), nullable=True),
        sa.Column("discount_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversed_by", sa.Uuid(), nullable=True),
        sa.Column("reversal_reason", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "discount_amount >= 0", name=op.f("ck_coupon_redemptions_discount_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["coupon_campaigns.id"],
            name=op.f("fk_coupon_redemptions_campaign_id_coupon_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["coupons.id"],
            name=op.f("fk_coupon_redemptions_coupon_id_coupons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_coupon_redemptions_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reversed_by"],
            ["users.id"],
            name=op.f("fk_coupon_redemptions_reversed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_coupon_redemptions_shop_id_shops"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["users.id"],
            name=op.f("fk_coupon_redemptions_staff_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_coupon_redemptions_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_redemptions")),
    )
    op.create_index(
        "ix_coupon_redemptions_campaign_redeemed",
        "coupon_redemptions",
        ["campaign_id", "redeemed_at"],
        unique=False,
    )
    op.create_index(
        "ix_coupon_redemptions_user_shop",
        "coupon_redemptions",
        ["user_id", "shop_id"],
        unique=False,
    )
    op.create_index(
        "uq_coupon_redemptions_live_coupon",
        "coupon_redemptions",
        ["coupon_id"],
        unique=True,
        postgresql_where=sa.text("reversed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_coupon_redemptions_live_coupon",
        table_name="coupon_redemptions",
        postgresql_where=sa.text("reversed_at IS NULL"),
    )
    op.drop_index("ix_coupon_redemptions_user_shop", table_name="coupon_redemptions")
    op.drop_index("ix_coupon_redemptions_campaign_redeemed", table_name="coupon_redemptions")
    op.drop_table("coupon_redemptions")
    op.drop_index("ix_coupons_user_issued", table_name="coupons")
    op.drop_index("ix_coupons_campaign_issued", table_name="coupons")
    op.drop_table("coupons")
    op.drop_table("coupon_claims")
    op.drop_table("coupon_settings")
    op.drop_index("ix_coupon_campaigns_merchant_status", table_name="coupon_campaigns")
    op.drop_table("coupon_campaigns")
