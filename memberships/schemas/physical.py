"""Pre-printed physical cards: binding and batch imports."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PhysicalCardBind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=40, description="Pre-printed card number")


class PhysicalCardBinding(BaseModel):
    number: str
    card_id: uuid.UUID
    program_id: uuid.UUID
    bound_at: datetime


class RejectedRow(BaseModel):
    row: int
    number: str
    reason: str


class PhysicalCardImport(BaseModel):
    rows: int
    imported: int
    rejected_total: int
    rejected_by_reason: dict[str, int]
    rejected: list[RejectedRow] = Field(description="The first 1000 rejected rows")
