"""The customer directory: summaries, profiles with their timeline, edits, the access log."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.money import Money
from customers.schemas.common import FollowUpMethod, InterestLevel, Tag
from customers.schemas.followups import FollowUpTask

SortKey = Literal["last_visit", "total_spend", "visits"]


def _clean_tags(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        text = tag.strip()
        if not text:
            raise ValueError("tags must not be blank")
        seen.setdefault(text, None)
    return list(seen)


# -- directory and profile ------------------------------------------------------------------


class Rfm(BaseModel):
    r: int
    f: int
    m: int
    segment: str
    scored_at: datetime


class CustomerSummary(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID | None = Field(description="Null until the customer signs in to the app")
    name: str | None
    phone: str | None = Field(description="Masked (138****5678) for clerks")
    tier: str | None
    tags: list[str]
    visits: int
    no_shows: int = Field(description="Bookings the customer did not come to")
    total_spend: Money
    first_seen_at: datetime
    last_visit_at: datetime | None
    rfm_segment: str | None


class TimelineEntry(BaseModel):
    id: str = Field(description="event:<n>, follow_up:<uuid> or complaint:<uuid>")
    kind: str
    at: datetime
    amount: Money | None = None
    reference_id: uuid.UUID | None = None
    summary: str | None = None


class NoShow(BaseModel):
    booking_id: uuid.UUID
    starts_at: datetime


class CustomerProfile(CustomerSummary):
    birthday: date | None = None
    notes: str | None
    refuses_calls: bool
    interest_level: InterestLevel | None
    first_visit_at: datetime | None
    first_purchase_at: datetime | None
    last_activity_at: datetime
    rfm: Rfm | None
    allowed_follow_up_methods: list[FollowUpMethod]
    open_follow_up_tasks: list[FollowUpTask]
    no_show_bookings: list[NoShow] = Field(description="Latest first, at most 20")
    timeline: list[TimelineEntry]
    timeline_next_cursor: str | None


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    tags: list[Tag] | None = Field(default=None, max_length=30)
    notes: str | None = Field(default=None, max_length=4000)
    refuses_calls: bool | None = None
    interest_level: InterestLevel | None = None
    tier: str | None = Field(default=None, min_length=1, max_length=32)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return _clean_tags(value) if value is not None else None


class AccessLogEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_user_id: uuid.UUID
    action: str
    customer_id: uuid.UUID | None
    detail: dict[str, Any]
    at: datetime
