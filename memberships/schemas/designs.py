"""Card designs (colours, logo, layout)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class DesignUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    background_color: str = Field(default="#1F2937", description="#RRGGBB")
    text_color: str = Field(default="#FFFFFF", description="#RRGGBB")
    text_lines: list[str] = Field(default_factory=list, max_length=4)
    background_image: str | None = Field(
        default=None, max_length=4_000_000, description="Base64 PNG/JPEG, cropped to fill"
    )
    logo: str | None = Field(default=None, max_length=1_000_000, description="Base64 PNG/JPEG")

    @field_validator("background_color", "text_color")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _COLOR.match(value):
            raise ValueError("use #RRGGBB")
        return value.upper()

    @field_validator("text_lines")
    @classmethod
    def _lines(cls, value: list[str]) -> list[str]:
        if any(len(line) > 40 for line in value):
            raise ValueError("each text line holds at most 40 characters")
        return [line.strip() for line in value]


class Design(BaseModel):
    program_id: uuid.UUID
    background_color: str
    text_color: str
    text_lines: list[str]
    has_background_image: bool
    has_logo: bool
    updated_at: datetime
