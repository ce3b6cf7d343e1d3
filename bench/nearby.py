"""Benchmark: nearby discovery, SQL alone and HTTP under concurrency, against a raw reference.

    uv run python bench/nearby.py                    # the issue's full size: 1M shops
    uv run python bench/nearby.py --shops 300000     # quicker (the seed is reused when N matches)

Seeds N shops into `corner_bench_nearby` on the embedded cluster (or DATABASE_URL's server):
uniform over a Shanghai-sized box plus dense Gaussian clusters. Then measures
(a) Corner's exact nearby SQL statement alone (top-20 within 2 km, distance order) in dense,
    uniform and empty areas, and the same statement under the default (bitmap) plan;
(b) `GET /v1/shops/nearby` on Corner's real app (uvicorn subprocess) and on a minimal raw
    reference (Starlette + asyncpg + orjson, exact spheroid-ordered top-20) in the same run,
    with the same async load generator (httpx, 32 connections, bounded time).
Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
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
    from datetime import UTC, datetime

    import psycopg

    from merchants.repository.nearby import (
        NearbyFilters,
        NearbyRow,
        _filters,
        _statement,
        candidates_sufficient,
    )
    from merchants.service.nearby import _GROWTH, first_pass_candidates

    statement = _statement("distance", _filters(NearbyFilters(0, 0, 2000, datetime.now(UTC))),
                           False).text  # fmt: skip
    sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", statement)
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


REFERENCE_SQL = """
SELECT id, name, category, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lng,
       address, rating, review_count, d
FROM (
  SELECT c.*, ST_Distance(c.location, ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography) AS d
  FROM (
    SELECT * FROM shops
    WHERE ST_DWithin(location, ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography, $3)
    ORDER BY location <-> ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography
    LIMIT 50
  ) c
) x
ORDER BY d, id
LIMIT 21
"""


def serve_reference(port: int, database_url: str) -> None:
    """The raw reference: Starlette + asyncpg + orjson, same exact top-20, nothing else."""
    import asyncpg
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    pool: dict[str, Any] = {}

    async def nearby(request: Request) -> Response:
        lat = float(request.query_params["lat"])
        lng = float(request.query_params["lng"])
        radius = float(request.query_params.get("radius_m", 2000))
        async with pool["p"].acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL enable_bitmapscan = off")
            rows = await conn.fetch(REFERENCE_SQL, lat, lng, radius)
        items = [{"id": str(r["id"]), "name": r["name"], "category": r["category"],
                  "location": {"lat": r["lat"], "lng": r["lng"]},
                  "distance_m": round(r["d"], 1), "address": r["address"],
                  "rating": float(r["rating"]), "review_count": r["review_count"]}
                 for r in rows[:20]]  # fmt: skip
        return Response(orjson.dumps({"items": items}), media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool["p"] = await asyncpg.create_pool(
            database_url, min_size=8, max_size=32, server_settings={"jit": "off"}
        )
        yield
        await pool["p"].close()

    app = Starlette(routes=[Route("/v1/shops/nearby", nearby)], lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(kind: str, port: int, bench_url: str, redis_url: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATABASE_URL=bench_url, REDIS_URL=redis_url,
               CORNER_SECRET_KEY="bench", CORNER_LOG_LEVEL="WARNING")  # fmt: skip
    if kind == "corner":
        cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]  # fmt: skip
    else:
        cmd = [sys.executable, __file__, "--serve-reference", "--port", str(port),
               "--database-url", bench_url]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env)


async def wait_ready(port: int) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                r = await client.get(f"http://127.0.0.1:{port}/v1/shops/nearby",
                                     params={"lat": 31.2, "lng": 121.4})  # fmt: skip
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


async def load(port: int, seconds: float, connections: int, clusters: int) -> dict[str, Any]:
    import httpx

    rng = random.Random(port)
    points = query_points("dense", 2000, clusters, rng) + query_points("uniform", 2000, 0, rng)
    rng.shuffle(points)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=10) as client:  # fmt: skip
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < deadline:
                lat, lng = points[i % len(points)]
                i += connections
                started = time.perf_counter()
                try:
                    r = await client.get("/v1/shops/nearby", params={"lat": lat, "lng": lng})
                except httpx.TransportError:  # counted, not fatal: the figures say how many
                    errors += 1
                    continue
                if r.status_code != 200:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(connections)))
        elapsed = time.perf_counter() - started
    return {"requests_per_s": round(len(latencies) / elapsed, 1), "errors": errors,
            **summary(latencies)}  # fmt: skip


async def measure_http(bench_url: str, redis_url: str, args: argparse.Namespace) -> None:
    from bench.common import cpu_seconds
    from core.embedded import free_port

    ports = {"reference": free_port(), "corner": free_port()}
    procs = {k: start_server(k, p, bench_url, redis_url) for k, p in ports.items()}
    try:
        for port in ports.values():
            await wait_ready(port)
        results: dict[str, list[dict[str, Any]]] = {"reference": [], "corner": []}
        # alternate short rounds so noisy neighbours hit both alike
        for round_ in range(args.rounds):
            for kind in ("reference", "corner") if round_ % 2 == 0 else ("corner", "reference"):
                await load(ports[kind], 1.0, args.connections, args.clusters)  # warm-up
                cpu_before = cpu_seconds(procs[kind].pid)
                result = await load(ports[kind], args.http_seconds, args.connections, args.clusters)
                cpu = cpu_seconds(procs[kind].pid) - cpu_before
                result["server_cpu_ms_per_request"] = round(cpu / result["n"] * 1000, 3)
                results[kind].append(result)
                emit(phase="http", server=kind, round=round_, connections=args.connections,
                     **result)  # fmt: skip
        best = {k: max(v, key=lambda r: r["requests_per_s"]) for k, v in results.items()}
        med = {k: sorted(v, key=lambda r: r["requests_per_s"])[len(v) // 2]
               for k, v in results.items()}  # fmt: skip
        emit(phase="http_ratio",
             throughput_ratio=round(med["corner"]["requests_per_s"]
                                    / med["reference"]["requests_per_s"], 3),
             p99_ratio=round(med["corner"]["p99_ms"] / med["reference"]["p99_ms"], 3),
             corner=med["corner"], reference=med["reference"],
             best_throughput_ratio=round(best["corner"]["requests_per_s"]
                                         / best["reference"]["requests_per_s"], 3))  # fmt: skip
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=30)
    parser.add_argument("--sql-queries", type=int, default=2000)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--serve-reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_reference:
        serve_reference(args.port, args.database_url)
        return
    from bench.common import service_urls
    from core.settings import to_libpq_url

    database_url, redis_url = service_urls()
    url = to_libpq_url(database_url)
    seed(url, args.shops, args.clusters)
    bench_url = f"{url.rpartition('/')[0]}/{DB_NAME}"
    measure_sql(bench_url, args.sql_queries, args.clusters)
    if not args.skip_http:
        asyncio.run(measure_http(bench_url, redis_url, args))


if __name__ == "__main__":
    main()
