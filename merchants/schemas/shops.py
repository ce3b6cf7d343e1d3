"""Shops as merchants write them (`ShopCreate`, `ShopUpdate`) and as everyone reads them
(`Shop`), with their weekly opening periods, dated special hours and the category tree.

Validation: times are 24-hour HH:MM (a close at or before the open runs past midnight); a
category is a known code; a phone is normalised; features are trimmed, without blanks or
repeats; an update may leave a field out but not set a required one to null.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from accounts.schemas import normalise_phone
from geo.schemas import Crs, LatLng
from merchants.categories import is_known

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class OpeningPeriod(BaseModel):
    """One opening period; `close` at or before `open` means it closes after midnight."""

    model_config = ConfigDict(extra="forbid")

    day: int = Field(ge=0, le=6, description="Monday=0 … Sunday=6, in the merchant's timezone")
    open: str = Field(examples=["09:00"])
    close: str = Field(examples=["21:30", "02:00"])

    @field_validator("open", "close")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("use 24-hour HH:MM")
        return value


# an entry spans at most a year; a shop keeps at most this many entries
SPECIAL_MAX_DAYS = 366
SPECIAL_MAX_ENTRIES = 200


class SpecialHours(BaseModel):
    """A dated exception to the weekly hours: `closed` (a holiday), or changed `open`/`close`
    on `date` (through `until`, inclusive). On such a date these replace the weekly periods."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date
    until: dt.date | None = Field(None, description="Last date (inclusive); default `date`")
    closed: bool = False
    open: str | None = Field(None, examples=["10:00"])
    close: str | None = Field(None, examples=["16:00"])
    note: str = Field("", max_length=120, examples=["元旦"])

    @field_validator("open", "close")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM.match(value):
            raise ValueError("use 24-hour HH:MM")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SpecialHours:
        if self.until is None:
            self.until = self.date
        if self.until < self.date:
            raise ValueError("until must not be before date")
        if (self.until - self.date).days >= SPECIAL_MAX_DAYS:
            raise ValueError(f"an entry spans at most {SPECIAL_MAX_DAYS} days")
        if self.closed and (self.open is not None or self.close is not None):
            raise ValueError("a closed day has no open/close")
        if not self.closed and (self.open is None or self.close is None):
            raise ValueError("give open and close, or closed: true")
        return self


def _check_category(value: str | None) -> str | None:
    if value is not None and not is_known(value):
        raise ValueError("unknown category code (see GET /v1/categories)")
    return value


def _check_phone(value: str | None) -> str | None:
    return normalise_phone(value) if value is not None else None


def _clean_features(values: list[str]) -> list[str]:
    """Trimmed, without blanks or repeats, in the order given."""
    seen: list[str] = []
    for value in values:
        text = value.strip()
        if text and text not in seen:
            seen.append(text)
    return seen


Feature = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class ShopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    category: str
    location: LatLng
    crs: Crs = "wgs84"
    address: str = Field(min_length=1, max_length=255)
    phone: str | None = None
    opening_hours: list[OpeningPeriod] = Field(default_factory=list, max_length=50)
    special_hours: list[SpecialHours] = Field(default_factory=list, max_length=SPECIAL_MAX_ENTRIES)
    discovery_only: bool = False
    description: str = Field(default="", max_length=4000)
    features: list[Feature] = Field(default_factory=list, max_length=20)

    _category = field_validator("category")(_check_category)
    _phone = field_validator("phone")(_check_phone)
    _features = field_validator("features")(lambda v: _clean_features(v) if v is not None else None)


class ShopUpdate(BaseModel):
    """Fields to change; `location` (in `crs`) moves the shop."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    category: str | None = None
    location: LatLng | None = None
    crs: Crs = "wgs84"
    address: str | None = Field(default=None, min_length=1, max_length=255)
    phone: str | None = None
    opening_hours: list[OpeningPeriod] | None = Field(default=None, max_length=50)
    special_hours: list[SpecialHours] | None = Field(
        default=None,
        max_length=SPECIAL_MAX_ENTRIES,
        description="Replaces the whole list; overlapping entries are refused",
    )
    discovery_only: bool | None = None
    description: str | None = Field(default=None, max_length=4000)
    features: list[Feature] | None = Field(default=None, max_length=20)

    _category = field_validator("category")(_check_category)
    _phone = field_validator("phone")(_check_phone)
    _features = field_validator("features")(lambda v: _clean_features(v) if v is not None else None)

    @model_validator(mode="after")
    def _no_nulls(self) -> ShopUpdate:
        for name in (
            "name",
            "category",
            "location",
            "address",
            "opening_hours",
            "special_hours",
            "description",
            "features",
        ):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Shop(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    category: str
    location: LatLng
    address: str
    phone: str | None
    description: str
    features: list[str] = Field(description='Short tags shown on the shop\'s screen ("wifi")')
    opening_hours: list[OpeningPeriod]
    special_hours: list[SpecialHours]
    discovery_only: bool
    timezone: str
    open_now: bool
    rating: float | None = Field(description="Average stars, null before the first review")
    review_count: int
    created_at: datetime
    updated_at: datetime


class CategoryNode(BaseModel):
    code: str
    name: str = Field(description="Label in the request's language")
    labels: dict[str, str] = Field(description='{"zh-CN": …, "en": …}')
    parent: str | None
    children: list[CategoryNode] = Field(default_factory=list)
