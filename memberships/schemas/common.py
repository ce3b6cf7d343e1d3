"""Limits and shapes shared by several membership schemas."""

from __future__ import annotations

from core.payments import PaymentInstructions as PaymentInstructions  # re-exported
from core.payments import PaymentRequest as PaymentRequest  # re-exported

MAX_POINTS = 10**12
