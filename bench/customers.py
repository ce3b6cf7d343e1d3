"""Benchmark: customer directory pages, segment counts and analytics over one big merchant.

    uv run python bench/customers.py [--customers 200000] [--requests 800] [--concurrency 32]

Builds `corner_bench_customers` on the embedded cluster (migrated with Alembic), fills it with
SQL generate_series (users, customers, ~3 timeline events per visiting customer), then:
- times the SQL alone (asyncpg, sequential): the directory page query and the segment count;
- serves Corner (uvicorn subprocess) and a raw reference (Starlette + asyncpg, same SQL, no
  auth/audit) and loads both with httpx (32 connections);
- times GET /analytics and the RFM refresh sequentially.
Every figure is printed as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

THIS_FILE = Path(__file__).resolve()
ROOT = THIS_FILE.parent.parent
sys.path.insert(0, str(ROOT))

from accounts.security import create_access_token  # noqa: E402
from bench.common import fresh_database, redis_db, service_urls  # noqa: E402
from core import embedded  # noqa: E402
from core.embedded import free_port  # noqa: E402
from core.pagination import encode_cursor  # noqa: E402
from core.settings import Settings  # noqa: E402
from customers.models import WEEK_SHARDS  # noqa: E402

DB_NAME = "corner_bench_customers"
SECRET = "bench-secret-key-not-for-production"
SEGMENT_RULES = {"r_score": {"max": 2}, "total_spend": {"min": 20000}, "no_visit_for_days": 30}

PAGE_SQL = """
SELECT id, user_id, name, phone, tier, tags, visits, total_spend, currency, first_seen_at,
       last_visit_at, rfm_segment
FROM customers
WHERE merchant_id = $1 AND last_visit_at IS NOT NULL {after}
ORDER BY last_visit_at DESC, id DESC
LIMIT 21
"""
COUNT_SQL = """
SELECT count(*) FROM customers
WHERE merchant_id = $1 AND r_score <= 2 AND total_spend >= 20000
  AND coalesce(last_visit_at, first_seen_at) < now() - interval '30 days'
"""


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


# -- servers --------------------------------------------------------------------------------


def raw_app(dsn: str) -> Any:
    """The floor: the same SQL behind Starlette + asyncpg, no auth, no audit, no ORM."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    pool: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        pool["p"] = await asyncpg.create_pool(dsn, min_size=4, max_size=32)
        yield
        await pool["p"].close()

    def dump(rows: list[Any]) -> Response:
        return Response(
            json.dumps([dict(r) for r in rows], default=str), media_type="application/json"
        )

    async def page(request: Request) -> Response:
        m = uuid.UUID(request.path_params["m"])
        after = request.query_params.get("after")
        async with pool["p"].acquire() as conn:
            if after:
                at, cid = after.split("|")
                rows = await conn.fetch(
                    PAGE_SQL.format(after="AND (last_visit_at, id) < ($2, $3)"),
                    m, datetime.fromisoformat(at), uuid.UUID(cid),
                )  # fmt: skip
            else:
                rows = await conn.fetch(PAGE_SQL.format(after=""), m)
        return dump(rows)

    async def count(request: Request) -> Response:
        async with pool["p"].acquire() as conn:
            n = await conn.fetchval(COUNT_SQL, uuid.UUID(request.path_params["m"]))
        return Response(json.dumps({"customers": n}), media_type="application/json")

    return Starlette(
        routes=[Route("/page/{m}", page), Route("/count/{m}", count)], lifespan=lifespan
    )


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        if embedded.port_is_open(port):
            return proc
        if proc.poll() is not None:
            raise RuntimeError((proc.stderr.read() if proc.stderr else b"").decode()[-2000:])
        time.sleep(0.2)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


# -- load -----------------------------------------------------------------------------------


