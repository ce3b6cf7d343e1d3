"""The card ledger: entries, counter transactions, adjustments and reversals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.money import Money
from memberships.schemas.cards import Card
from memberships.schemas.common import MAX_POINTS
from memberships.schemas.counts import CountPass


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
    rule_version: int = Field(
        description="The programme rule version this entry was computed with "
        "(GET /v1/programs/{program_id}/versions)"
    )
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
