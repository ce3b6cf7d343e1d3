"""Counter redemptions: Corner through HTTP vs a raw Starlette + asyncpg reference.

    uv run python bench/redeem.py [--count 2000] [--connections 32] [--hot-attempts 200]

Sets up its own database (`corner_bench_redeem` on the embedded cluster, migrated), a merchant,
a shop, a clerk, a published campaign and enough distinct coupons, then for each target
(Corner's real app under uvicorn, then the reference doing the same conditional UPDATE +
INSERT per request with no framework) redeems distinct coupons with `--connections` client
connections, and races `--hot-attempts` redemptions of one hot coupon. Prints JSON lines:
per target throughput, p50/p99 latency and server CPU per request (the load alternates between
the two servers in `--rounds` rounds, see bench/common.py), the ratio, and the double
redemptions found in the database (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Round,
    Tally,
    chunks,
    free_port,
    fresh_database,
    interleaved,
    post_all,
    redis_db,
    service_urls,
    start_server,
    stop_server,
)

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


# -- load ---------------------------------------------------------------------------------


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
    admin_url, redis_base = service_urls()
    db_url = fresh_database(admin_url, DB_NAME)
    redis_url = redis_db(redis_base, 15)
    warmup = 100
    per_target = args.count + warmup + 1
    data = await seed(db_url, redis_url, 2 * per_target)
    shop_id = data["shop_id"]
    env = os.environ | {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CORNER_SECRET_KEY": SECRET,
        "CORNER_LOG_LEVEL": "WARNING",
        "CORNER_ENVIRONMENT": "bench",
    }
    corner_cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"]
    corner_cmd += ["--no-access-log", "--log-level", "warning"]
    reference_cmd = [sys.executable, __file__, "--serve-reference", "--dsn", db_url]
    reference_cmd += ["--merchant-id", data["merchant_id"], "--staff-id", data["staff_id"]]
    targets = {
        "corner": (corner_cmd, "/v1/counter/redeem", {"Authorization": f"Bearer {data['token']}"}),
        "reference": (reference_cmd, "/redeem", {}),
    }
    servers: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[str, str] = {}
    try:
        rounds: dict[str, tuple[int, Round]] = {}
        for index, (name, (cmd, path, headers)) in enumerate(targets.items()):
            port = free_port()
            servers[name] = start_server([*cmd, "--port", str(port)], env, port)
            mine = data["codes"][index * per_target : (index + 1) * per_target]
            url = urls[name] = f"http://127.0.0.1:{port}{path}"
            await post_all(url, bodies(mine[:warmup], shop_id), headers, args.connections, Tally())
            slices = chunks(mine[warmup:-1], args.rounds)
            rounds[name] = (servers[name].pid, redeem_round(url, headers, slices, shop_id, args))
        results = await interleaved(rounds, args.rounds)
        for name, result in results.items():
            emit({"target": name, "kind": "distinct", "connections": args.connections, **result})
        for index, (name, (_, _, headers)) in enumerate(targets.items()):
            hot = data["codes"][(index + 1) * per_target - 1]
            race = Tally()
            await post_all(
                urls[name], bodies([hot] * args.hot_attempts, shop_id), headers, 32, race
            )
            successes = race.statuses.get(200, 0)
            emit(
                {
                    "target": name,
                    "kind": "hot_coupon",
                    "attempts": args.hot_attempts,
                    "successes": successes,
                    "double_redemptions": max(0, successes - 1),
                    "statuses": dict(race.statuses),
                }
            )
    finally:
        for server in servers.values():
            stop_server(server)
    corner, reference = results["corner"], results["reference"]
    emit(
        {
            "kind": "summary",
            "corner_rps": corner["throughput_rps"],
            "reference_rps": reference["throughput_rps"],
            "ratio": round(corner["throughput_rps"] / reference["throughput_rps"], 3),
            "cpu_ms_per_request": {
                "corner": corner["server_cpu_ms_per_request"],
                "reference": reference["server_cpu_ms_per_request"],
            },
            "target_ratio": 0.6,
            "double_redemptions_in_db": double_redemptions(db_url),
        }
    )


def bodies(codes_: Sequence[str], shop_id: str) -> list[dict[str, Any]]:
    return [{"code": c, "shop_id": shop_id} for c in codes_]


def redeem_round(
    url: str,
    headers: dict[str, str],
    slices: list[Sequence[str]],
    shop_id: str,
    args: argparse.Namespace,
) -> Round:
    """Each round redeems its own slice of the target's distinct coupons."""

    async def run_round(number: int, tally: Tally) -> None:
        await post_all(url, bodies(slices[number], shop_id), headers, args.connections, tally)

    return run_round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="distinct coupons per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--hot-attempts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=6, help="alternating load rounds")
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
