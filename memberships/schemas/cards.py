"""Member cards: the card with its tier and progress, PINs, QR tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.money import Money
from memberships.schemas.counts import CountPass
from memberships.schemas.programs import TierRef


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


class _NewPin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: str = Field(pattern=r"^\d{6}$", description="Six digits")

    @field_validator("pin")
    @classmethod
    def _not_trivial(cls, value: str) -> str:
        if len(set(value)) == 1 or value in "0123456789" or value in "9876543210":
            raise ValueError("choose a PIN that is not a repeated or sequential run of digits")
        return value


class PinSet(_NewPin):
    current_pin: str | None = Field(default=None, max_length=64)


class QrToken(BaseModel):
    token: str
    expires_at: datetime


class PinCodeSent(BaseModel):
    phone: str = Field(description="Where the code went, masked (138****5678)")
    expires_in: int = Field(description="Seconds the code stays valid")


class CounterPinReset(_NewPin):
    """The member types the SMS code and a new PIN on the counter's tablet."""

    code: str = Field(min_length=1, max_length=12, description="The 6-digit SMS code")
