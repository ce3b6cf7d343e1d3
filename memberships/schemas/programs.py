"""Programs and their tiers, earn/upgrade/redeem/top-up bonus rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.money import Currency, Money


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
