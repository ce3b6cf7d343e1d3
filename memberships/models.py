"""Membership programs, tiers, cards, the append-only card ledger, top-ups and card designs.

A card's totals (points, principal, bonus) change only in the same transaction that appends a
ledger row carrying the deltas and the totals after it; CHECK constraints keep every total
non-negative, so an overdraft is refused by the database itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, IdMixin, TimestampMixin

LEDGER_KINDS = (
    "earn",
    "spend_points",
    "spend_balance",
    "topup",
    "bonus",
    "adjustment",
    "expiry",
    "reversal",
    "refund",
    "count_purchase",
    "count_use",
    "opening_balance",
)
BONUS_SPEND_RULES = ("principal_first", "bonus_first", "proportional")
TOPUP_STATUSES = ("pending", "succeeded", "failed")
COUNT_PASS_STATUSES = ("pending", "active", "failed")


class Program(IdMixin, TimestampMixin, Base):
    __tablename__ = "card_programs"

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(1000))
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    # the version of the rules below (tiers included); `card_program_versions` keeps each
    # version's snapshot, ledger entries name the version they used
    rule_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    points_expire_months: Mapped[int | None] = mapped_column(SmallInteger)
    # points worth one major currency unit when spent (100 → 100 points pay 1.00 CNY)
    redeem_points_per_unit: Mapped[int] = mapped_column(Integer)
    bonus_spend_rule: Mapped[str] = mapped_column(String(16), default="principal_first")
    # [{"min_amount": 50000, "bonus": 5000}, ...]: the best rule the top-up reaches applies
    topup_bonuses: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # the tier review (memberships/jobs.py) also moves cards down when their rolling 12-month
    # spend fell below their tier's threshold (upgrades happen whatever this says)
    tier_downgrade: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    __table_args__ = (
        CheckConstraint("redeem_points_per_unit > 0", name="redeem_positive"),
        CheckConstraint(
            "points_expire_months IS NULL OR points_expire_months > 0", name="expiry_positive"
        ),
        CheckConstraint(
            "bonus_spend_rule IN ('principal_first', 'bonus_first', 'proportional')",
            name="bonus_spend_rule",
        ),
        CheckConstraint("rule_version > 0", name="rule_version_positive"),
    )


class ProgramVersion(Base):
    """The rules of a programme from one PATCH to the next (version 1: as created); never
    updated. What a ledger entry's `rule_version` points at."""

    __tablename__ = "card_program_versions"

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("card_programs.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    # memberships.service.programs.rules_snapshot
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Tier(IdMixin, Base):
    __tablename__ = "card_tiers"

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("card_programs.id", ondelete="CASCADE")
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(SmallInteger)
    discount_percent: Mapped[int] = mapped_column(SmallInteger, default=0)
    earn_points_per_unit: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    upgrade_min_spend_12m: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("program_id", "code"),
        UniqueConstraint("program_id", "rank"),
        CheckConstraint("discount_percent >= 0 AND discount_percent < 100", name="discount"),
        CheckConstraint("earn_points_per_unit >= 0", name="earn_non_negative"),
    )


class Card(IdMixin, TimestampMixin, Base):
    __tablename__ = "cards"

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("card_programs.id", ondelete="CASCADE")
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    # a card staff issued to a customer without the app has `customer_id` and no user until
    # that phone signs in (then both are set)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    card_number: Mapped[str] = mapped_column(String(19), unique=True)
    # the number in the shop's paper member book, kept to match a re-import
    legacy_number: Mapped[str | None] = mapped_column(String(32))
    tier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card_tiers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    points: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # stored value is two purses: what the customer paid (refundable) and the merchant's bonus
    principal: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    bonus: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # lifetime spend: a cheap upper bound that lets most purchases skip the 12-month sum
    lifetime_spend: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pin_hash: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("program_id", "user_id"),
        UniqueConstraint("program_id", "customer_id"),
        UniqueConstraint("program_id", "legacy_number"),
        CheckConstraint("user_id IS NOT NULL OR customer_id IS NOT NULL", name="holder"),
        CheckConstraint("points >= 0", name="points_non_negative"),
        CheckConstraint("principal >= 0", name="principal_non_negative"),
        CheckConstraint("bonus >= 0", name="bonus_non_negative"),
        Index("ix_cards_user_id", "user_id", "created_at"),
    )


class LedgerEntry(IdMixin, Base):
    """One change of a card's points and/or stored value; never updated nor deleted."""

    __tablename__ = "card_ledger"

    # assigned at insert, after the card row lock is held: orders a card's entries exactly
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    points_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    principal_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    points_after: Mapped[int] = mapped_column(BigInteger)
    principal_after: Mapped[int] = mapped_column(BigInteger)
    bonus_after: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # purchase: gross amount and what was paid after the tier discount; spend: value used
    amount: Mapped[int | None] = mapped_column(BigInteger)
    paid_amount: Mapped[int | None] = mapped_column(BigInteger)
    # what counts toward the 12-month spend for tier upgrades (negative in a reversal)
    spend_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    shop_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("shops.id", ondelete="SET NULL"))
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reverses_entry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("card_ledger.id"), unique=True
    )
    topup_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card_topups.id"))
    # count cards (次卡): the pass whose uses changed, by how many, and how many are left
    count_pass_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card_count_passes.id"))
    uses_delta: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    uses_after: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(255))
    # the programme's rule version this entry was computed with (no default: every write
    # path names it, from the same read as the rules it applied)
    rule_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )

    __table_args__ = (
        CheckConstraint(
            "kind IN ('earn', 'spend_points', 'spend_balance', 'topup', 'bonus', 'adjustment',"
            " 'expiry', 'reversal', 'refund', 'count_purchase', 'count_use', 'opening_balance')",
            name="kind",
        ),
        CheckConstraint(
            "points_after >= 0 AND principal_after >= 0 AND bonus_after >= 0",
            name="totals_non_negative",
        ),
        CheckConstraint(
            "(count_pass_id IS NULL AND uses_delta = 0 AND uses_after IS NULL)"
            " OR (count_pass_id IS NOT NULL AND uses_after >= 0)",
            name="uses",
        ),
        Index("ix_card_ledger_card_seq", "card_id", "seq"),
        Index("ix_card_ledger_card_created", "card_id", "created_at"),
        Index("ix_card_ledger_merchant_created", "merchant_id", "created_at"),  # day close
        Index(
            "ix_card_ledger_count_pass",
            "count_pass_id",
            "seq",
            postgresql_where=text("count_pass_id IS NOT NULL"),
        ),
    )


