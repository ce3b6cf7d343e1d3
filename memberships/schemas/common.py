"""Limits and shapes shared by several membership schemas."""

from __future__ import annotations

from pydantic import BaseModel

MAX_POINTS = 10**12


class PaymentInstructions(BaseModel):
    provider: str
    reference: str
    pay_url: str | None = None
