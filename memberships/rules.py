"""Small pure rules of membership cards: discount, earning, spending, tiers, expiry.

Kept free of I/O so each has direct unit tests; the services apply them under row locks or
conditional updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

MINOR_PER_MAJOR = 100  # CNY fen per yuan; every program currency here has two decimals


@dataclass(frozen=True)
class TierRule:
    code: str
    name: str
    rank: int
    discount_percent: int
    earn_points_per_unit: Decimal
    upgrade_min_spend_12m: int | None


def discounted(amount: int, discount_percent: int) -> tuple[int, int]:
    """(paid, discount) for a purchase: the discount is rounded down, in the customer's favour
    never by more than one fen, and the merchant never gives more than the percent."""
    discount = amount * discount_percent // 100
    return amount - discount, discount


def points_earned(paid: int, points_per_unit: Decimal) -> int:
    """Points for a paid amount: whole major units only, times the rate, rounded down."""
    units = paid // MINOR_PER_MAJOR
    return int((Decimal(units) * points_per_unit).to_integral_value(rounding=ROUND_FLOOR))


def points_value(points: int, redeem_points_per_unit: int) -> int:
    """Minor units that `points` pay for (rounded down)."""
    return points * MINOR_PER_MAJOR // redeem_points_per_unit


def split_balance_spend(amount: int, principal: int, bonus: int, rule: str) -> tuple[int, int]:
    """(from principal, from bonus) for a stored-value payment, by the merchant's rule.

    - principal_first: the customer's own money first, the bonus last (the default; a later
      refund of unused stored value then returns less, as the bonus lingers).
    - bonus_first: the bonus first (most generous to the customer on a later refund).
    - proportional: in proportion to the two purses, the bonus share rounded down.
    The caller has checked amount <= principal + bonus.
    """
    if amount > principal + bonus:
        raise ValueError("amount exceeds the stored value")
    if rule == "bonus_first":
        from_bonus = min(bonus, amount)
    elif rule == "proportional":
        total = principal + bonus
        from_bonus = amount * bonus // total if total else 0
    else:
        from_bonus = max(0, amount - principal)
    return amount - from_bonus, from_bonus


def topup_bonus(amount: int, rules: list[tuple[int, int]]) -> int:
    """The bonus of the best rule the amount reaches: rules are (min_amount, bonus)."""
    reached = [bonus for min_amount, bonus in rules if amount >= min_amount]
    return max(reached, default=0)


def tier_after_spend(tiers: list[TierRule], current_rank: int, spend_12m: int) -> TierRule | None:
    """The tier a card moves up to for its 12-month spend, or None to stay (upgrades only:
    see `tier_after_review` for the downgrade rule)."""
    reached = [
        t
        for t in tiers
        if t.rank > current_rank
        and t.upgrade_min_spend_12m is not None
        and spend_12m >= t.upgrade_min_spend_12m
    ]
    return max(reached, key=lambda t: t.rank) if reached else None


def tier_after_review(
    tiers: list[TierRule], current_rank: int, spend_12m: int, *, downgrade: bool
) -> TierRule | None:
    """The tier the periodic review moves a card to, or None to stay.

    - Up to the highest tier whose threshold the rolling 12-month spend reaches (as a
      purchase would; also after the merchant lowered a threshold).
    - Down, only when the programme has the downgrade rule and the card's tier has a
      threshold the spend no longer reaches: to the highest lower tier it does reach, the
      entry tier at least. A tier without a threshold above the entry tier is given by hand:
      no card is moved down into it, nor out of it.
    """
    up = tier_after_spend(tiers, current_rank, spend_12m)
    if up is not None or not downgrade:
        return up
    current = next((t for t in tiers if t.rank == current_rank), None)
    if current is None or current.upgrade_min_spend_12m is None:
        return None
    if spend_12m >= current.upgrade_min_spend_12m:
        return None
    entry = entry_tier(tiers)
    reachable = [
        t
        for t in tiers
        if t.rank < current_rank
        and (
            t.rank == entry.rank
            or (t.upgrade_min_spend_12m is not None and spend_12m >= t.upgrade_min_spend_12m)
        )
    ]
    return max(reachable, key=lambda t: t.rank) if reachable else None


def next_tier(tiers: list[TierRule], current_rank: int) -> TierRule | None:
    higher = [t for t in tiers if t.rank > current_rank and t.upgrade_min_spend_12m is not None]
    return min(higher, key=lambda t: t.rank) if higher else None


def entry_tier(tiers: list[TierRule]) -> TierRule:
    return min(tiers, key=lambda t: t.rank)


def points_to_expire(points: int, earned_before_cutoff: int, consumed: int) -> int:
    """FIFO expiry: spending consumes the oldest points first, so of the points earned before
    the cutoff, what all consumption so far (spends, earlier expiries, deductions) has not
    used up is what expires now; never more than the card holds."""
    return max(0, min(points, earned_before_cutoff - consumed))
