"""push and flash offers

Revision ID: 0501
Revises: 0003
Create Date: 2026-11-23 11:50:02.845362+00:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0501"
down_revision: str | Sequence[str] | None = "0401"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_merchant_daily_counts",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id", "user_id", "day", name=op.f("pk_push_merchant_daily_counts")
        ),
    )
    op.create_index(
        "ix_push_merchant_daily_counts_day", "push_merchant_daily_counts", ["day"], unique=False
    )
    op.create_table(
        "push_user_daily_counts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_push_user_daily_counts")),
    )
    op.create_index(
        "ix_push_user_daily_counts_day", "push_user_daily_counts", ["day"], unique=False
    )
    op.create_table(
        "push_activity_areas",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "centre",
            geoalchemy2.types.Geography(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeogFromText",
                name="geography",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("pings", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('usual', 'last_known')", name=op.f("ck_push_activity_areas_kind")
        ),
        sa.CheckConstraint("radius_m >= 0", name=op.f("ck_push_activity_areas_radius")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_activity_areas_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_activity_areas")),
    )
    op.create_index(
        "ix_push_activity_areas_centre",
        "push_activity_areas",
        ["centre"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        "ix_push_activity_areas_user_id", "push_activity_areas", ["user_id"], unique=False
    )
    op.create_index(
        "uq_push_activity_areas_last_known",
        "push_activity_areas",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'last_known'"),
    )
    op.create_table(
        "push_area_recompute",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_area_recompute_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_push_area_recompute")),
    )
    op.create_table(
        "push_devices",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=4096), nullable=False),
        sa.Column("platform", sa.String(length=8), nullable=False),
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
            "platform IN ('android', 'ios', 'web')", name=op.f("ck_push_devices_platform")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_devices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_devices")),
        sa.UniqueConstraint("token", name=op.f("uq_push_devices_token")),
    )
    op.create_index("ix_push_devices_user_id", "push_devices", ["user_id"], unique=False)
    op.create_table(
        "push_location_pings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "location",
            geoalchemy2.types.Geography(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeogFromText",
                name="geography",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_location_pings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_location_pings")),
    )
    op.create_index(
        "ix_push_location_pings_observed_at", "push_location_pings", ["observed_at"], unique=False
    )
    op.create_index(
        "ix_push_location_pings_user_observed",
        "push_location_pings",
        ["user_id", "observed_at"],
        unique=False,
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "categories",
            postgresql.ARRAY(sa.String(length=32)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("merchant_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
        sa.Column("radius_m", sa.Integer(), server_default="2000", nullable=False),
        sa.Column("quiet_from", sa.Time(), nullable=True),
        sa.Column("quiet_to", sa.Time(), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False),
        sa.Column(
            "channels",
            postgresql.ARRAY(sa.String(length=8)),
            server_default="{push}",
            nullable=False,
        ),
        sa.Column("opted_out", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channels <@ ARRAY['push', 'sms']::varchar[]",
            name=op.f("ck_push_subscriptions_channels"),
        ),
        sa.CheckConstraint(
            "radius_m BETWEEN 100 AND 20000", name=op.f("ck_push_subscriptions_radius")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_push_subscriptions")),
    )
    op.create_index(
        "ix_push_subscriptions_categories",
        "push_subscriptions",
        ["categories"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_push_subscriptions_merchant_ids",
        "push_subscriptions",
        ["merchant_ids"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_push_subscriptions_radius_m", "push_subscriptions", ["radius_m"], unique=False
    )
    op.create_table(
        "flash_offers",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("audience_kind", sa.String(length=16), nullable=False),
        sa.Column("audience_radius_m", sa.Integer(), nullable=True),
        sa.Column("segment_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "audience_kind IN ('nearby', 'customers', 'segment')",
            name=op.f("ck_flash_offers_audience_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_flash_offers_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_flash_offers_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_flash_offers_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_offers")),
    )
    op.create_index(
        "ix_flash_offers_merchant_created",
        "flash_offers",
        ["merchant_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "flash_offer_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("batch_no", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="queued", nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "channel IN ('push', 'sms')", name=op.f("ck_flash_offer_deliveries_channel")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'retry')",
            name=op.f("ck_flash_offer_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["push_devices.id"],
            name=op.f("fk_flash_offer_deliveries_device_id_push_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["flash_offers.id"],
            name=op.f("fk_flash_offer_deliveries_offer_id_flash_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_flash_offer_deliveries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_offer_deliveries")),
        sa.UniqueConstraint(
            "offer_id", "device_id", name=op.f("uq_flash_offer_deliveries_offer_id_device_id")
        ),
    )
    op.create_index(
        "ix_flash_offer_deliveries_batch",
        "flash_offer_deliveries",
        ["offer_id", "batch_no", "status"],
        unique=False,
    )
    op.create_index(
        "ix_flash_offer_deliveries_offer_user",
        "flash_offer_deliveries",
        ["offer_id", "user_id"],
        unique=False,
    )
    op.create_index(
        "ix_flash_offer_deliveries_sending",
        "flash_offer_deliveries",
        ["lease_until"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.create_index(
        "uq_flash_offer_deliveries_sms",
        "flash_offer_deliveries",
        ["offer_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("channel = 'sms'"),
    )
    op.create_table(
        "push_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("batch_no", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'dispatched')", name=op.f("ck_push_outbox_status")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["flash_offers.id"],
            name=op.f("fk_push_outbox_offer_id_flash_offers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_outbox")),
    )
    op.create_index(
        "ix_push_outbox_due",
        "push_outbox",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_push_outbox_offer_id", "push_outbox", ["offer_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_push_outbox_offer_id", table_name="push_outbox")
    op.drop_index(
        "ix_push_outbox_due",
        table_name="push_outbox",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("push_outbox")
    op.drop_index(
        "uq_flash_offer_deliveries_sms",
        table_name="flash_offer_deliveries",
        postgresql_where=sa.text("channel = 'sms'"),
    )
    op.drop_index(
        "ix_flash_offer_deliveries_sending",
        table_name="flash_offer_deliveries",
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.drop_index("ix_flash_offer_deliveries_offer_user", table_name="flash_offer_deliveries")
    op.drop_index("ix_flash_offer_deliveries_batch", table_name="flash_offer_deliveries")
    op.drop_table("flash_offer_deliveries")
    op.drop_index("ix_flash_offers_merchant_created", table_name="flash_offers")
    op.drop_table("flash_offers")
    op.drop_index("ix_push_subscriptions_radius_m", table_name="push_subscriptions")
    op.drop_index(
        "ix_push_subscriptions_merchant_ids",
        table_name="push_subscriptions",
        postgresql_using="gin",
    )
    op.drop_index(
        "ix_push_subscriptions_categories", table_name="push_subscriptions", postgresql_using="gin"
    )
    op.drop_table("push_subscriptions")
    op.drop_index("ix_push_location_pings_user_observed", table_name="push_location_pings")
    op.drop_index("ix_push_location_pings_observed_at", table_name="push_location_pings")
    op.drop_table("push_location_pings")
    op.drop_index("ix_push_devices_user_id", table_name="push_devices")
    op.drop_table("push_devices")
    op.drop_table("push_area_recompute")
    op.drop_index(
        "uq_push_activity_areas_last_known",
        table_name="push_activity_areas",
        postgresql_where=sa.text("kind = 'last_known'"),
    )
    op.drop_index("ix_push_activity_areas_user_id", table_name="push_activity_areas")
    op.drop_index(
        "ix_push_activity_areas_centre", table_name="push_activity_areas", postgresql_using="gist"
    )
    op.drop_table("push_activity_areas")
    op.drop_index("ix_push_user_daily_counts_day", table_name="push_user_daily_counts")
    op.drop_table("push_user_daily_counts")
    op.drop_index("ix_push_merchant_daily_counts_day", table_name="push_merchant_daily_counts")
    op.drop_table("push_merchant_daily_counts")
