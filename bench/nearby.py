"""Benchmark: nearby discovery, SQL alone and HTTP under concurrency, against a raw reference.

    uv run python bench/nearby.py                    # the issue's full size: 1M shops
    uv run python bench/nearby.py --shops 300000     # quicker (the seed is reused when N matches)
    uv run python bench/nearby.py --best-offer off   # Corner without nearby's `best_offer`

Seeds N shops into `corner_bench_nearby` on the embedded cluster (or DATABASE_URL's server):
uniform over a Shanghai-sized box plus dense Gaussian clusters. Then measures
(a) Corner's exact nearby SQL statement alone (top-20 within 2 km, distance order) in dense,
    uniform and empty areas, and the same statement under the default (bitmap) plan;
(b) `GET /v1/shops/nearby` on Corner's real app (`corner serve`, one worker) and on the raw
    reference (bench/reference.py: Corner's own statement on asyncpg, the same page fields)
    in the same run, on the same points, alternating rounds of the same aiohttp generator
    (bench/common.py); the ratio counts only when every answer was a 200.
Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "corner_bench_nearby"
BOX = (30.95, 31.45, 121.20, 121.75)  # lat_min, lat_max, lng_min, lng_max (~55 × 52 km)
CATEGORIES = ["noodles", "restaurant", "cafe", "dry_cleaning", "barber", "gym", "car_wash",
              "hotel", "bank", "convenience_store"]  # fmt: skip


def emit(**values: Any) -> None:
    print(orjson.dumps({"bench": "nearby", **values}).decode(), flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(latencies_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in latencies_s]
    return {"p50_ms": round(percentile(ms, 0.5), 3), "p99_ms": round(percentile(ms, 0.99), 3),
            "n": len(ms)}  # fmt: skip


def cluster_centres(seed: int, clusters: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    lat0, lat1, lng0, lng1 = BOX
    return [(rng.uniform(lat0 + 0.05, lat1 - 0.05), rng.uniform(lng0 + 0.05, lng1 - 0.05))
            for _ in range(clusters)]  # fmt: skip


def seed(url: str, shops: int, clusters: int) -> None:
    import psycopg

    from core.ids import new_id
    from core.migrate import upgrade
    from merchants.repository.bulk import ShopRecord, copy_shops_text, render_copy_text

    admin, _, _ = url.rpartition("/")
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    bench_url = f"{admin}/{DB_NAME}"
    upgrade(bench_url)
    with psycopg.connect(bench_url) as conn:
        count = conn.execute("SELECT count(*) FROM shops").fetchone()
        if count and count[0] == shops:
            emit(phase="seed", shops=shops, reused=True)
            return
        conn.execute("TRUNCATE merchants CASCADE")
        merchant_id = uuid.uuid4()
        conn.execute("INSERT INTO merchants (id, name, timezone) VALUES (%s, 'bench', "
                     "'Asia/Shanghai')", (merchant_id,))  # fmt: skip
        conn.commit()
        rng = random.Random(42)
        centres = cluster_centres(7, clusters)
        lat0, lat1, lng0, lng1 = BOX
        hours = '[{"day": 0, "open": "09:00", "close": "21:00"}]'
        started = time.perf_counter()
        batch: list[tuple[uuid.UUID, ShopRecord]] = []
        for i in range(shops):
            if i % 5 < 2:  # 40% in dense clusters (σ ≈ 400 m)
                clat, clng = centres[i % clusters]
                lat, lng = rng.gauss(clat, 0.0036), rng.gauss(clng, 0.0042)
            else:
                lat, lng = rng.uniform(lat0, lat1), rng.uniform(lng0, lng1)
            batch.append((new_id(), ShopRecord(
                name=f"店铺 shop {i}", category=CATEGORIES[i % len(CATEGORIES)], lat=lat,
                lng=lng, address=f"上海市 {i} 号", opening_hours_json=hours)))  # fmt: skip
            if len(batch) == 20_000:
                copy_shops_text(conn, render_copy_text(merchant_id, batch))
                batch = []
        if batch:
            copy_shops_text(conn, render_copy_text(merchant_id, batch))
        conn.execute("UPDATE shops SET review_count = 1 + (hashtext(id::text) & 7),"
                     " rating = 3 + (hashtext(name) & 3) * 0.5")  # fmt: skip
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE shops")
        emit(phase="seed", shops=shops, seconds=round(time.perf_counter() - started, 1))


def query_points(kind: str, n: int, clusters: int, rng: random.Random) -> list[tuple[float, float]]:
    lat0, lat1, lng0, lng1 = BOX
    if kind == "dense":
        centres = cluster_centres(7, clusters)
        return [(c[0] + rng.gauss(0, 0.002), c[1] + rng.gauss(0, 0.002))
                for c in (rng.choice(centres) for _ in range(n))]  # fmt: skip
    if kind == "empty":  # 5–30 km outside the box: nothing within 2 km
        return [(lat1 + rng.uniform(0.05, 0.3), rng.uniform(lng0, lng1)) for _ in range(n)]
    return [(rng.uniform(lat0, lat1), rng.uniform(lng0, lng1)) for _ in range(n)]


def measure_sql(bench_url: str, queries: int, clusters: int) -> None:

    import psycopg

    from core.discovery import to_driver_sql
    from merchants.repository.nearby import NearbyRow, candidates_sufficient
    from merchants.service.nearby import _GROWTH, first_pass_candidates

    sql = to_driver_sql(nearby_statement())
    rng = random.Random(3)
    with psycopg.connect(bench_url, options="-c jit=off") as conn:
        # a serving database has its index pages cached: warm them before timing
        for lat, lng in query_points("dense", 500, clusters, rng) + query_points(
            "uniform", 500, 0, rng
        ):
            conn.execute(sql, sql_params(lat, lng), prepare=True).fetchall()
        conn.rollback()
        for plan in ("index_ordered", "default_plan"):
            for area in ("dense", "uniform", "empty"):
                n = queries if plan == "index_ordered" else max(50, queries // 10)
                latencies = []
                rows_seen = second_passes = 0
                for lat, lng in query_points(area, n, clusters, rng):
                    with conn.transaction():
                        if plan == "index_ordered":
                            conn.execute("SET LOCAL enable_bitmapscan = off")
                        # what the service does: a first pass, and more candidates when it
                        # could not prove itself exact
                        started = time.perf_counter()
                        candidates = first_pass_candidates(21)
                        while True:
                            params = sql_params(lat, lng, candidates)
                            rows = conn.execute(sql, params, prepare=True).fetchall()
                            found = [NearbyRow._make(row) for row in rows]
                            if candidates_sufficient(found, 21, candidates):
                                break
                            candidates *= _GROWTH
                            second_passes += 1
                        latencies.append(time.perf_counter() - started)
                    rows_seen += len(rows)
                emit(phase="sql", plan=plan, area=area, radius_m=2000,
                     mean_rows=round(rows_seen / n, 1), second_passes=second_passes,
                     **summary(latencies))  # fmt: skip
                if plan == "index_ordered":
                    measure_sql_server(conn, sql, area, clusters, rng, max(50, n // 4))


def sql_params(lat: float, lng: float, candidates: int | None = None) -> dict[str, Any]:
    """The nearby statement's parameters for a top-20 page within 2 km (first pass unless
    `candidates` says otherwise)."""
    from datetime import UTC, datetime

    from merchants.service.nearby import first_pass_candidates

    candidates = candidates or first_pass_candidates(21)
    return {"lat": lat, "lng": lng, "radius": 2000.0, "n1": 21, "candidates": candidates,
            "now": datetime.now(UTC)}  # fmt: skip


def measure_sql_server(
    conn: Any, sql: str, area: str, clusters: int, rng: random.Random, n: int
) -> None:
    """The same statement timed inside the server (EXPLAIN ANALYZE without per-node timing):
    execution and planning time of the first pass, without the client's round trip."""
    execution: list[float] = []
    planning: list[float] = []
    for lat, lng in query_points(area, n, clusters, rng):
        with conn.transaction():
            conn.execute("SET LOCAL enable_bitmapscan = off")
            plan = conn.execute(
                "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) " + sql,
                sql_params(lat, lng),
            ).fetchone()[0][0]
        execution.append(plan["Execution Time"] / 1000)
        planning.append(plan["Planning Time"] / 1000)
    emit(phase="sql_server", plan="index_ordered", area=area, radius_m=2000,
         execution=summary(execution), planning=summary(planning))  # fmt: skip


