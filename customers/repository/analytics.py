"""Analytics queries: RFM quintiles, churn risk, weekly figures in the merchant's time zone."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from customers.rfm import MIN_INTERVAL_DAYS, segment_name


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

DISTRIBUTION_SQL = f"""
SELECT s.r, s.f, s.m, count(*) AS customers
FROM ({_SCORED.format(merchant_filter="AND merchant_id = :merchant_id")}) AS s
GROUP BY s.r, s.f, s.m
"""

CHURN_SQL = f"""
SELECT id, name, last_visit_at, total_spend, currency, interval_days, days_since,
       days_since / interval_days AS ratio, count(*) OVER () AS total
FROM (
    SELECT id, name, last_visit_at, total_spend, currency,
           greatest(extract(epoch FROM last_visit_at - first_visit_at) / 86400.0 / (visits - 1),
                    {MIN_INTERVAL_DAYS}) AS interval_days,
           extract(epoch FROM CAST(:now AS timestamptz) - last_visit_at) / 86400.0 AS days_since
    FROM customers
    WHERE merchant_id = :merchant_id AND visits >= 2
) AS t
WHERE days_since > :k * interval_days
ORDER BY total_spend DESC, ratio DESC, id
LIMIT :limit
"""

WEEKLY_SQL = """
SELECT date_trunc('week', e.at AT TIME ZONE :tz) AS week,
       coalesce(sum(e.amount), 0) AS revenue,
       count(*) FILTER (WHERE e.visit) AS visits,
       count(DISTINCT e.customer_id) FILTER (WHERE e.visit) AS visitors,
       count(DISTINCT e.customer_id) FILTER (
           WHERE e.visit
             AND date_trunc('week', c.first_visit_at AT TIME ZONE :tz)
                 = date_trunc('week', e.at AT TIME ZONE :tz)
       ) AS new_visitors
FROM customer_events AS e
JOIN customers AS c ON c.id = e.customer_id
WHERE e.merchant_id = :merchant_id AND e.at >= :since AND e.at < :until
GROUP BY 1
"""


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
        rows = await self.session.execute(
            text(WEEKLY_SQL),
            {"merchant_id": merchant_id, "tz": tz, "since": since, "until": until},
        )
        return list(rows.all())
