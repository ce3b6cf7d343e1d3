"""Customers staff add themselves: a walk-in regular without the app, a member-book row."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accounts.schemas import normalise_phone
from customers.schemas.common import Tag

# nobody alive was born before this; a birthday in the future is a typo
EARLIEST_BIRTHDAY = date(1900, 1, 1)


def check_birthday(value: date | None) -> date | None:
    if value is not None and not EARLIEST_BIRTHDAY <= value <= date.today():
        raise ValueError("not a plausible birthday")
    return value


class WalkInCreate(BaseModel):
    """`POST /v1/merchants/{id}/customers`: linked to the app account that later signs in with
    this phone (or at once, when the phone already has one)."""

    model_config = ConfigDict(extra="forbid")

    phone: str
    name: str | None = Field(default=None, min_length=1, max_length=64)
    birthday: date | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    refuses_calls: bool = False

    _phone = field_validator("phone")(normalise_phone)
    _birthday = field_validator("birthday")(check_birthday)


class KnownCustomer(BaseModel):
    """What other packages learn of a customer record (memberships: member book, counter)."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    user_id: uuid.UUID | None
    name: str | None
    phone: str | None
    birthday: date | None