def nearby_statement() -> str:
    """Corner's nearby statement as the service runs it for a first page in distance order
    with no filters (`:name` parameters)."""
    from datetime import UTC, datetime

    from merchants.repository.nearby import NearbyFilters, _filters, _statement

    filters = _filters(NearbyFilters(0, 0, 2000, datetime.now(UTC)))
    return _statement("distance", filters, False).text


def reference_statement() -> str:
    """Corner's nearby statement with asyncpg's positional parameters: the reference runs the
    same SQL, so the ratio is the framework's."""
    from core.discovery import BIND_PARAMETER

    order = {"lat": 1, "lng": 2, "radius": 3, "candidates": 4, "n1": 5}
    return BIND_PARAMETER.sub(lambda m: f"${order[m.group(1)]}", nearby_statement())


async def measure_http(bench_url: str, redis_url: str, args: argparse.Namespace) -> None:
    """Corner's `GET /v1/shops/nearby` and the reference's (Corner's statement, the same page
    fields) on the same points, alternating rounds (bench/common.py)."""
    from bench.common import (
        Call,
        compare,
        emit,
        profile_round,
        server_env,
        start_pair,
        stop_all,
        verdict,
        wants_profile,
    )

    rng = random.Random(5)
    points = query_points("dense", args.http_requests // 2, args.clusters, rng)
    points += query_points("uniform", args.http_requests - len(points), 0, rng)
    rng.shuffle(points)
    calls = [
        Call("GET", "/v1/shops/nearby", params={"lat": f"{lat:.6f}", "lng": f"{lng:.6f}",
                                                "radius_m": "2000"})
        for lat, lng in points
    ]  # fmt: skip
    warm = calls[: min(len(calls), 500)]
    # --best-offer off: Corner's nearby without the `best_offer` line (the reference never has
    # it), to measure what the line costs (issue 18: "without slowing nearby")
    best_offer = "1" if args.best_offer == "on" else "0"
    servers = start_pair(server_env(bench_url, redis_url, "bench-nearby-secret",
                                    CORNER_BENCH_NEARBY_BEST_OFFER=best_offer))  # fmt: skip
    try:
        results = await compare(
            servers,
            {name: calls for name in servers},
            rounds=args.rounds,
            connections=args.connections,
            warmup={name: warm for name in servers},
        )
        for name, result in results.items():
            emit("nearby", phase="http", target=name, connections=args.connections,
                 best_offer=args.best_offer, **result)  # fmt: skip
        summary = verdict(results["corner"], results["reference"], target_ratio=0.9)
        if wants_profile(args, summary):
            await profile_round("nearby", servers["corner"], calls[: args.profile_requests],
                                args.connections)  # fmt: skip
    finally:
        stop_all(servers)
    emit("nearby", phase="http_summary", best_offer=args.best_offer, **summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=30)
    parser.add_argument("--sql-queries", type=int, default=2000)
    parser.add_argument("--http-requests", type=int, default=12000, help="per target")
    parser.add_argument("--rounds", type=int, default=6, help="alternating load rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-sql", action="store_true")
    parser.add_argument("--best-offer", choices=("on", "off"), default="on",
                        help="Corner's nearby with or without the best_offer line")  # fmt: skip
    from bench.common import add_profile_options

    add_profile_options(parser, requests=3000)
    args = parser.parse_args()
    from bench.common import service_urls
    from core.settings import to_libpq_url

    database_url, redis_url = service_urls()
    url = to_libpq_url(database_url)
    seed(url, args.shops, args.clusters)
    bench_url = f"{url.rpartition('/')[0]}/{DB_NAME}"
    if not args.skip_sql:
        measure_sql(bench_url, args.sql_queries, args.clusters)
    if not args.skip_http:
        asyncio.run(measure_http(bench_url, redis_url, args))


if __name__ == "__main__":
    main()
