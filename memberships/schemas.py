from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.money import MAX_AMOUNT, Currency, Money
from core.pagination import Page as Page  # re-exported for routes and services
from core.payments import PaymentInstructions as PaymentInstructions
from core.payments import PaymentRequest

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
MAX_POINTS = 10**12


class EarnRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_currency_unit: Decimal = Field(
        ge=0, le=1000, decimal_places=2, description="Points per whole major unit paid"
    )


class UpgradeRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_spend_12m: Money | None = Field(
        default=None, description="Spend over the last 12 months that moves a card to this tier"
    )


class TierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=64)
    rank: int = Field(ge=0, le=100)
    discount_percent: int = Field(default=0, ge=0, le=99)
    earn: EarnRule
    upgrade: UpgradeRule = Field(default_factory=UpgradeRule)


class RedeemRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_currency_unit: int = Field(
        ge=1, le=100_000, description="Points that pay for one major unit (100 → 1.00 CNY)"
    )


class TopupBonusRule(BaseModel):
    """充500送50: a top-up of at least `min_amount` gets `bonus` added to the bonus purse."""

    model_config = ConfigDict(extra="forbid")

    min_amount: Money
    bonus: Money


class ProgramCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    currency: Currency = "CNY"
    tiers: list[TierCreate] = Field(min_length=1, max_length=20)
    points_expire_months: int | None = Field(default=None, ge=1, le=120)
    redeem: RedeemRule
    topup_bonuses: list[TopupBonusRule] = Field(default_factory=list, max_length=20)
    bonus_spend_rule: Literal["principal_first", "bonus_first", "proportional"] = Field(
        default="principal_first",
        description="Which purse a stored-value payment uses first (see memberships/rules.py)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProgramCreate:
        codes = [t.code for t in self.tiers]
        ranks = [t.rank for t in self.tiers]
        if len(set(codes)) != len(codes):
            raise ValueError("tier codes must be unique")
        if len(set(ranks)) != len(ranks):
            raise ValueError("tier ranks must be unique")
        ordered = sorted(self.tiers, key=lambda t: t.rank)
        previous = 0
        for tier in ordered[1:]:
            threshold = tier.upgrade.min_spend_12m
            if threshold is None:
                continue
            if threshold.amount < previous:
                raise ValueError("upgrade thresholds must grow with the tier rank")
            previous = threshold.amount
        money = [t.upgrade.min_spend_12m for t in self.tiers if t.upgrade.min_spend_12m]
        money += [m for r in self.topup_bonuses for m in (r.min_amount, r.bonus)]
        if any(m.currency != self.currency for m in money):
            raise ValueError("all amounts must be in the program currency")
        return self


class TierRef(BaseModel):
    code: str
    name: str


class Tier(TierRef):
    rank: int
    discount_percent: int
    earn: EarnRule
    upgrade: UpgradeRule


class Program(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    currency: str
    tiers: list[Tier]
    points_expire_months: int | None
    redeem: RedeemRule
    topup_bonuses: list[TopupBonusRule]
    bonus_spend_rule: str
    created_at: datetime


class Progress(BaseModel):
    spend_12m: Money
    next_tier: TierRef | None
    remaining: Money | None = Field(description="Spend still needed for the next tier")


class CardTier(TierRef):
    rank: int
    discount_percent: int


class Card(BaseModel):
    id: uuid.UUID
    program_id: uuid.UUID
    merchant_id: uuid.UUID
    card_number: str
    tier: CardTier
    points: int
    balance: Money = Field(description="Stored value: principal + bonus")
    principal: Money
    bonus: Money
    has_pin: bool
    progress: Progress | None = None
    count_passes: list[CountPass] | None = Field(
        default=None,
        description="Paid count cards (次卡), newest first; present in GET /v1/cards/{id}, "
        "/v1/me/cards and count_use answers, null elsewhere",
    )
    physical_card_number: str | None = Field(
        default=None, description="The bound pre-printed card number (same answers as above)"
    )
    created_at: datetime


class PinSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: str = Field(pattern=r"^\d{6}$", description="Six digits")
    current_pin: str | None = Field(default=None, max_length=64)

    @field_validator("pin")
    @classmethod
    def _not_trivial(cls, value: str) -> str:
        if len(set(value)) == 1 or value in "0123456789" or value in "9876543210":
            raise ValueError("choose a PIN that is not a repeated or sequential run of digits")
        return value


class QrToken(BaseModel):
    token: str
    expires_at: datetime


class LedgerEntry(BaseModel):
    id: uuid.UUID
    card_id: uuid.UUID
    kind: str
    points_delta: int
    balance_delta: int = Field(description="Minor units, principal_delta + bonus_delta")
    principal_delta: int
    bonus_delta: int
    points_after: int
    balance_after: int
    principal_after: int
    bonus_after: int
    currency: str
    amount: Money | None = Field(description="Purchase: gross amount; spend: value used")
    paid: Money | None = Field(description="Purchase: what was paid after the tier discount")
    shop_id: uuid.UUID | None
    staff_user_id: uuid.UUID | None
    reverses_entry_id: uuid.UUID | None
    topup_id: uuid.UUID | None
    count_pass_id: uuid.UUID | None = None
    uses_delta: int = Field(default=0, description="Count card uses added (+) or used (-)")
    uses_after: int | None = Field(default=None, description="The pass's uses left after it")
    note: str | None
    created_at: datetime


class CounterTransactionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card: str = Field(min_length=1, max_length=512, description="Card number or QR token")
    shop_id: uuid.UUID
    kind: Literal["purchase", "spend_points", "spend_balance", "count_use"]
    amount: Money | None = None
    points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    pin: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=255)
    pass_id: uuid.UUID | None = Field(default=None, description="count_use: the pass to use")
    count_product_id: uuid.UUID | None = Field(
        default=None,
        description="count_use: use the card's pass of this product that expires first",
    )

    @model_validator(mode="after")
    def _fields_for_kind(self) -> CounterTransactionCreate:
        if self.kind in ("purchase", "spend_balance") and (
            self.amount is None or self.amount.amount <= 0
        ):
            raise ValueError(f"{self.kind} needs a positive amount")
        if self.kind == "spend_points" and self.points is None:
            raise ValueError("spend_points needs points")
        if self.kind == "count_use" and (self.pass_id is None) == (self.count_product_id is None):
            raise ValueError("count_use needs exactly one of pass_id and count_product_id")
        return self


class CounterTransaction(BaseModel):
    entry: LedgerEntry
    card: Card
    discount: Money | None = None
    count_pass: CountPass | None = Field(default=None, description="count_use: the pass after")


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_delta: int = Field(ge=-MAX_POINTS, le=MAX_POINTS)
    note: str = Field(min_length=1, max_length=255)

    @field_validator("points_delta")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("points_delta must not be zero")
        return value


class ReversalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=255)


class TopupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Money
    payment: PaymentRequest | None = None

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if value.amount <= 0 or value.amount > MAX_AMOUNT // 1000:
            raise ValueError("a top-up must be positive and at most 1,000,000,000 minor units")
        return value


class Topup(BaseModel):
    id: uuid.UUID
    card_id: uuid.UUID
    amount: Money
    bonus: Money
    status: str
    payment: PaymentInstructions
    created_at: datetime
    completed_at: datetime | None


class PaymentCallback(BaseModel):
    reference: str = Field(min_length=1, max_length=64)
    status: Literal["succeeded", "failed"]


class Refund(BaseModel):
    card: Card
    entry: LedgerEntry | None
    refunded: Money


class DesignUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    background_color: str = Field(default="#1F2937", description="#RRGGBB")
    text_color: str = Field(default="#FFFFFF", description="#RRGGBB")
    text_lines: list[str] = Field(default_factory=list, max_length=4)
    background_image: str | None = Field(
        default=None, max_length=4_000_000, description="Base64 PNG/JPEG, cropped to fill"
    )
    logo: str | None = Field(default=None, max_length=1_000_000, description="Base64 PNG/JPEG")

    @field_validator("background_color", "text_color")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _COLOR.match(value):
            raise ValueError("use #RRGGBB")
        return value.upper()

    @field_validator("text_lines")
    @classmethod
    def _lines(cls, value: list[str]) -> list[str]:
        if any(len(line) > 40 for line in value):
            raise ValueError("each text line holds at most 40 characters")
        return [line.strip() for line in value]


class Design(BaseModel):
    program_id: uuid.UUID
    background_color: str
    text_color: str
    text_lines: list[str]
    has_background_image: bool
    has_logo: bool
    updated_at: datetime


class CountProductCreate(BaseModel):
    """次卡, e.g. 10 haircuts for the price of 8."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    uses: int = Field(ge=1, le=1000)
    price: Money
    validity_days: int | None = Field(default=None, ge=1, le=3660)
    shop_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=200, description="Only at these shops (default all)"
    )

    @field_validator("price")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if value.amount <= 0 or value.amount > MAX_AMOUNT // 1000:
            raise ValueError("a price must be positive and at most 1,000,000,000 minor units")
        return value


class CountProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool = Field(description="false stops selling it; passes already sold keep working")


class CountProduct(BaseModel):
    id: uuid.UUID
    program_id: uuid.UUID
    name: str
    uses: int
    price: Money
    validity_days: int | None
    shop_ids: list[uuid.UUID] | None
    active: bool
    created_at: datetime


class CountPassCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: uuid.UUID
    payment: PaymentRequest | None = None


class CountPass(BaseModel):
    id: uuid.UUID
    card_id: uuid.UUID
    product_id: uuid.UUID
    name: str
    uses_total: int
    uses_left: int
    price: Money
    status: Literal["pending", "active", "failed", "expired", "used_up"] = Field(
        description="active = paid, not expired and uses left"
    )
    shop_ids: list[uuid.UUID] | None
    expires_at: datetime | None
    activated_at: datetime | None
    created_at: datetime
    payment: PaymentInstructions | None = Field(
        default=None, description="How to pay (the answer to the purchase only)"
    )


class PhysicalCardBind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=40, description="Pre-printed card number")


class PhysicalCardBinding(BaseModel):
    number: str
    card_id: uuid.UUID
    program_id: uuid.UUID
    bound_at: datetime


class RejectedRow(BaseModel):
    row: int
    number: str
    reason: str


class PhysicalCardImport(BaseModel):
    rows: int
    imported: int
    rejected_total: int
    rejected_by_reason: dict[str, int]
    rejected: list[RejectedRow] = Field(description="The first 1000 rejected rows")


# Card and CounterTransaction refer to CountPass, defined after them
Card.model_rebuild()
CounterTransaction.model_rebuild()
