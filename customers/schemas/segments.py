"""Segments: rules over RFM scores, visits, spend, tiers and tags."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from customers.rfm import RfmSegmentName
from customers.schemas.common import Tag

# -- segments -------------------------------------------------------------------------------


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class ScoreRange(Range):
    min: int | None = Field(default=None, ge=1, le=5)
    max: int | None = Field(default=None, ge=1, le=5)


class SegmentRules(BaseModel):
    """Every condition given must hold (AND). Money in minor units."""

    model_config = ConfigDict(extra="forbid")

    r_score: ScoreRange | None = None
    f_score: ScoreRange | None = None
    m_score: ScoreRange | None = None
    rfm_segments: list[RfmSegmentName] | None = Field(default=None, min_length=1)
    visits: Range | None = None
    total_spend: Range | None = None
    last_visit_before: AwareDatetime | None = None
    last_visit_after: AwareDatetime | None = None
    no_visit_for_days: int | None = Field(default=None, ge=1, le=3650)
    visited_within_days: int | None = Field(default=None, ge=1, le=3650)
    tiers: list[Annotated[str, Field(min_length=1, max_length=32)]] | None = Field(
        default=None, min_length=1, max_length=20
    )
    tags_any: list[Tag] | None = Field(default=None, min_length=1, max_length=20)
    tags_all: list[Tag] | None = Field(default=None, min_length=1, max_length=20)
    refuses_calls: bool | None = None
    no_shows_at_least: int | None = Field(
        default=None, ge=1, le=1000, description="Bookings not come to (marked no_show)"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> SegmentRules:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a segment needs at least one rule")
        return self


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    rules: SegmentRules


class Segment(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    rules: SegmentRules
    customers: int = Field(description="Counted live when the segment is read")
    created_at: datetime


class SegmentPreview(BaseModel):
    customers: int
