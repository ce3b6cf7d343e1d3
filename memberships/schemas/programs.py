"""Programs and their tiers, earn/upgrade/redeem/top-up bonus rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.money import Currency, Money


class EarnRule(BaseModel):
    # one schema for requests and answers (a Decimal's serialization schema differs from its
    # validation one, and generated clients cannot tell two "EarnRule"s apart)
    model_config = ConfigDict(extra="forbid", json_schema_mode_override="validation")

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

    @field_validator("min_amount", "bonus")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if value.amount <= 0:
            raise ValueError("must be more than zero")
        return value


BonusSpendRule = Literal["principal_first", "bonus_first", "proportional"]
BONUS_SPEND_RULE_DOC = "Which purse a stored-value payment uses first (see memberships/rules.py)"
TIER_DOWNGRADE_DOC = (
    "The tier review (a daily job) also moves a card down when its rolling 12-month spend no "
    "longer reaches its tier's upgrade threshold (to the highest tier it reaches; the entry "
    "tier at least). Upgrades happen either way."
)


def consistent_tiers(tiers: list[TierCreate]) -> list[TierCreate]:
    """Unique codes and ranks; upgrade thresholds growing with the rank."""
    codes = [t.code for t in tiers]
    ranks = [t.rank for t in tiers]
    if len(set(codes)) != len(codes):
        raise ValueError("tier codes must be unique")
    if len(set(ranks)) != len(ranks):
        raise ValueError("tier ranks must be unique")
    ordered = sorted(tiers, key=lambda t: t.rank)
    previous = 0
    for tier in ordered[1:]:
        threshold = tier.upgrade.min_spend_12m
        if threshold is None:
            continue
        if threshold.amount < previous:
            raise ValueError("upgrade thresholds must grow with the tier rank")
        previous = threshold.amount
    return tiers


def distinct_bonus_thresholds(rules: list[TopupBonusRule]) -> list[TopupBonusRule]:
    amounts = [r.min_amount.amount for r in rules]
    if len(set(amounts)) != len(amounts):
        raise ValueError("two top-up bonus rules have the same min_amount")
    return rules


def foreign_amounts(
    currency: str,
    tiers: list[TierCreate] | None,
    topup_bonuses: list[TopupBonusRule] | None,
) -> list[tuple[list[str | int], str]]:
    """(location under the body, currency) of every amount not in the programme currency."""
    found: list[tuple[list[str | int], str]] = []
    for i, tier in enumerate(tiers or []):
        threshold = tier.upgrade.min_spend_12m
        if threshold is not None and threshold.currency != currency:
            found.append((["tiers", i, "upgrade", "min_spend_12m"], threshold.currency))
    for i, rule in enumerate(topup_bonuses or []):
        for name, money in (("min_amount", rule.min_amount), ("bonus", rule.bonus)):
            if money.currency != currency:
                found.append((["topup_bonuses", i, name], money.currency))
    return found


class ProgramCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=1000)
    currency: Currency = "CNY"
    tiers: list[TierCreate] = Field(min_length=1, max_length=20)
    points_expire_months: int | None = Field(default=None, ge=1, le=120)
    redeem: RedeemRule
    topup_bonuses: list[TopupBonusRule] = Field(default_factory=list, max_length=20)
    bonus_spend_rule: BonusSpendRule = Field(
        default="principal_first", description=BONUS_SPEND_RULE_DOC
    )
    tier_downgrade: bool = Field(default=False, description=TIER_DOWNGRADE_DOC)

    _tiers = field_validator("tiers")(consistent_tiers)
    _bonuses = field_validator("topup_bonuses")(distinct_bonus_thresholds)

    @model_validator(mode="after")
    def _one_currency(self) -> ProgramCreate:
        if foreign_amounts(self.currency, self.tiers, self.topup_bonuses):
            raise ValueError("all amounts must be in the program currency")
        return self


class ProgramUpdate(BaseModel):
    """PATCH of a programme: only the fields given change. `tiers` is the whole new list,
    matched to the current tiers by `code` (a card keeps its tier when the tier is edited; a
    tier still holding cards cannot be left out). A change of the rules (tiers,
    points_expire_months, redeem, topup_bonuses, bonus_spend_rule, tier_downgrade) starts a new
    rule version, in force from the moment the PATCH commits; `name` and `description` do not."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=1000)
    tiers: list[TierCreate] | None = Field(default=None, min_length=1, max_length=20)
    points_expire_months: int | None = Field(
        default=None, ge=1, le=120, description="null: points never expire"
    )
    redeem: RedeemRule | None = None
    topup_bonuses: list[TopupBonusRule] | None = Field(default=None, max_length=20)
    bonus_spend_rule: BonusSpendRule | None = Field(default=None, description=BONUS_SPEND_RULE_DOC)
    tier_downgrade: bool | None = Field(default=None, description=TIER_DOWNGRADE_DOC)

    @field_validator(
        "name", "tiers", "redeem", "topup_bonuses", "bonus_spend_rule", "tier_downgrade"
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        # validators do not run on omitted fields: only an explicit null reaches here
        if value is None:
            raise ValueError("cannot be null (leave the field out to keep it)")
        return value

    _tiers = field_validator("tiers")(consistent_tiers)
    _bonuses = field_validator("topup_bonuses")(distinct_bonus_thresholds)

    @model_validator(mode="after")
    def _something(self) -> ProgramUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        return self


class TierRef(BaseModel):
    code: str
    name: str


class Tier(TierRef):
    rank: int
    discount_percent: int
    earn: EarnRule
    upgrade: UpgradeRule


class ProgramRules(BaseModel):
    """What a rule version fixes: the tiers with their earn, discount and upgrade rules,
    points expiry, the redeem rate, top-up bonuses and the purse order of payments."""

    tiers: list[Tier]
    points_expire_months: int | None
    redeem: RedeemRule
    topup_bonuses: list[TopupBonusRule]
    bonus_spend_rule: str
    tier_downgrade: bool = Field(description=TIER_DOWNGRADE_DOC)


class Program(ProgramRules):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    description: str | None = None
    currency: str
    rule_version: int = Field(description="The version of the rules in force now")
    created_at: datetime
    updated_at: datetime


class ProgramRuleVersion(ProgramRules):
    program_id: uuid.UUID
    version: int
    created_by: uuid.UUID | None = Field(description="The staff member whose PATCH made it")
    created_at: datetime = Field(description="In force from this moment to the next version's")


class TierChange(BaseModel):
    """A card moved between tiers (tiers by code)."""

    id: uuid.UUID
    card_id: uuid.UUID
    from_tier: str
    to_tier: str
    direction: Literal["up", "down"]
    reason: Literal["purchase", "review"] = Field(
        description="purchase: a purchase reached a threshold; review: the periodic tier review"
    )
    spend_12m: Money = Field(description="The rolling 12-month spend it was decided on")
    rule_version: int
    created_at: datetime
