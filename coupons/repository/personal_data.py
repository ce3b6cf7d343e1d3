"""The coupons package's rows about a person: coupons held and redemptions (kept under the
pseudonymous user id: they are the merchants' records; nothing in them names the person)."""

from __future__ import annotations

import uuid
from typing import Any

from coupons.models import Coupon, Redemption


def export_specs(user_id: uuid.UUID) -> dict[str, Any]:
    return {
        "coupons": (Coupon, Coupon.user_id == user_id, ()),
        "redemptions": (Redemption, Redemption.user_id == user_id, ()),
    }
