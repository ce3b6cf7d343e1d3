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
import gc
import os
import random
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


def serve_reference(port: int, database_url: str) -> None:
    """The raw reference: Starlette + asyncpg + orjson, one statement per request (the planner
    settings fixed per connection, as Corner's discovery pool does), nothing else."""
    import asyncpg
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from merchants.service.nearby import first_pass_candidates

    sql = reference_statement()
    pool: dict[str, Any] = {}

    async def nearby(request: Request) -> Response:
        lat = float(request.query_params["lat"])
        lng = float(request.query_params["lng"])
        radius = float(request.query_params.get("radius_m", 2000))
        async with pool["p"].acquire() as conn:
            rows = await conn.fetch(sql, lat, lng, radius, first_pass_candidates(21), 21)
        items = [{"id": r[0], "name": r[3], "category": r[4],
                  "location": {"lat": round(r[5], 7), "lng": round(r[6], 7)},
                  "distance_m": round(r[1], 1), "address": r[7],
                  "rating": float(r[8]), "review_count": r[9]}
                 for r in rows[:20]]  # fmt: skip
        return Response(orjson.dumps({"items": items}), media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings = {"jit": "off", "enable_bitmapscan": "off"}
        pool["p"] = await asyncpg.create_pool(
            database_url, min_size=8, max_size=32, server_settings=settings
        )
        gc.freeze()  # as Corner's app does after start-up: no long full collections under load
        yield
        await pool["p"].close()

    app = Starlette(routes=[Route("/v1/shops/nearby", nearby)], lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(kind: str, port: int, bench_url: str, redis_url: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATABASE_URL=bench_url, REDIS_URL=redis_url, DATABASE_REPLICA_URL="",
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
    import aiohttp

    async with aiohttp.ClientSession() as client:
        for _ in range(300):
            try:
                async with client.get(f"http://127.0.0.1:{port}/v1/shops/nearby",
                                      params={"lat": 31.2, "lng": 121.4}) as r:  # fmt: skip
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def postgres_cpu_seconds() -> float:
    """CPU of every PostgreSQL process so far (the backends of both servers' pools)."""
    from bench.common import cpu_seconds

    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    total += cpu_seconds(int(entry.name))
            except (OSError, ValueError):  # the process ended meanwhile
                pass
    return total


async def load(port: int, seconds: float, connections: int, clusters: int) -> dict[str, Any]:
    """`connections` keep-alive connections asking for nearby pages for `seconds`; aiohttp,
    so the load generator's own CPU (on the same two cores) weighs little in the ratio."""
    import aiohttp

    rng = random.Random(port)
    points = query_points("dense", 2000, clusters, rng) + query_points("uniform", 2000, 0, rng)
    rng.shuffle(points)
    gc.freeze()  # the generator's own full collections would show as the servers' latency
    latencies: list[float] = []
    errors = 0
    url = f"http://127.0.0.1:{port}/v1/shops/nearby"
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < deadline:
                lat, lng = points[i % len(points)]
                i += connections
                started = time.perf_counter()
                try:
                    async with client.get(url, params={"lat": lat, "lng": lng}) as r:
                        await r.read()
                        ok = r.status == 200
                except (aiohttp.ClientError, TimeoutError):  # counted, not fatal
                    errors += 1
                    continue
                errors += not ok
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(connections)))
        elapsed = time.perf_counter() - started
    return {"requests_per_s": round(len(latencies) / elapsed, 1), "errors": errors,
            **summary(latencies)}  # fmt: skip


async def measure_round(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """One bounded run against one server, with the CPU each party burnt per request."""
    from bench.common import cpu_seconds

    before = (cpu_seconds(pid), postgres_cpu_seconds(), time.process_time())
    result = await load(port, args.http_seconds, args.connections, args.clusters)
    after = (cpu_seconds(pid), postgres_cpu_seconds(), time.process_time())
    per_request = [
        round((b - a) / max(result["n"], 1) * 1000, 3) for a, b in zip(before, after, strict=True)
    ]
    result["server_cpu_ms_per_request"], result["postgres_cpu_ms_per_request"] = per_request[:2]
    result["load_generator_cpu_ms_per_request"] = per_request[2]
    return result


async def measure_http(bench_url: str, redis_url: str, args: argparse.Namespace) -> None:
    from core.embedded import free_port

    ports = {"reference": free_port(), "corner": free_port()}
    procs = {k: start_server(k, p, bench_url, redis_url) for k, p in ports.items()}
    try:
        for port in ports.values():
            await wait_ready(port)
            await load(port, 2.0, args.connections, args.clusters)  # warm-up
        results: dict[str, list[dict[str, Any]]] = {"reference": [], "corner": []}
        # alternate short rounds so noisy neighbours hit both alike
        for round_ in range(args.rounds):
            for kind in ("reference", "corner") if round_ % 2 == 0 else ("corner", "reference"):
                result = await measure_round(ports[kind], procs[kind].pid, args)
                results[kind].append(result)
                emit(phase="http", server=kind, round=round_, connections=args.connections,
                     **result)  # fmt: skip
        emit(phase="http_ratio", **ratios(results))
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=10)


def ratios(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Corner over the reference: throughput over all rounds (requests over seconds), the
    median round's p99, CPU per request of each party, and the best rounds' throughput."""

    def total_rps(rounds: list[dict[str, Any]]) -> float:
        return sum(r["n"] for r in rounds) / sum(r["n"] / r["requests_per_s"] for r in rounds)

    def median_p99(rounds: list[dict[str, Any]]) -> float:
        return sorted(r["p99_ms"] for r in rounds)[len(rounds) // 2]

    def mean_cpu(rounds: list[dict[str, Any]], key: str) -> float:
        return round(sum(r[key] * r["n"] for r in rounds) / sum(r["n"] for r in rounds), 3)

    corner, reference = results["corner"], results["reference"]
    cpu_keys = ("server_cpu_ms_per_request", "postgres_cpu_ms_per_request",
                "load_generator_cpu_ms_per_request")  # fmt: skip
    return {
        "throughput_ratio": round(total_rps(corner) / total_rps(reference), 3),
        "p99_ratio": round(median_p99(corner) / median_p99(reference), 3),
        "corner": {"requests_per_s": round(total_rps(corner), 1), "p99_ms": median_p99(corner),
                   **{k: mean_cpu(corner, k) for k in cpu_keys}},
        "reference": {"requests_per_s": round(total_rps(reference), 1),
                      "p99_ms": median_p99(reference),
                      **{k: mean_cpu(reference, k) for k in cpu_keys}},
        "best_throughput_ratio": round(max(r["requests_per_s"] for r in corner)
                                       / max(r["requests_per_s"] for r in reference), 3),
    }  # fmt: skip


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
