"""Counter redemptions: Corner through HTTP vs a raw Starlette + asyncpg reference.

    uv run python bench/redeem.py [--count 2000] [--connections 32] [--hot-attempts 200]

Sets up its own database (`corner_bench_redeem` on the embedded cluster, migrated), a merchant,
a shop, a clerk, a published campaign and enough distinct coupons, then for each target
(Corner's real app under uvicorn, then the reference doing the same conditional UPDATE +
INSERT per request with no framework) redeems distinct coupons with `--connections` client
connections, and races `--hot-attempts` redemptions of one hot coupon. Prints JSON lines:
per target throughput and p50/p99 latency, the ratio, and the double redemptions found in the
database (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "corner_bench_redeem"
SECRET = "bench-secret-key-not-for-production"

UPDATE_SQL = """
UPDATE coupons SET status = 'redeemed', redeemed_at = now()
WHERE code = $1 AND merchant_id = $2 AND status = 'active'
  AND valid_from <= now() AND valid_until > now()
RETURNING id, campaign_id, user_id
"""
INSERT_SQL = """
INSERT INTO coupon_redemptions (id, merchant_id, coupon_id, campaign_id, shop_id, staff_user_id,
                                user_id, order_amount, discount_amount, currency, redeemed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, 'CNY', now())
