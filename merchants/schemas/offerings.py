"""Offerings (what a shop sells) and their refund terms.

An offering's `refund_policy` and `valid_days` are the terms its orders snapshot: a change
applies to orders placed afterwards, never to placed ones.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.money import Money

# what the buyer of a paid, unconsumed order may do (the 随时退 / 过期退 of group-buy vouchers):
# anytime: refund on request, and automatically once the order expires unused;
# before_expiry: refund on request while the order is usable, not after (过期不退);
# none: only the merchant refunds (the default: what every offering did before policies)
RefundPolicy = Literal["anytime", "before_expiry", "none"]
VALID_DAYS_MAX = 3650


class OfferingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=4000)
    price: Money
    photo_id: uuid.UUID | None = None
    bookable: bool = False
    refund_policy: RefundPolicy = Field(
        default="none",
        description="anytime: the buyer may refund an unconsumed order at any time and it is"
        " refunded automatically when it expires unused (随时退, 过期退); before_expiry: the"
        " buyer may refund while it is usable (过期不退); none: only the merchant refunds",
    )
    valid_days: int | None = Field(
        default=None,
        ge=1,
        le=VALID_DAYS_MAX,
        description="A paid order is usable for this many days after payment (null: no end)",
    )


class OfferingUpdate(BaseModel):
    """Fields to change; a new price applies to orders from now (past ones keep theirs)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=4000)
    price: Money | None = None
    photo_id: uuid.UUID | None = None
    bookable: bool | None = None
    active: bool | None = None
    refund_policy: RefundPolicy | None = Field(
        default=None, description="Applies to orders from now; placed orders keep theirs"
    )
    valid_days: int | None = Field(
        default=None, ge=1, le=VALID_DAYS_MAX, description="null: paid orders never expire"
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> OfferingUpdate:
        for name in ("name", "description", "price", "bookable", "active", "refund_policy"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Offering(BaseModel):
    id: uuid.UUID
    shop_id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    description: str
    price: Money
    photo_id: uuid.UUID | None
    bookable: bool
    active: bool = Field(description="False once archived (DELETE): off the menu, no new orders")
    refund_policy: RefundPolicy
    valid_days: int | None
    created_at: datetime
    updated_at: datetime
