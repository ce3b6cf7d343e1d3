"""RFM scoring rules as pure functions (the SQL in repository/analytics.py is built from them).

Scores are quintiles 1..5 (5 = best: most recent, most frequent, biggest spender), computed with
`ntile(5)` over the merchant's customers who visited or spent at least once. Segment names
follow the common R × FM grid, where FM is the rounded-up mean of the F and M scores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

MIN_INTERVAL_DAYS = 1.0

RfmSegmentName = Literal[
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
]
SEGMENTS: tuple[str, ...] = get_args(RfmSegmentName)


def _check(score: int, name: str) -> None:
    if not 1 <= score <= 5:
        raise ValueError(f"{name} score must be within 1..5, got {score}")


def fm_score(f: int, m: int) -> int:
    """Mean of F and M, halves rounded up (F=4, M=5 -> 5): spend and frequency count equally."""
    _check(f, "F")
    _check(m, "M")
    return (f + m + 1) // 2


def segment_name(r: int, fm: int) -> str:
    """The named segment of an (R, FM) cell."""
    _check(r, "R")
    _check(fm, "FM")
    if r <= 2:
        if fm <= 2:
            return "hibernating"
        return "at_risk" if fm <= 4 else "cant_lose"
    if r == 3:
        if fm <= 2:
            return "about_to_sleep"
        return "need_attention" if fm == 3 else "loyal"
    if r == 4:
        if fm == 1:
            return "promising"
        return "potential_loyalists" if fm <= 3 else "loyal"
    if fm == 1:
        return "new_customers"
    return "potential_loyalists" if fm <= 3 else "champions"


def rfm_segment(r: int, f: int, m: int) -> str:
    return segment_name(r, fm_score(f, m))


def segment_table() -> dict[tuple[int, int, int], str]:
    """Every (R, F, M) combination and its segment: the SQL CASE is generated from this."""
    return {
        (r, f, m): rfm_segment(r, f, m)
        for r in range(1, 6)
        for f in range(1, 6)
        for m in range(1, 6)
    }


def quintiles(values: list[float]) -> list[int]:
    """`ntile(5)` over values in ascending order, as PostgreSQL computes it (reference/tests).

    Rows are split into 5 buckets whose sizes differ by at most one, the larger buckets first;
    equal values may fall in adjacent buckets (ties are broken by input position).
    """
    n = len(values)
    order = sorted(range(n), key=lambda i: values[i])
    scores = [0] * n
    base, extra = divmod(n, 5)
    position = 0
    for bucket in range(5):
        size = base + (1 if bucket < extra else 0)
        for i in order[position : position + size]:
            scores[i] = bucket + 1
        position += size
    return scores


def usual_interval_days(first_visit: datetime, last_visit: datetime, visits: int) -> float | None:
    """A customer's own mean time between visits; None when there is no interval yet."""
    if visits < 2:
        return None
    mean = (last_visit - first_visit).total_seconds() / 86400 / (visits - 1)
    # several visits on one day would otherwise make a day's absence look like churn
    return max(mean, MIN_INTERVAL_DAYS)


def churn_ratio(
    *, first_visit: datetime, last_visit: datetime, visits: int, now: datetime
) -> float | None:
    """Days since the last visit in units of the usual interval (k× means k intervals late)."""
    interval = usual_interval_days(first_visit, last_visit, visits)
    if interval is None:
        return None
    return (now - last_visit).total_seconds() / 86400 / interval
