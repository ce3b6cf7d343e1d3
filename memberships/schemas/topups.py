"""Top-ups, payment instructions, the payment callback and refunds."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.money import MAX_AMOUNT, Money
from memberships.schemas.cards import Card
from memberships.schemas.common import PaymentInstructions, PaymentRequest
from memberships.schemas.ledger import LedgerEntry


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
    rule_version: int = Field(description="The programme rule version that set the bonus")
    created_at: datetime
    completed_at: datetime | None


class PaymentCallback(BaseModel):
    reference: str = Field(min_length=1, max_length=64)
    status: Literal["succeeded", "failed"]


class Refund(BaseModel):
    card: Card
    entry: LedgerEntry | None
    refunded: Money


class CounterTopupCreate(TopupCreate):
    """A clerk sells a top-up at the counter: the card as the counter reads it (number or QR
    token), the shop, the amount, and how the member pays (a Native/precreate QR shown on
    the tablet). The card is credited when the provider's callback says it was paid."""

    card: str = Field(min_length=1, max_length=512, description="Card number or QR token")
    shop_id: uuid.UUID
