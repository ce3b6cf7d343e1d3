"""The rows the coupon statements share: the coupon's and campaign's columns read as detached
objects (`COUPON`, `CAMPAIGN`), and the redemption a redeem statement returns.

Used by the counter's statements (`counter`) and by the claim's one-row insert (`coupons`).
A detached object is built from a row slice in `Detached.keys` order and never enters a
session, so it is never flushed: whoever loads one writes with statements of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from core.lean import Detached
from coupons.models import Campaign, Coupon


@dataclass(frozen=True)
class RedemptionRow:
    id: uuid.UUID
    redeemed_at: datetime


# selected and built without the ORM: loading them through a session per request cost more
# CPU than running the counter's statements
COUPON = Detached(Coupon)
CAMPAIGN = Detached(Campaign)
