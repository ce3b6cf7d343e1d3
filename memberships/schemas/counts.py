"""Count products (N uses for a price) and the passes bought from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.money import MAX_AMOUNT, Money
from memberships.schemas.common import PaymentInstructions, PaymentRequest


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


class CounterCountPassCreate(CountPassCreate):
    """A clerk sells a count card at the counter; the uses are credited on the callback."""

    card: str = Field(min_length=1, max_length=512, description="Card number or QR token")
    shop_id: uuid.UUID