RETURNING id
"""


# -- the raw reference ------------------------------------------------------------------------


def reference_app(dsn: str, merchant_id: str, staff_id: str) -> Any:
    import asyncpg
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    state: dict[str, Any] = {}
    merchant, staff = uuid.UUID(merchant_id), uuid.UUID(staff_id)

    async def redeem(request: Request) -> Response:
        body = orjson.loads(await request.body())
        async with state["pool"].acquire() as conn, conn.transaction():
            row = await conn.fetchrow(UPDATE_SQL, body["code"], merchant)
            if row is None:
                return Response(b'{"code":"coupon_already_redeemed"}', 409)
            rid = await conn.fetchval(
                INSERT_SQL,
                uuid.uuid4(),
                merchant,
                row["id"],
                row["campaign_id"],
                uuid.UUID(body["shop_id"]),
                staff,
                row["user_id"],
                1000,
            )
        return Response(orjson.dumps({"redemption_id": str(rid)}), media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=10, max_size=40)
        yield
        await state["pool"].close()

    return Starlette(routes=[Route("/redeem", redeem, methods=["POST"])], lifespan=lifespan)


# -- setup ------------------------------------------------------------------------------------


def base_urls() -> tuple[str, str]:
    from core import embedded

    env = embedded.services_up(ROOT / ".corner")
    return os.environ.get("DATABASE_URL") or env["DATABASE_URL"], os.environ.get(
        "REDIS_URL"
    ) or env["REDIS_URL"]


def recreate_database(admin_url: str) -> str:
    import psycopg

    from core.migrate import upgrade
    from core.settings import to_libpq_url

    with psycopg.connect(to_libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    url = to_libpq_url(admin_url).rpartition("/")[0] + f"/{DB_NAME}"
    upgrade(url)
    return url


async def seed(db_url: str, redis_url: str, coupons_needed: int) -> dict[str, Any]:
    import psycopg

    from accounts import schemas as account_schemas
    from accounts import service as accounts_service
    from accounts.security import create_access_token
    from core.database import create_engine, create_sessionmaker
    from core.ids import new_id
    from core.settings import Settings
    from coupons import codes, schemas
    from coupons import service as coupons_service
    from geo.schemas import LatLng
    from merchants import schemas as shop_schemas
    from merchants import service as merchants_service

    settings = Settings(
        database_url=db_url,
        redis_url=redis_url,
        secret_key=SECRET,  # type: ignore[arg-type]
        argon2_time_cost=1,
        argon2_memory_kib=512,
    )
    engine = create_engine(settings, pool_size=2, max_overflow=0)
    now = datetime.now(UTC)
    async with create_sessionmaker(engine).begin() as session:

        async def user(i: int) -> Any:
            return await accounts_service.register_user(
                session,
                settings=settings,
                data=account_schemas.UserCreate(
                    phone=f"1390000{i:04d}", password="bench-pass", display_name=f"u{i}"
                ),
            )

        owner = await user(0)
        merchant = await accounts_service.create_merchant(
            session, owner_id=owner.id, data=account_schemas.MerchantCreate(name="Bench noodles")
        )
        shop = await merchants_service.create_shop(
            session,
            merchant_id=merchant.id,
            data=shop_schemas.ShopCreate(
                name="Bench shop",
                category="noodles",
                location=LatLng(lat=31.23, lng=121.47),
                address="Bench road 1",
            ),
        )
        customers = [(await user(i)).id for i in range(1, 201)]
        campaign = await coupons_service.create_campaign(
            session,
            merchant_id=merchant.id,
            created_by=owner.id,
            data=schemas.CampaignCreate(
                name="Bench 10 off",
                discount=schemas.AmountOff(kind="amount_off", value={"amount": 1000}),  # type: ignore[arg-type]
                valid_from=now - timedelta(hours=1),
                valid_until=now + timedelta(days=1),
                per_user_limit=100,
            ),
            now=now,
        )
        await coupons_service.change_status(
            session, campaign_id=campaign.id, to="published", now=now
        )
    await engine.dispose()
    all_codes = [codes.new_code() for _ in range(coupons_needed)]
    with psycopg.connect(db_url) as conn:
        with conn.cursor().copy(
            "COPY coupons (id, merchant_id, campaign_id, user_id, code, status, source, "
            "valid_from, valid_until, issued_at) FROM STDIN"
        ) as copy:
            for i, code in enumerate(all_codes):
                copy.write_row(
                    (
                        new_id(),
                        merchant.id,
                        campaign.id,
                        customers[i % len(customers)],
                        code,
                        "active",
                        "issue",
                        now - timedelta(hours=1),
                        now + timedelta(days=1),
                        now,
                    )
                )
        conn.execute(
            "UPDATE coupon_campaigns SET handed_out = %s WHERE id = %s",
            (coupons_needed, campaign.id),
        )
        conn.execute("ANALYZE")
    return {
        "merchant_id": str(merchant.id),
        "shop_id": str(shop.id),
        "staff_id": str(owner.id),
        "token": create_access_token(settings, owner.id, datetime.now(UTC)),
        "codes": all_codes,
    }


# -- servers and load -------------------------------------------------------------------------


def free_port() -> int:
    from core.embedded import free_port as pick

    return pick()


def start_server(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import httpx

    process = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start")


async def load(
    url: str, bodies: list[dict[str, Any]], headers: dict[str, str], connections: int
) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    pending = iter(bodies)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            for body in pending:
                started = time.perf_counter()
                response = await client.post(url, json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "statuses": dict(statuses),
        "seconds": round(elapsed, 3),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def double_redemptions(db_url: str) -> int:
    import psycopg

    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT coupon_id FROM coupon_redemptions "
            "WHERE reversed_at IS NULL GROUP BY coupon_id HAVING count(*) > 1) d"
        ).fetchone()
        assert row is not None
        return int(row[0])


def emit(record: dict[str, Any]) -> None:
    print(json.dumps({"bench": "redeem", **record}), flush=True)


async def run(args: argparse.Namespace) -> None:
    admin_url, redis_base = base_urls()
    db_url = recreate_database(admin_url)
    redis_url = redis_base.rpartition("/")[0] + "/15"
    warmup = 100
    per_target = args.count + warmup + 1
    data = await seed(db_url, redis_url, 2 * per_target)
    codes_list: list[str] = data["codes"]
    shop_id = data["shop_id"]
    results: dict[str, dict[str, Any]] = {}
    targets = [
        (
            "corner",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            "/v1/counter/redeem",
            {"Authorization": f"Bearer {data['token']}"},
        ),
        (
            "reference",
            [
                sys.executable,
                __file__,
                "--serve-reference",
                "--dsn",
                db_url,
                "--merchant-id",
                data["merchant_id"],
                "--staff-id",
                data["staff_id"],
            ],
            "/redeem",
            {},
        ),
    ]
    env = os.environ | {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CORNER_SECRET_KEY": SECRET,
        "CORNER_LOG_LEVEL": "WARNING",
        "CORNER_ENVIRONMENT": "bench",
    }
    for index, (name, cmd, path, headers) in enumerate(targets):
        mine = codes_list[index * per_target : (index + 1) * per_target]
        port = free_port()
        server = start_server([*cmd, "--port", str(port)], env, port)
        try:
            url = f"http://127.0.0.1:{port}{path}"

            def bodies(chunk: list[str]) -> list[dict[str, Any]]:
                return [{"code": c, "shop_id": shop_id} for c in chunk]

            await load(url, bodies(mine[:warmup]), headers, args.connections)
            result = await load(url, bodies(mine[warmup:-1]), headers, args.connections)
            emit({"target": name, "kind": "distinct", "connections": args.connections, **result})
            race = await load(
                url, bodies([mine[-1]] * args.hot_attempts), headers, args.connections
            )
            successes = race["statuses"].get(200, 0)
            emit(
                {
                    "target": name,
                    "kind": "hot_coupon",
                    "attempts": args.hot_attempts,
                    "successes": successes,
                    "double_redemptions": max(0, successes - 1),
                    "statuses": race["statuses"],
                }
            )
            results[name] = result
        finally:
            server.terminate()
            server.wait(timeout=10)
    corner, reference = results["corner"], results["reference"]
    emit(
        {
            "kind": "summary",
            "corner_rps": corner["throughput_rps"],
            "reference_rps": reference["throughput_rps"],
            "ratio": round(corner["throughput_rps"] / reference["throughput_rps"], 3),
            "target_ratio": 0.6,
            "double_redemptions_in_db": double_redemptions(db_url),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="distinct coupons per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--hot-attempts", type=int, default=200)
    parser.add_argument("--serve-reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--merchant-id", help=argparse.SUPPRESS)
    parser.add_argument("--staff-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_reference:
        import uvicorn

        uvicorn.run(
            reference_app(args.dsn, args.merchant_id, args.staff_id),
            host="127.0.0.1",
            port=args.port,
            access_log=False,
            log_level="warning",
        )
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
