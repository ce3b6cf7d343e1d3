"""A mixed workload on Corner: 70% nearby, 10% claim, 10% redeem, 10% card purchases.

    uv run python bench/mixed.py [--seconds 20] [--connections 32] [--workers 1 2] [--shops 20000]

Sets up `corner_bench_mixed` on the embedded cluster (migrated with Alembic): `--shops` shops
around Shanghai for discovery, one merchant with a shop, a published campaign, pre-issued
coupons to redeem, a program with cards, and `--users` consumers who claim. Then, for each
`--workers` value, runs `corner serve --workers N` on a free loopback port and loads it for
`--seconds` with `--connections` httpx connections, each request drawn at random from the mix.
Prints JSON lines: per run and route the requests, statuses, throughput, p50/p99; then a summary
comparing the worker counts. Every refused request is counted by status (a 5xx is a bug).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accounts.security import create_access_token  # noqa: E402
from bench.common import fresh_database, redis_db, service_urls  # noqa: E402
from core import embedded  # noqa: E402
from core.ids import new_id  # noqa: E402
from core.settings import Settings  # noqa: E402
from coupons import codes  # noqa: E402
from memberships.cardnumbers import new_card_number  # noqa: E402

DB_NAME = "corner_bench_mixed"
SECRET = "bench-secret-key-for-the-mixed-benchmark"
BOX = (30.95, 31.45, 121.20, 121.75)  # lat_min, lat_max, lng_min, lng_max
CATEGORIES = ["noodles", "restaurant", "cafe", "dry_cleaning", "barber", "gym", "car_wash"]
MIX = [("nearby", 70), ("claim", 10), ("redeem", 10), ("card_purchase", 10)]


def emit(**values: Any) -> None:
    print(json.dumps({"bench": "mixed", **values}), flush=True)


def seed(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from merchants.repository.bulk import ShopRecord, copy_shops_text, render_copy_text

    rng = random.Random(42)
    now = datetime.now(UTC)
    owner, merchant, shop, campaign = new_id(), new_id(), new_id(), new_id()
    program, tier = new_id(), new_id()
    users = [new_id() for _ in range(args.users)]
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO users (id, phone, password_hash, display_name)"
                     " VALUES (%s, '13000000000', 'x', 'bench owner')", (owner,))  # fmt: skip
        conn.execute(
            "INSERT INTO users (id, phone, password_hash, display_name)"
            " SELECT u, '14' || lpad(n::text, 9, '0'), 'x', 'member'"
            " FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(u, n)",
            (users,),
        )
        conn.execute("INSERT INTO merchants (id, name, timezone) VALUES (%s, 'bench',"
                     " 'Asia/Shanghai')", (merchant,))  # fmt: skip
        conn.execute("INSERT INTO merchant_staff (merchant_id, user_id, role)"
                     " VALUES (%s, %s, 'owner')", (merchant, owner))  # fmt: skip
        conn.execute(
            "INSERT INTO shops (id, merchant_id, name, category, location, address, opening_hours,"
            " discovery_only) VALUES (%s, %s, 'bench shop', 'noodles',"
            " ST_SetSRID(ST_MakePoint(121.47, 31.23), 4326)::geography, 'addr', '[]', false)",
            (shop, merchant),
        )
        conn.commit()
        hours = '[{"day": 0, "open": "09:00", "close": "21:00"}]'
        lat0, lat1, lng0, lng1 = BOX
        batch = [
            (new_id(), ShopRecord(name=f"店铺 shop {i}", category=CATEGORIES[i % len(CATEGORIES)],
                                  lat=rng.uniform(lat0, lat1), lng=rng.uniform(lng0, lng1),
                                  address=f"上海市 {i} 号", opening_hours_json=hours))
            for i in range(args.shops)
        ]  # fmt: skip
        copy_shops_text(conn, render_copy_text(merchant, batch))
        # the campaign: claims by the consumers, and pre-issued coupons for the redemptions
        conn.execute(
            "INSERT INTO coupon_campaigns (id, merchant_id, name, status, discount_kind,"
            " discount_amount, currency, valid_from, valid_until, claim_until, per_user_limit,"
            " created_by, published_at)"
            " VALUES (%s, %s, 'bench', 'published', 'amount_off', 1000, 'CNY', %s, %s, %s, 100,"
            " %s, %s)",
            (campaign, merchant, now - timedelta(hours=1), now + timedelta(days=1),
             now + timedelta(days=1), owner, now),
        )  # fmt: skip
        issued = [codes.new_code() for _ in range(args.codes)]
        with conn.cursor().copy(
            "COPY coupons (id, merchant_id, campaign_id, user_id, code, status, source, "
            "valid_from, valid_until, issued_at) FROM STDIN"
        ) as copy:
            for i, code in enumerate(issued):
                copy.write_row((new_id(), merchant, campaign, users[i % len(users)], code,
                                "active", "issue", now - timedelta(hours=1),
                                now + timedelta(days=1), now))  # fmt: skip
        conn.execute("UPDATE coupon_campaigns SET handed_out = %s WHERE id = %s",
                     (len(issued), campaign))  # fmt: skip
        conn.execute(
            "INSERT INTO card_programs (id, merchant_id, name, redeem_points_per_unit,"
            " bonus_spend_rule, topup_bonuses) VALUES (%s, %s, 'bench', 100, 'proportional', '[]')",
            (program, merchant),
        )
        conn.execute(
            "INSERT INTO card_tiers (id, program_id, merchant_id, code, name, rank,"
            " discount_percent, earn_points_per_unit, upgrade_min_spend_12m) VALUES"
            " (%s, %s, %s, 'regular', '普通卡', 0, 0, 1, NULL)",
            (tier, program, merchant),
        )
        numbers: set[str] = set()
        while len(numbers) < len(users):
            numbers.add(new_card_number())
        card_numbers = sorted(numbers)
        conn.execute(
            "INSERT INTO cards (id, program_id, merchant_id, user_id, card_number, tier_id,"
            " currency) SELECT gen_random_uuid(), %s, %s, u, n, %s, 'CNY'"
            " FROM unnest(%s::uuid[], %s::text[]) AS t(u, n)",
            (program, merchant, tier, users, card_numbers),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    settings = Settings(secret_key=SECRET)  # type: ignore[arg-type]
    return {
        "shop_id": str(shop),
        "campaign_id": str(campaign),
        "owner_token": create_access_token(settings, owner, now),
        "user_tokens": [create_access_token(settings, u, now) for u in users],
        "codes": issued,
        "card_numbers": card_numbers,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(base: str, data: dict[str, Any], seconds: float, connections: int,
               seed_: int) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(seed_)
    routes = [name for name, weight in MIX for _ in range(weight)]
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    codes_left = list(data["codes"])
    rng.shuffle(codes_left)
    staff = {"Authorization": f"Bearer {data['owner_token']}"}
    lat0, lat1, lng0, lng1 = BOX
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one(route: str) -> httpx.Response | None:
            if route == "nearby":
                params = {"lat": rng.uniform(lat0, lat1), "lng": rng.uniform(lng0, lng1),
                          "radius_m": 2000, "limit": 20}  # fmt: skip
                return await client.get("/v1/shops/nearby", params=params)
            if route == "claim":
                token = rng.choice(data["user_tokens"])
                return await client.post(f"/v1/campaigns/{data['campaign_id']}/claim",
                                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            if route == "redeem":
                if not codes_left:
                    return None
                body = {"code": codes_left.pop(), "shop_id": data["shop_id"]}
                return await client.post("/v1/counter/redeem", json=body, headers=staff)
            body = {"card": rng.choice(data["card_numbers"]), "shop_id": data["shop_id"],
                    "kind": "purchase", "amount": {"amount": rng.randint(100, 20000),
                                                   "currency": "CNY"}}  # fmt: skip
            return await client.post("/v1/counter/transactions", json=body, headers=staff)

        async def worker() -> None:
            while time.monotonic() < deadline:
                route = rng.choice(routes)
                started = time.perf_counter()
                response = await one(route)
                if response is None:
                    continue
                latencies[route].append(time.perf_counter() - started)
                statuses[route][response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    used = set(data["codes"]) - set(codes_left)
    data["codes"] = [c for c in data["codes"] if c not in used]
    per_route = {
        route: {
            "requests": len(values),
            "statuses": dict(statuses[route]),
            "throughput_rps": round(len(values) / elapsed, 1),
            "p50_ms": round(percentile(values, 0.5) * 1000, 2),
            "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        }
        for route, values in latencies.items()
    }
    total = sum(len(v) for v in latencies.values())
    every = [x for v in latencies.values() for x in v]
    return {
        "seconds": round(elapsed, 2),
        "requests": total,
        "throughput_rps": round(total / elapsed, 1),
        "p50_ms": round(percentile(every, 0.5) * 1000, 2),
        "p99_ms": round(percentile(every, 0.99) * 1000, 2),
        "errors_5xx": sum(n for c in statuses.values() for s, n in c.items() if s >= 500),
        "routes": per_route,
    }


def start(workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = embedded.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("corner serve did not become ready")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--shops", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--codes", type=int, default=20_000, help="pre-issued coupons to redeem")
    args = parser.parse_args()

    admin_url, redis_url = service_urls()
    url, redis_url = fresh_database(admin_url, DB_NAME), redis_db(redis_url, 62)
    started = time.perf_counter()
    data = seed(url, args)
    emit(phase="seed", shops=args.shops, users=args.users, codes=args.codes,
         seconds=round(time.perf_counter() - started, 1))  # fmt: skip
    env = os.environ | {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "CORNER_SECRET_KEY": SECRET,
        "CORNER_LOG_LEVEL": "WARNING",
        "CORNER_ENVIRONMENT": "bench",
        "CORNER_DB_POOL_SIZE": "20",
        "CORNER_DB_MAX_OVERFLOW": "10",
    }
    results: dict[int, dict[str, Any]] = {}
    for workers in args.workers:
        process, base = start(workers, env)
        try:
            await load(base, data, args.warmup, args.connections, seed_=workers * 7)
            result = await load(base, data, args.seconds, args.connections, seed_=workers)
            results[workers] = result
            emit(phase="run", workers=workers, connections=args.connections, **result)
        finally:
            process.terminate()
            process.wait(timeout=30)
    if len(results) > 1:
        one = results[min(results)]
        emit(
            phase="summary",
            throughput_rps={str(w): r["throughput_rps"] for w, r in results.items()},
            p99_ms={str(w): r["p99_ms"] for w, r in results.items()},
            speedup=round(results[max(results)]["throughput_rps"] / one["throughput_rps"], 2),
            cpus=os.cpu_count(),
        )


if __name__ == "__main__":
    asyncio.run(main())
