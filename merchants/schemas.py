from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class ShopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    category: str
    location: LatLng
    crs: Crs = "wgs84"
    address: str = Field(min_length=1, max_length=255)
    phone: str | None = None
    opening_hours: list[OpeningPeriod] = Field(default_factory=list, max_length=50)
    discovery_only: bool = False

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if not is_known(value):
            raise ValueError("unknown category code (see GET /v1/categories)")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value is not None else None


class Shop(BaseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    category: str
    location: LatLng
    address: str
    phone: str | None
    opening_hours: list[OpeningPeriod]
    discovery_only: bool
    timezone: str
    created_at: datetime
    updated_at: datetime
