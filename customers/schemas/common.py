"""Types shared by the schemas of several concepts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

FollowUpMethod = Literal["phone", "sms", "wechat", "visit", "email"]
InterestLevel = Literal["high", "medium", "low"]
Tag = Annotated[str, Field(min_length=1, max_length=32)]
Score = Annotated[int, Field(ge=1, le=5)]
