"""Members the app never saw: member-book imports, cards granted by staff, lookup by phone."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accounts.schemas import normalise_phone
from memberships.schemas.cards import Card


class RejectedMemberRow(BaseModel):
    row: int = Field(description="The row in the file (the header is row 1)")
    reason: str = Field(description="Stable code: invalid_phone, negative_balance, …")
    field: str | None = Field(None, description="The column at fault, when one is")


class MemberImportReport(BaseModel):
    imported: int = Field(description="Rows that brought a new customer or card")
    updated: int = Field(description="Rows matching a known member (re-import: nothing new)")
    rejected_total: int
    rejected: list[RejectedMemberRow] = Field(description="The first 1000 rejected rows")


class GrantCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID


class MemberLookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str
    shop_id: uuid.UUID

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)


class CounterCardLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card: str = Field(min_length=1, max_length=512, description="Card number or QR token")
    shop_id: uuid.UUID


class MemberCard(BaseModel):
    customer_id: uuid.UUID | None
    name: str | None
    card: Card


class MemberLookup(BaseModel):
    phone: str | None = Field(description="Masked (138****5678) for clerks")
    customer_ids: list[uuid.UUID]
    items: list[MemberCard]
