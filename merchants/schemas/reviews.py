"""Reviews, the merchant's reply and the rating summaries (all, verified, general).

A review names at most one consumption it follows (a redemption, an order or a card
transaction): such a review is `verified`; the author is shown by a pseudonym stable per
merchant, never by user id.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)
    text: str = Field(default="", max_length=2000)
    redemption_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None
    card_transaction_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> ReviewCreate:
        given = [self.redemption_id, self.order_id, self.card_transaction_id]
        if sum(x is not None for x in given) > 1:
            raise ValueError("give at most one of redemption_id, order_id, card_transaction_id")
        return self


class ReviewReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


class MerchantReply(BaseModel):
    text: str
    replied_at: datetime


class Review(BaseModel):
    id: uuid.UUID
    shop_id: uuid.UUID
    author: str = Field(description="The reviewer's display name")
    author_id: uuid.UUID = Field(
        description="A pseudonym of the reviewer, stable for their reviews of one merchant; "
        "never their user id"
    )
    rating: int
    text: str
    verified: bool
    redemption_id: uuid.UUID | None
    order_id: uuid.UUID | None
    card_transaction_id: uuid.UUID | None
    reply: MerchantReply | None
    created_at: datetime


class RatingSummary(BaseModel):
    count: int
    average: float | None
    by_star: dict[str, int] = Field(description='Counts keyed "1".."5"')


class ReviewSummary(BaseModel):
    all: RatingSummary
    verified: RatingSummary
    general: RatingSummary


class ReviewPage(BaseModel):
    items: list[Review]
    next_cursor: str | None = None
    summary: ReviewSummary
