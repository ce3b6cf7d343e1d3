"""Discount math: small pure functions on integer minor units.

Rules:
- amount_off: the amount, never more than the order.
- percent_off: `percent`% of the order, rounded UP to the fen (the customer's favour), then
  capped by `max_off` when there is one, and never more than the order.
- gift: no money off (the gift is handed over).
Without an order amount, amount_off gives its full value, percent_off is unknown (None; its
cap is the most it can be), gift gives 0.
"""

from __future__ import annotations


def amount_off(value: int, order_amount: int | None) -> int:
    if order_amount is None:
        return value
    return min(value, order_amount)


def percent_off(percent: int, max_off: int | None, order_amount: int | None) -> int | None:
    if order_amount is None:
        return None
    raw = -(-order_amount * percent // 100)  # ceiling division: rounds in the customer's favour
    if max_off is not None:
        raw = min(raw, max_off)
    return min(raw, order_amount)


def discount_for(
    kind: str,
    *,
    amount: int | None,
    percent: int | None,
    max_off: int | None,
    order_amount: int | None,
) -> int | None:
    if kind == "amount_off":
        assert amount is not None
        return amount_off(amount, order_amount)
    if kind == "percent_off":
        assert percent is not None
        return percent_off(percent, max_off, order_amount)
    return 0


def meets_min_spend(min_spend: int | None, order_amount: int | None) -> bool | None:
    """True/False when decidable; None when a minimum exists but the order amount is unknown."""
    if min_spend is None or min_spend == 0:
        return True
    if order_amount is None:
        return None
    return order_amount >= min_spend
