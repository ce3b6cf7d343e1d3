"""Benchmark: customer directory pages, segment counts and analytics over one big merchant.

    uv run python bench/customers.py [--customers 200000] [--requests 800] [--rounds 4]
                                     [--concurrency 32]

Builds `corner_bench_customers` on the embedded cluster (migrated with Alembic), fills it with
SQL generate_series (users, customers, ~3 timeline events per visiting customer), then:
- times the SQL alone (asyncpg, sequential): the directory page query and the segment count;
- serves Corner (`corner serve`, one worker) and the raw reference (bench/reference.py: the
  same page and count SQL on asyncpg, no auth, no access log) and loads both with the same
  aiohttp generator, the same requests, in alternating rounds (bench/common.py), each
  scenario's ratio only when every answer was a 200;
- times GET /analytics and the RFM refresh sequentially.
Every figure is printed as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

THIS_FILE = Path(__file__).resolve()
ROOT = THIS_FILE.parent.parent
sys.path.insert(0, str(ROOT))

from accounts.security import create_access_token  # noqa: E402
from bench.common import (  # noqa: E402
    Call,
    compare,
    fresh_database,
    redis_db,
    server_env,
    service_urls,
    start_pair,
    stop_all,
    verdict,
)
from bench.reference import PAGE_SQL  # noqa: E402
from bench.reference import SEGMENT_COUNT_SQL as COUNT_SQL  # noqa: E402
from core.pagination import encode_cursor  # noqa: E402
from core.settings import Settings, get_settings  # noqa: E402
from customers.models import WEEK_SHARDS  # noqa: E402

DB_NAME = "corner_bench_customers"
SECRET = "bench-secret-key-not-for-production"
SEGMENT_RULES = {"r_score": {"max": 2}, "total_spend": {"min": 20000}, "no_visit_for_days": 30}


def emit(**values: Any) -> None:
    print(json.dumps(values, ensure_ascii=False), flush=True)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


# -- data -----------------------------------------------------------------------------------


def fill(dsn: str, customers: int) -> tuple[str, str]:
    """Create the owner, the merchant and `customers` customers; returns (merchant, owner)."""
    import psycopg

    merchant_id, owner_id = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE users, merchants CASCADE")
        conn.execute(
            "INSERT INTO users (id, phone, password_hash, display_name) "
            "VALUES (%s, '+8613000000000', 'x', 'owner')",
            (owner_id,),
        )
        conn.execute(
            "INSERT INTO merchants (id, name, timezone) VALUES (%s, 'bench', 'Asia/Shanghai')",
            (merchant_id,),
        )
        conn.execute(
            "INSERT INTO merchant_staff (merchant_id, user_id, role) VALUES (%s, %s, 'owner')",
            (merchant_id, owner_id),
        )
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            """
            WITH u AS (
                INSERT INTO users (id, phone, password_hash, display_name)
                SELECT gen_random_uuid(), '+86139' || lpad(g::text, 8, '0'), 'x', '顾客' || g
                FROM generate_series(1, %(n)s) AS g
                RETURNING id, phone, display_name
            ), r AS (
                SELECT u.*, floor(power(random(), 2) * 30)::int AS visits,
                       random() AS a, random() AS b, random() AS c
                FROM u
            )
            INSERT INTO customers (id, merchant_id, user_id, first_seen_at, last_activity_at,
                first_visit_at, last_visit_at, first_purchase_at, visits, total_spend, currency,
                source, name, phone, tier, tags)
            SELECT gen_random_uuid(), %(m)s, r.id,
                   now() - make_interval(days => 400),
                   now() - make_interval(secs => a * 365 * 86400),
                   CASE WHEN visits > 0 THEN now() - make_interval(secs => a * 365 * 86400)
                        - make_interval(secs => visits * (1 + b * 20) * 86400) END,
                   CASE WHEN visits > 0 THEN now() - make_interval(secs => a * 365 * 86400) END,
                   CASE WHEN visits > 0 THEN now() - make_interval(days => 390) END,
                   visits, visits * floor(c * 20000)::bigint, 'CNY', 'card_transaction',
                   display_name, phone,
                   CASE WHEN c < 0.1 THEN 'gold' WHEN c < 0.3 THEN 'silver' END,
                   CASE WHEN b < 0.05 THEN ARRAY['vip']::varchar[] ELSE '{}'::varchar[] END
            FROM r
            """,
            {"n": customers, "m": merchant_id},
        )
        conn.execute(
            """
            INSERT INTO customer_events (merchant_id, customer_id, kind, at, visit, amount,
                                         currency)
            SELECT c.merchant_id, c.id, 'card_transaction',
                   now() - make_interval(secs => random() * 112 * 86400), true,
                   floor(random() * 10000)::bigint, 'CNY'
            FROM customers AS c, generate_series(1, 3)
            WHERE c.visits > 0
            """
        )
        for statement in ROLLUP_BACKFILL:
            conn.execute(statement)
        conn.execute("VACUUM ANALYZE")
    return merchant_id, owner_id


# The rollups the 0802 migration backfills from the timeline (fill() writes events directly,
# not through record_activity); the migration's formulas, with the shard count the app writes
# with today (customers.models.WEEK_SHARDS; the migration's backfill used 8).
ROLLUP_BACKFILL = (
    """
    INSERT INTO customer_visit_weeks (customer_id, week, merchant_id)
    SELECT DISTINCT e.customer_id, CAST(date_trunc('week', e.at AT TIME ZONE m.timezone) AS date),
           e.merchant_id
    FROM customer_events AS e JOIN merchants AS m ON m.id = e.merchant_id
    WHERE e.visit
    """,
    f"""
    INSERT INTO customer_weeks (merchant_id, week, shard, revenue, visits, visitors)
    SELECT e.merchant_id, CAST(date_trunc('week', e.at AT TIME ZONE m.timezone) AS date),
           get_byte(uuid_send(e.customer_id), 15) & {WEEK_SHARDS - 1},
           sum(e.amount), count(*) FILTER (WHERE e.visit),
           count(DISTINCT e.customer_id) FILTER (WHERE e.visit)
    FROM customer_events AS e JOIN merchants AS m ON m.id = e.merchant_id
    GROUP BY 1, 2, 3
    """,
)

# The analytics statements before 0802 (live ntile RFM, churn computed per row, weekly figures
# from the timeline), timed in the same run as the stored-data statements for comparison.
LIVE_ANALYTICS_SQL = {
    "rfm": """
        SELECT s.r, s.f, s.m, count(*) FROM (
            SELECT ntile(5) OVER (PARTITION BY merchant_id
                       ORDER BY coalesce(last_visit_at, first_purchase_at, first_seen_at), id) AS r,
                   ntile(5) OVER (PARTITION BY merchant_id ORDER BY visits, id) AS f,
                   ntile(5) OVER (PARTITION BY merchant_id ORDER BY total_spend, id) AS m
            FROM customers
            WHERE (visits > 0 OR total_spend > 0) AND merchant_id = %(merchant_id)s
        ) AS s GROUP BY s.r, s.f, s.m
    """,
    "churn": """
        SELECT id, name, last_visit_at, total_spend, currency, interval_days, days_since,
               days_since / interval_days AS ratio, count(*) OVER () AS total
        FROM (
            SELECT id, name, last_visit_at, total_spend, currency,
                   greatest(extract(epoch FROM last_visit_at - first_visit_at) / 86400.0
                            / (visits - 1), 1.0) AS interval_days,
                   extract(epoch FROM CAST(%(now)s AS timestamptz) - last_visit_at) / 86400.0
                       AS days_since
            FROM customers
            WHERE merchant_id = %(merchant_id)s AND visits >= 2
        ) AS t
        WHERE days_since > %(k)s * interval_days
        ORDER BY total_spend DESC, ratio DESC, id
        LIMIT %(limit)s
    """,
    "weekly": """
        SELECT date_trunc('week', e.at AT TIME ZONE %(tz)s) AS week,
               coalesce(sum(e.amount), 0) AS revenue,
               count(*) FILTER (WHERE e.visit) AS visits,
               count(DISTINCT e.customer_id) FILTER (WHERE e.visit) AS visitors,
               count(DISTINCT e.customer_id) FILTER (
                   WHERE e.visit
                     AND date_trunc('week', c.first_visit_at AT TIME ZONE %(tz)s)
                         = date_trunc('week', e.at AT TIME ZONE %(tz)s)
               ) AS new_visitors
        FROM customer_events AS e
        JOIN customers AS c ON c.id = e.customer_id
        WHERE e.merchant_id = %(merchant_id)s AND e.at >= %(since)s AND e.at < %(until)s
        GROUP BY 1
    """,
}


def analytics_sql_timing(dsn: str, merchant_id: str, runs: int) -> None:
    """Each analytics statement, live (before 0802) and stored (now), alternated in one run."""
    import re
    from datetime import timedelta

    import psycopg

    from customers.repository import analytics as repo
    from customers.service.analytics import week_starts

    def named(sql: str) -> str:
        return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)

    now = datetime.now(UTC)
    starts = week_starts(now, "Asia/Shanghai", 12)
    since, until = starts[0], starts[-1] + timedelta(weeks=1)
    params: dict[str, Any] = {"merchant_id": merchant_id, "now": now, "k": 2.0, "limit": 50,
                              "tz": "Asia/Shanghai", "since": since, "until": until}  # fmt: skip
    stored = {
        "rfm": [(named(repo.DISTRIBUTION_SQL), params)],
        "churn": [(named(repo.CHURN_SQL), params)],
        "weekly": [
            (named(repo.WEEKLY_SQL), {**params, "since": since.date(), "until": until.date()}),
            (named(repo.NEW_SQL), params),
        ],
    }
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, live_sql in LIVE_ANALYTICS_SQL.items():
            samples: dict[str, list[float]] = {"live": [], "stored": []}
            for _ in range(runs):
                t = time.perf_counter()
                conn.execute(live_sql, params).fetchall()
                samples["live"].append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                for sql, p in stored[name]:
                    conn.execute(sql, p).fetchall()
                samples["stored"].append((time.perf_counter() - t) * 1000)
            emit(bench="customers", scenario=f"analytics_{name}", layer="sql", runs=runs,
                 live_p50_ms=pct(samples["live"], 0.5), live_max_ms=round(max(samples["live"]), 1),
                 stored_p50_ms=pct(samples["stored"], 0.5),
                 stored_max_ms=round(max(samples["stored"]), 1))  # fmt: skip


def wait_for_vacuum(dsn: str, since: Any, timeout: float = 180) -> float:
    """Seconds until customers was vacuumed after `since` (the refresh's background VACUUM) and
    its visibility map is ≥ 90% set."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.perf_counter() - started < timeout:
            row = conn.execute(
                "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'customers'"
            ).fetchone()
            if row and row[0] is not None and (since is None or row[0] > since):
                visible = conn.execute(
                    "SELECT relallvisible >= 0.9 * relpages FROM pg_class "
                    "WHERE oid = 'customers'::regclass"
                ).fetchone()
                if visible and visible[0]:
                    break
            time.sleep(0.2)
    return round(time.perf_counter() - started, 1)


async def sql_timing(
    dsn: str, name: str, run: Callable[[asyncpg.Connection], Awaitable[Any]], n: int
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(5):
            await run(conn)
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            await run(conn)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    emit(bench="customers", scenario=name, layer="sql", runs=n,
         p50_ms=pct(samples, 0.5), p99_ms=pct(samples, 0.99))  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    import psycopg

    admin_url, redis_base = service_urls()
    dsn = fresh_database(admin_url, DB_NAME)
    started = time.perf_counter()
    merchant_id, owner_id = fill(dsn, args.customers)
    emit(bench="customers", phase="fill", customers=args.customers,
         seconds=round(time.perf_counter() - started, 1))  # fmt: skip

    settings = Settings(database_url=dsn, secret_key=SECRET)  # type: ignore[arg-type]
    token = create_access_token(settings, uuid.UUID(owner_id), datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    env = server_env(dsn, redis_db(redis_base, 15), SECRET,
                     BENCH_POOL_SIZE=str(args.concurrency))  # fmt: skip
    servers = start_pair(env)
    try:
        corner_base = servers["corner"].base
        m = f"/v1/merchants/{merchant_id}"
        async with httpx.AsyncClient(base_url=corner_base, headers=headers, timeout=600) as c:
            with psycopg.connect(dsn, autocommit=True) as pg:
                vacuumed = pg.execute(
                    "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'customers'"
                ).fetchone()
            t = time.perf_counter()
            r = await c.post(f"{m}/analytics/rfm-refresh")
            r.raise_for_status()
            refreshed = round(time.perf_counter() - t, 2)
            waited = wait_for_vacuum(dsn, vacuumed[0] if vacuumed else None)
            emit(bench="customers", scenario="rfm_refresh", updated=r.json()["updated"],
                 seconds=refreshed, vacuum_wait_seconds=waited)  # fmt: skip
            r = await c.post(f"{m}/segments", json={"name": "bench", "rules": SEGMENT_RULES})
            r.raise_for_status()
            segment_id = r.json()["id"]
            emit(bench="customers", scenario="segment", customers=r.json()["customers"])

        # a cursor half-way down the directory: deep keyset page
        conn = await asyncpg.connect(dsn)
        mid_row = await conn.fetchrow(
            PAGE_SQL.replace("LIMIT 21", f"OFFSET {args.customers // 3} LIMIT 1").format(extra=""),
            uuid.UUID(merchant_id),
        )
        await conn.close()
        # signed with the servers' secret (core.pagination): the bench process's own settings
        # signed it with another key, so both servers refused it (422 / 500) and the deep-page
        # scenario never produced a ratio
        os.environ["CORNER_SECRET_KEY"] = SECRET
        get_settings.cache_clear()
        deep_cursor = encode_cursor(
            {"s": "last_visit", "v": mid_row["last_visit_at"].isoformat(), "id": str(mid_row["id"])}
        )
        mid_uuid = uuid.UUID(merchant_id)

        await sql_timing(
            dsn, "directory_page", lambda c: c.fetch(PAGE_SQL.format(extra=""), mid_uuid), 200
        )
        await sql_timing(
            dsn, "directory_deep_page",
            lambda c: c.fetch(PAGE_SQL.format(extra="AND (last_visit_at, id) < ($2, $3)"),
                              mid_uuid, mid_row["last_visit_at"], mid_row["id"]),
            200,
        )  # fmt: skip
        await sql_timing(dsn, "segment_count", lambda c: c.fetchval(COUNT_SQL, mid_uuid), 100)
        analytics_sql_timing(dsn, merchant_id, args.analytics_runs)

        scenarios = [
            ("directory_page", f"{m}/customers", {"limit": "20"}),
            ("directory_deep_page", f"{m}/customers", {"limit": "20", "cursor": deep_cursor}),
            ("directory_search", f"{m}/customers", {"q": "顾客12345"}),
            ("segment_count", f"{m}/segments/{segment_id}", None),
        ]
        for name, path, params in scenarios:
            calls = [Call("GET", path, params=params)] * args.requests
            results = await compare(
                servers,
                {target: calls for target in servers},
                rounds=args.rounds,
                connections=args.concurrency,
                warmup={target: calls[: args.concurrency] for target in servers},
                headers=headers,
            )
            summary = verdict(results["corner"], results["reference"], target_ratio=None)
            emit(bench="customers", scenario=name, **results, summary=summary)

        async with httpx.AsyncClient(base_url=corner_base, headers=headers, timeout=600) as c:
            samples = []
            for _ in range(args.analytics_runs):
                t = time.perf_counter()
                r = await c.get(f"{m}/analytics")
                r.raise_for_status()
                samples.append((time.perf_counter() - t) * 1000)
            emit(bench="customers", scenario="analytics", runs=len(samples),
                 p50_ms=pct(samples, 0.5), max_ms=round(max(samples), 1),
                 mean_ms=round(statistics.mean(samples), 1))  # fmt: skip
    finally:
        stop_all(servers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4, help="alternating load rounds")
    parser.add_argument("--analytics-runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
