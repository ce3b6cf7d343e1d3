"""Analytics: RFM distribution, churn risk, weekly figures — all read from stored data.

The RFM distribution reads the scores stored by the `customers.refresh_rfm` job (hourly, or
`POST …/analytics/rfm-refresh`); customers who first visited or spent after the last refresh
count as unscored until the next one. The weekly figures come from the `customer_weeks` rollup
that `record_activity` maintains, the churn list from each customer's stored usual interval.

Weeks start on Monday in the merchant's time zone; the chart shape is `labels` plus named
`series` of equal length, ready for a line/bar chart on the console.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts import service as accounts_service
from core.money import Money
from core.timezones import zone
from customers import rfm, schemas
from customers.repository.analytics import AnalyticsRepository, vacuum_customers

DEFAULT_WEEKS = 12
DEFAULT_CHURN_K = 2.0


def rfm_distribution(
    cells: list[tuple[int, int, int, int]], total_customers: int
) -> schemas.RfmDistribution:
    """Named segment counts and the R × FM grid from (r, f, m, customers) cells."""
    by_segment: Counter[str] = Counter()
    grid: Counter[tuple[int, int]] = Counter()
    for r, f, m, n in cells:
        by_segment[rfm.rfm_segment(r, f, m)] += n
        grid[(r, rfm.fm_score(f, m))] += n
    scored = sum(by_segment.values())
    return schemas.RfmDistribution(
        scored_customers=scored,
        unscored_customers=max(total_customers - scored, 0),
        segments=[
            schemas.RfmSegmentShare(
                segment=name,
                customers=by_segment[name],
                share=round(by_segment[name] / scored, 4) if scored else 0.0,
            )
            for name in rfm.SEGMENTS
        ],
        grid=[
            schemas.RfmCell(r=r, fm=fm, customers=grid[(r, fm)])
            for r in range(5, 0, -1)
            for fm in range(1, 6)
        ],
    )


def week_starts(now: datetime, tz: str, weeks: int) -> list[datetime]:
    """The local Monday 00:00 of the last `weeks` weeks, oldest first (current week last)."""
    local_today = now.astimezone(zone(tz)).date()
    monday = local_today - timedelta(days=local_today.weekday())
    return [
        datetime.combine(monday - timedelta(weeks=i), time(0), tzinfo=zone(tz))
        for i in range(weeks - 1, -1, -1)
    ]


async def analytics(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    now: datetime,
    weeks: int = DEFAULT_WEEKS,
    churn_k: float = DEFAULT_CHURN_K,
    churn_limit: int = 50,
) -> schemas.Analytics:
    tz = await accounts_service.merchant_timezone(session, merchant_id=merchant_id)
    repo = AnalyticsRepository(session)

    cells = await repo.rfm_cells(merchant_id)
    distribution = rfm_distribution(cells, await repo.customer_count(merchant_id))

    churn_rows = await repo.churn_risk(merchant_id, now=now, k=churn_k, limit=churn_limit)
    churn = schemas.ChurnRisk(
        k=churn_k,
        customers=int(churn_rows[0].total) if churn_rows else 0,
        items=[
            schemas.ChurnRiskCustomer(
                customer_id=row.id,
                name=row.name,
                last_visit_at=row.last_visit_at,
                usual_interval_days=round(float(row.interval_days), 2),
                days_since_last_visit=round(float(row.days_since), 2),
                overdue_ratio=round(float(row.ratio), 2),
                total_spend=Money.of(int(row.total_spend), row.currency),
            )
            for row in churn_rows
        ],
    )

    starts = week_starts(now, tz, weeks)
    rows = await repo.weekly(
        merchant_id, tz=tz, since=starts[0], until=starts[-1] + timedelta(weeks=1)
    )
    # rollup weeks are local Mondays (dates)
    by_week = {row.week: row for row in rows}
    labels = [s.date().isoformat() for s in starts]

    def series(name: str, pick: str) -> schemas.Series:
        data = []
        for s in starts:
            row = by_week.get(s.date())
            data.append(int(getattr(row, pick)) if row is not None else 0)
        return schemas.Series(name=name, data=data)

    visitors = series("visitors", "visitors")
    new = series("new_customers", "new_visitors")
    returning = schemas.Series(
        name="returning_customers",
        data=[v - n for v, n in zip(visitors.data, new.data, strict=True)],
    )
    weekly = schemas.Weekly(
        labels=labels,
        currency="CNY",
        series=[
            series("revenue", "revenue"),
            series("visits", "visits"),
            visitors,
            new,
            returning,
        ],
    )
    return schemas.Analytics(
        merchant_id=merchant_id,
        timezone=tz,
        generated_at=now,
        rfm=distribution,
        churn_risk=churn,
        weekly=weekly,
    )


async def refresh_rfm_scores(
    session: AsyncSession, *, merchant_id: uuid.UUID | None = None, now: datetime
) -> int:
    """Store every scored customer's R, F, M and segment (segments read the stored scores)."""
    return await AnalyticsRepository(session).refresh_rfm(merchant_id=merchant_id, now=now)


async def after_rfm_refresh(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Run after a refresh has committed: restores the visibility map and statistics so segment
    counts stay index-only scans of `ix_customers_segment_rules`."""
    await vacuum_customers(sessionmaker)
