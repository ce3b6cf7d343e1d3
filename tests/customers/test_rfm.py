"""RFM math: the pure naming rules, quintiles as ntile computes them, churn ratio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customers import rfm
from customers.service.analytics import rfm_distribution, week_starts


def test_fm_score_rounds_half_up() -> None:
    assert rfm.fm_score(1, 1) == 1
    assert rfm.fm_score(4, 5) == 5
    assert rfm.fm_score(3, 4) == 4
    assert rfm.fm_score(2, 1) == 2
    with pytest.raises(ValueError):
        rfm.fm_score(0, 3)


@pytest.mark.parametrize(
    ("r", "fm", "name"),
    [
        (5, 5, "champions"),
        (5, 4, "champions"),
        (4, 5, "loyal"),
        (3, 4, "loyal"),
        (5, 1, "new_customers"),
        (4, 1, "promising"),
        (4, 3, "potential_loyalists"),
        (5, 2, "potential_loyalists"),
        (3, 3, "need_attention"),
        (3, 1, "about_to_sleep"),
        (2, 4, "at_risk"),
        (1, 3, "at_risk"),
        (1, 5, "cant_lose"),
        (2, 2, "hibernating"),
        (1, 1, "hibernating"),
    ],
)
def test_segment_grid(r: int, fm: int, name: str) -> None:
    assert rfm.segment_name(r, fm) == name


def test_every_cell_has_a_known_segment() -> None:
    table = rfm.segment_table()
    assert len(table) == 125
    assert set(table.values()) <= set(rfm.SEGMENTS)
    # every segment name is reachable
    assert set(table.values()) == set(rfm.SEGMENTS)


def test_out_of_range_scores_are_refused() -> None:
    with pytest.raises(ValueError):
        rfm.segment_name(6, 1)


def test_quintiles_of_ten_values() -> None:
    assert rfm.quintiles([float(v) for v in range(10, 0, -1)]) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_quintiles_larger_buckets_first() -> None:
    # 7 rows: buckets of 2, 2, 1, 1, 1 (as PostgreSQL's ntile)
    assert rfm.quintiles([float(v) for v in range(7)]) == [1, 1, 2, 2, 3, 4, 5]


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=200))
def test_quintiles_are_balanced_and_monotone(values: list[int]) -> None:
    scores = rfm.quintiles([float(v) for v in values])
    sizes = [scores.count(b) for b in range(1, 6)]
    nonzero = [s for s in sizes if s]
    assert max(nonzero) - min(nonzero) <= 1
    assert sum(sizes) == len(values)
    ranked = sorted(zip(values, scores, strict=True))
    assert all(a[1] <= b[1] for a, b in zip(ranked, ranked[1:], strict=False) if a[0] < b[0])


def test_churn_ratio_uses_the_customers_own_interval() -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    last = first + timedelta(days=20)  # 5 visits, every 5 days
    now = last + timedelta(days=15)
    assert rfm.usual_interval_days(first, last, 5) == pytest.approx(5.0)
    assert rfm.churn_ratio(first_visit=first, last_visit=last, visits=5, now=now) == pytest.approx(
        3.0
    )
    assert rfm.churn_ratio(first_visit=first, last_visit=first, visits=1, now=now) is None


def test_same_day_visits_count_as_a_one_day_interval() -> None:
    first = datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert rfm.usual_interval_days(first, first + timedelta(hours=2), 3) == 1.0


def test_distribution_names_and_grid() -> None:
    dist = rfm_distribution([(5, 5, 5, 3), (1, 1, 1, 2), (5, 4, 5, 1)], total_customers=10)
    by_name = {s.segment: s.customers for s in dist.segments}
    assert by_name["champions"] == 4
    assert by_name["hibernating"] == 2
    assert dist.scored_customers == 6
    assert dist.unscored_customers == 4
    assert sum(c.customers for c in dist.grid) == 6
    assert len(dist.grid) == 25


def test_week_starts_are_local_mondays() -> None:
    # Sunday 2026-03-01 20:00 UTC is already Monday 2026-03-02 04:00 in Shanghai
    now = datetime(2026, 3, 1, 20, tzinfo=UTC)
    starts = week_starts(now, "Asia/Shanghai", 3)
    assert [s.date().isoformat() for s in starts] == ["2026-02-16", "2026-02-23", "2026-03-02"]
    assert all(s.weekday() == 0 and s.hour == 0 for s in starts)