async def load(
    base: str,
    path: str,
    *,
    headers: dict[str, str],
    requests: int,
    concurrency: int,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as c:
        for _ in range(min(concurrency, 8)):  # warm the connections and caches
            await c.get(path, params=params)
        queue = iter(range(requests))

        async def worker() -> None:
            nonlocal errors
            for _ in queue:
                started = time.perf_counter()
                r = await c.get(path, params=params)
                latencies.append((time.perf_counter() - started) * 1000)
                if r.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "p50_ms": pct(latencies, 0.50),
        "p99_ms": pct(latencies, 0.99),
        "rps": round(requests / elapsed, 1),
        "errors": errors,
    }


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
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_db(redis_base, 15),
        "CORNER_SECRET_KEY": SECRET,
        "CORNER_LOG_LEVEL": "WARNING",
        "CORNER_ACCESS_TOKEN_TTL_SECONDS": "86400",
    }
    corner_port, raw_port = free_port(), free_port()
    corner = start_server(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
         "--port", str(corner_port), "--log-level", "warning", "--no-access-log"],
        env, corner_port,
    )  # fmt: skip
    try:
        raw = start_server(
            [sys.executable, str(THIS_FILE), "--serve-raw", str(raw_port),
             "--dsn", dsn],
            env, raw_port,
        )  # fmt: skip
    except BaseException:
        stop(corner)
        raise
    try:
        corner_base = f"http://127.0.0.1:{corner_port}"
        raw_base = f"http://127.0.0.1:{raw_port}"
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
            PAGE_SQL.replace("LIMIT 21", f"OFFSET {args.customers // 3} LIMIT 1").format(after=""),
            uuid.UUID(merchant_id),
        )
        await conn.close()
        deep_cursor = encode_cursor(
            {"s": "last_visit", "v": mid_row["last_visit_at"].isoformat(), "id": str(mid_row["id"])}
        )
        deep_after = f"{mid_row['last_visit_at'].isoformat()}|{mid_row['id']}"
        mid_uuid = uuid.UUID(merchant_id)

        await sql_timing(
            dsn, "directory_page", lambda c: c.fetch(PAGE_SQL.format(after=""), mid_uuid), 200
        )
        await sql_timing(
            dsn, "directory_deep_page",
            lambda c: c.fetch(PAGE_SQL.format(after="AND (last_visit_at, id) < ($2, $3)"),
                              mid_uuid, mid_row["last_visit_at"], mid_row["id"]),
            200,
        )  # fmt: skip
        await sql_timing(dsn, "segment_count", lambda c: c.fetchval(COUNT_SQL, mid_uuid), 100)
        analytics_sql_timing(dsn, merchant_id, args.analytics_runs)

        scenarios = [
            ("directory_page", f"{m}/customers", {"limit": "20"}, f"/page/{merchant_id}", None),
            ("directory_deep_page", f"{m}/customers", {"limit": "20", "cursor": deep_cursor},
             f"/page/{merchant_id}", {"after": deep_after}),
            ("directory_search", f"{m}/customers", {"q": "顾客12345"}, None, None),
            ("segment_count", f"{m}/segments/{segment_id}", None, f"/count/{merchant_id}", None),
        ]  # fmt: skip
        for name, path, params, raw_path, raw_params in scenarios:
            ours = await load(corner_base, path, headers=headers, requests=args.requests,
                              concurrency=args.concurrency, params=params)  # fmt: skip
            line: dict[str, Any] = {"bench": "customers", "scenario": name, "corner": ours}
            if raw_path:
                ref = await load(raw_base, raw_path, headers={}, requests=args.requests,
                                 concurrency=args.concurrency, params=raw_params)  # fmt: skip
                line["raw"] = ref
                line["p99_ratio"] = round(ours["p99_ms"] / max(ref["p99_ms"], 0.01), 2)
                line["rps_ratio"] = round(ours["rps"] / max(ref["rps"], 0.01), 2)
            emit(**line)

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
        stop(corner)
        stop(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--analytics-runs", type=int, default=5)
    parser.add_argument("--serve-raw", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_raw:
        import uvicorn

        uvicorn.run(raw_app(args.dsn), host="127.0.0.1", port=args.serve_raw, log_level="warning")
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
