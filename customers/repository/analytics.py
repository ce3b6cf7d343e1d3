"""Analytics queries: RFM quintiles, churn risk, weekly figures in the merchant's time zone."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customers.rfm import segment_name


def _segment_case() -> str:
    """CASE over r*10+fm generated from the pure naming rule, so SQL and Python agree."""
    arms = " ".join(
        f"WHEN {r * 10 + fm} THEN '{segment_name(r, fm)}'"
        for r in range(1, 6)
        for fm in range(1, 6)
    )
    return f"CASE s.r * 10 + (s.f + s.m + 1) / 2 {arms} END"


# Recency: the last visit, or for customers who only bought online, their first purchase.
_SCORED = """
    SELECT id, merchant_id,
           ntile(5) OVER (
               PARTITION BY merchant_id
               ORDER BY coalesce(last_visit_at, first_purchase_at, first_seen_at), id
           ) AS r,
           ntile(5) OVER (PARTITION BY merchant_id ORDER BY visits, id) AS f,
           ntile(5) OVER (PARTITION BY merchant_id ORDER BY total_spend, id) AS m
    FROM customers
    WHERE (visits > 0 OR total_spend > 0) {merchant_filter}
"""

REFRESH_SQL = f"""
WITH s AS ({_SCORED})
UPDATE customers AS c
SET r_score = s.r, f_score = s.f, m_score = s.m, rfm_segment = {_segment_case()},
    rfm_scored_at = :now
FROM s
WHERE c.id = s.id
  AND (c.r_score, c.f_score, c.m_score) IS DISTINCT FROM (s.r, s.f, s.m)
"""

# The stored scores (customers.refresh_rfm): a GROUP BY over the covering segment index instead
# of three live ntile sorts of every customer.
DISTRIBUTION_SQL = """
SELECT r_score AS r, f_score AS f, m_score AS m, count(*) AS customers
FROM customers
WHERE merchant_id = :merchant_id AND r_score IS NOT NULL
GROUP BY r_score, f_score, m_score
"""

# Late customers read from the churn index (stored usual interval, biggest spenders first);
# only the page's rows visit the heap for name and currency.
CHURN_SQL = """
WITH late AS (
    SELECT id, last_visit_at, total_spend, usual_interval_days AS interval_days,
           extract(epoch FROM CAST(:now AS timestamptz) - last_visit_at) / 86400.0 AS days_since
    FROM customers
    WHERE merchant_id = :merchant_id AND visits >= 2
      AND extract(epoch FROM CAST(:now AS timestamptz) - last_visit_at) / 86400.0
          > :k * usual_interval_days
), page AS (
    SELECT id, last_visit_at, total_spend, interval_days, days_since,
           days_since / interval_days AS ratio, count(*) OVER () AS total
    FROM late
    ORDER BY total_spend DESC, ratio DESC, id
    LIMIT :limit
)
SELECT p.id, c.name, p.last_visit_at, p.total_spend, c.currency, p.interval_days,
       p.days_since, p.ratio, p.total
FROM page AS p JOIN customers AS c ON c.id = p.id
ORDER BY p.total_spend DESC, p.ratio DESC, p.id
"""

# Revenue, visits and distinct visitors from the weekly rollup record_activity maintains.
WEEKLY_SQL = """
SELECT week, sum(revenue) AS revenue, sum(visits) AS visits, sum(visitors) AS visitors
FROM customer_weeks
WHERE merchant_id = :merchant_id AND week >= :since AND week < :until
GROUP BY week
"""

# New customers of a week: first visit in that local week (ix_customers_merchant_first_visit).
NEW_SQL = """
SELECT CAST(date_trunc('week', first_visit_at AT TIME ZONE :tz) AS date) AS week,
       count(*) AS new_visitors
FROM customers
WHERE merchant_id = :merchant_id AND first_visit_at >= :since AND first_visit_at < :until
GROUP BY 1
"""


async def vacuum_customers(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """VACUUM (ANALYZE) the customers table on an autocommit connection (VACUUM cannot run in a
    transaction). A refresh rewrites most rows, which clears the visibility map: until it is set
    again the planner rightly prefers a heap scan to the covering index for segment counts."""
    engine = sessionmaker.kw["bind"]
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM (ANALYZE) customers"))
        # Pages whose old row versions an older snapshot could still see stay not-all-visible;
        # such a snapshot is short-lived, so try again a little later (bounded).
        for _ in range(3):
            row = (
                await conn.execute(
                    text(
                        "SELECT relallvisible, relpages FROM pg_class "
                        "WHERE oid = 'customers'::regclass"
                    )
                )
            ).one()
            if row.relallvisible >= 0.9 * row.relpages:
                break
            await asyncio.sleep(2)
            await conn.execute(text("VACUUM (ANALYZE) customers"))


class WeekFigures(NamedTuple):
    week: date
    revenue: int
    visits: int
    visitors: int
    new_visitors: int


class AnalyticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def refresh_rfm(self, *, merchant_id: uuid.UUID | None, now: datetime) -> int:
        sql = REFRESH_SQL.format(
            merchant_filter="AND merchant_id = :merchant_id" if merchant_id else ""
        )
        params: dict[str, Any] = {"now": now}
        if merchant_id:
            params["merchant_id"] = merchant_id
        result = await self.session.execute(text(sql), params)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def rfm_cells(self, merchant_id: uuid.UUID) -> list[tuple[int, int, int, int]]:
        rows = await self.session.execute(text(DISTRIBUTION_SQL), {"merchant_id": merchant_id})
        return [(int(r.r), int(r.f), int(r.m), int(r.customers)) for r in rows]

    async def customer_count(self, merchant_id: uuid.UUID) -> int:
        row = await self.session.execute(
            text("SELECT count(*) FROM customers WHERE merchant_id = :m"), {"m": merchant_id}
        )
        return int(row.scalar_one())

    async def churn_risk(
        self, merchant_id: uuid.UUID, *, now: datetime, k: float, limit: int
    ) -> list[Any]:
        rows = await self.session.execute(
            text(CHURN_SQL), {"merchant_id": merchant_id, "now": now, "k": k, "limit": limit}
        )
        return list(rows.all())

    async def weekly(
        self, merchant_id: uuid.UUID, *, tz: str, since: datetime, until: datetime
    ) -> list[Any]:
        """(week, revenue, visits, visitors, new_visitors) of the local weeks in [since, until)."""
        figures = await self.session.execute(
            text(WEEKLY_SQL),
            {"merchant_id": merchant_id, "since": since.date(), "until": until.date()},
        )
        new = await self.session.execute(
            text(NEW_SQL),
            {"merchant_id": merchant_id, "tz": tz, "since": since, "until": until},
        )
        new_by_week = {row.week: int(row.new_visitors) for row in new}
        rows: dict[date, WeekFigures] = {
            row.week: WeekFigures(row.week, int(row.revenue), int(row.visits), int(row.visitors), 0)
            for row in figures
        }
        for week, count in new_by_week.items():
            base = rows.get(week, WeekFigures(week, 0, 0, 0, 0))
            rows[week] = base._replace(new_visitors=count)
        return list(rows.values())