class TierChange(IdMixin, Base):
    """A card moved from one tier to another: by a purchase reaching a threshold, or by the
    tier review job (up after a threshold was lowered, down when the programme's downgrade
    rule applies). Tiers are named by code: a record outlives an edited or removed tier."""

    __tablename__ = "card_tier_changes"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    from_tier: Mapped[str] = mapped_column(String(32))
    to_tier: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(16))
    # the rolling 12-month spend the decision was taken on, by the rules of `rule_version`
    spend_12m: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    rule_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )

    __table_args__ = (
        CheckConstraint("direction IN ('up', 'down')", name="direction"),
        CheckConstraint("reason IN ('purchase', 'review')", name="reason"),
        Index("ix_card_tier_changes_card_created", "card_id", "created_at"),
    )


class Topup(IdMixin, Base):
    __tablename__ = "card_topups"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    # the buyer; none when a clerk sold it at the counter for a member without the app
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # a counter sale: where and by whom (the callback's ledger entries carry both)
    shop_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("shops.id", ondelete="SET NULL"))
    sold_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    amount: Mapped[int] = mapped_column(BigInteger)
    bonus: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider: Mapped[str] = mapped_column(String(32))
    provider_reference: Mapped[str] = mapped_column(String(64), unique=True)
    # the version whose top-up bonus rule set `bonus` (the callback's entries record it)
    rule_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("bonus >= 0", name="bonus_non_negative"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index("ix_card_topups_card_id", "card_id"),
    )


class QrTokenUse(Base):
    """A dynamic QR token consumed at the counter; the insert makes it single use."""

    __tablename__ = "card_qr_token_uses"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    used_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class Design(Base):
    __tablename__ = "card_designs"

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("card_programs.id", ondelete="CASCADE"), primary_key=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    background_color: Mapped[str] = mapped_column(String(9))
    text_color: Mapped[str] = mapped_column(String(9))
    text_lines: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # images are re-encoded PNGs, a few hundred KB at most (checked on upload)
    background_image: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CountProduct(IdMixin, TimestampMixin, Base):
    """A count card (次卡) a merchant sells, e.g. 10 haircuts for the price of 8."""

    __tablename__ = "card_count_products"

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("card_programs.id", ondelete="CASCADE")
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    uses: Mapped[int] = mapped_column(Integer)
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # a pass expires this many days after it is paid; None: never
    validity_days: Mapped[int | None] = mapped_column(Integer)
    # None: usable at every shop of the merchant
    shop_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid()))
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))

    __table_args__ = (
        CheckConstraint("uses > 0 AND uses <= 1000", name="uses"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("validity_days IS NULL OR validity_days > 0", name="validity_positive"),
        Index("ix_card_count_products_program", "program_id", "created_at"),
    )


class CountPass(IdMixin, Base):
    """One bought count card on a member's card: pending until paid, then `uses_left` counts
    down with each use at the counter (the ledger's `uses_delta` of the pass sums to it)."""

    __tablename__ = "card_count_passes"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    # the buyer; none when a clerk sold it at the counter for a member without the app
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # a counter sale: where and by whom (the callback's ledger entry carries both)
    shop_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("shops.id", ondelete="SET NULL"))
    sold_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card_count_products.id"))
    # the product's terms when bought (a later change of the product does not alter them)
    name: Mapped[str] = mapped_column(String(120))
    uses_total: Mapped[int] = mapped_column(Integer)
    uses_left: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    validity_days: Mapped[int | None] = mapped_column(Integer)
    shop_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid()))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider: Mapped[str] = mapped_column(String(32))
    provider_reference: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("uses_left >= 0 AND uses_left <= uses_total", name="uses_left"),
        CheckConstraint("status IN ('pending', 'active', 'failed')", name="status"),
        CheckConstraint("status = 'active' OR uses_left = 0", name="unpaid_has_no_uses"),
        Index("ix_card_count_passes_card", "card_id", "created_at"),
    )


class PhysicalCard(IdMixin, Base):
    """A pre-printed card number a merchant imported for a program; bound to one member's
    card once (the unique `card_id` and the conditional bind make it so)."""

    __tablename__ = "card_physical_numbers"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("card_programs.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(19))
    card_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cards.id", ondelete="SET NULL"), unique=True
    )
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # set once: a number whose card was deleted stays used (binding needs bound_at IS NULL)
    bound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bound_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    __table_args__ = (
        # numbers are the merchant's: two merchants' printers may well reuse one
        UniqueConstraint("merchant_id", "number"),
        CheckConstraint("number ~ '^[0-9]{8,19}$'", name="number_digits"),
    )
