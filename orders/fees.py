"""The platform fee on consumed orders, split exactly (pure).

Rule: each consumed order's fee is `total × rate_bps / 10000` rounded half up to the minor
unit (0.5 fen and above rounds up); the merchant's share of that order is the rest
(`total − fee`). A statement sums these per order, so fees + payable = consumed to the fen,
each order's split is reproducible from its own line in the CSV, and the total fee differs
from the rate applied to the total by at most half a fen per order.
"""

from __future__ import annotations

BPS_DENOMINATOR = 10_000


def fee_of(total: int, rate_bps: int) -> int:
    if total < 0 or not 0 <= rate_bps <= BPS_DENOMINATOR:
        raise ValueError("total must be >= 0 and the rate within 0..10000 bps")
    return (total * rate_bps * 2 + BPS_DENOMINATOR) // (2 * BPS_DENOMINATOR)


def split(total: int, rate_bps: int) -> tuple[int, int]:
    """(fee, merchant's share) of one order; they add up to `total`."""
    fee = fee_of(total, rate_bps)
    return fee, total - fee
