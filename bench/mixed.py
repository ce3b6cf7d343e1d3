"""A mixed workload: 70% nearby, 10% claim, 10% redeem, 10% card purchases; 1 vs 2 workers.

    uv run python bench/mixed.py [--requests 6000] [--rounds 4] [--connections 32]
                                 [--workers 1 2] [--shops 20000]

Sets up `corner_bench_mixed` on the embedded cluster (migrated with Alembic): `--shops` shops
around Shanghai for discovery, one merchant with a shop, a published campaign, pre-issued
coupons to redeem, a program with cards, and `--users` consumers who claim. For each
`--workers` value it starts `corner serve --workers N` and the raw reference
(bench/reference.py under uvicorn with N workers), and sends every one of them the same
`--requests` draws from the mix (the same points, cards, amounts and claimants; each target
its own coupons) in alternating rounds of the same aiohttp generator (bench/common.py).
Prints JSON lines: per target the statuses, throughput, p50/p99 per route and the CPU per
request of its process tree, PostgreSQL and the load generator; per worker count Corner over
the reference (only when every answer was the expected 2xx); and the speedup of the most
workers over the fewest, for both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Call,
    Server,
    bearer,
    compare,
    fresh_database,
    redis_db,
    seed_campaign,
    seed_counter,
    server_env,
    service_urls,
    start_pair,
    stop_all,
    verdict,
)
from core.ids import new_id  # noqa: E402
from coupons import codes  # noqa: E402
from memberships.cardnumbers import new_card_number  # noqa: E402

DB_NAME = "corner_bench_mixed"
SECRET = "bench-secret-key-for-the-mixed-benchmark"
BOX = (30.95, 31.45, 121.20, 121.75)  # lat_min, lat_max, lng_min, lng_max
CATEGORIES = ["noodles", "restaurant", "cafe", "dry_cleaning", "barber", "gym", "car_wash"]
MIX = [("nearby", 70), ("claim", 10), ("redeem", 10), ("card_purchase", 10)]


def emit(**values: Any) -> None:
    print(json.dumps({"bench": "mixed", **values}), flush=True)


def seed(url: str, args: argparse.Namespace, codes_needed: int) -> dict[str, Any]:
    from merchants.repository.bulk import ShopRecord, copy_shops_text, render_copy_text

    rng = random.Random(42)
    now = datetime.now(UTC)
    program, tier = new_id(), new_id()
    with psycopg.connect(url) as conn:
        base = seed_counter(conn, users=args.users)
        merchant, users = base["merchant"], base["users"]
        campaign = seed_campaign(conn, base)
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
        # pre-issued coupons for the redemptions
        issued = [codes.new_code() for _ in range(codes_needed)]
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
    return {
        "shop_id": str(base["shop"]),
        "campaign_id": str(campaign),
        "owner": base["owner"],
        "merchant": merchant,
        "users": users,
        "codes": issued,
        "card_numbers": card_numbers,
    }


def calls(data: dict[str, Any], count: int, codes_: list[str], seed_: int) -> list[Call]:
    """`count` requests drawn from the mix with `seed_` (the same draws for every target),
    redeeming `codes_` in order (each target its own coupons)."""
    rng = random.Random(seed_)
    routes = [name for name, weight in MIX for _ in range(weight)]
    lat0, lat1, lng0, lng1 = BOX
    pending = iter(codes_)
    out = []
    for _ in range(count):
        route = rng.choice(routes)
        if route == "nearby":
            lat, lng = rng.uniform(lat0, lat1), rng.uniform(lng0, lng1)
            params = {"lat": f"{lat:.6f}", "lng": f"{lng:.6f}", "radius_m": "2000", "limit": "20"}
            out.append(Call("GET", "/v1/shops/nearby", params=params, label=route))
        elif route == "claim":
            user = data["tokens"][rng.randrange(len(data["tokens"]))]
            path = f"/v1/campaigns/{data['campaign_id']}/claim"
            out.append(Call("POST", path, headers=user, expect=201, label=route))
        elif route == "redeem":
            body = {"code": next(pending), "shop_id": data["shop_id"]}
            out.append(Call("POST", "/v1/counter/redeem", body, data["staff"], label=route))
        else:
            body = {"card": rng.choice(data["card_numbers"]), "shop_id": data["shop_id"],
                    "kind": "purchase", "amount": {"amount": rng.randint(100, 20000),
                                                   "currency": "CNY"}}  # fmt: skip
            out.append(Call("POST", "/v1/counter/transactions", body, data["staff"], expect=201,
                            label="card_purchase"))  # fmt: skip
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=6000, help="per target")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4, help="alternating load rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--shops", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=500)
    args = parser.parse_args()

    admin_url, redis_url = service_urls()
    url, redis_url = fresh_database(admin_url, DB_NAME), redis_db(redis_url, 62)
    started = time.perf_counter()
    targets = [f"{kind}_{w}w" for w in args.workers for kind in ("corner", "reference")]
    # a redemption is 10% of the draws: twice that covers any target's share
    per_target = args.requests + args.warmup
    data = seed(url, args, codes_needed=len(targets) * (per_target // 5 + 50))
    emit(
        phase="seed",
        shops=args.shops,
        users=args.users,
        seconds=round(time.perf_counter() - started, 1),
    )
    data["staff"] = bearer(SECRET, data["owner"])
    data["tokens"] = [bearer(SECRET, u) for u in data["users"]]
    env = server_env(url, redis_url, SECRET, BENCH_STAFF_USER_ID=str(data["owner"]),
                     BENCH_MERCHANT_ID=str(data["merchant"]), BENCH_POOL_SIZE="32",
                     CORNER_DB_POOL_SIZE="20", CORNER_DB_MAX_OVERFLOW="10")  # fmt: skip
    servers: dict[str, Server] = {}
    try:
        for workers in args.workers:
            servers |= start_pair(
                env, workers, names=(f"corner_{workers}w", f"reference_{workers}w")
            )
        share = len(data["codes"]) // len(targets)
        load: dict[str, list[Call]] = {}
        warm: dict[str, list[Call]] = {}
        for index, name in enumerate(targets):
            mine = calls(data, per_target, data["codes"][index * share : (index + 1) * share], 1)
            warm[name], load[name] = mine[: args.warmup], mine[args.warmup :]
        results = await compare(
            {name: servers[name] for name in targets},
            load,
            rounds=args.rounds,
            connections=args.connections,
            warmup=warm,
        )
    finally:
        stop_all(servers)
    for name in targets:
        emit(phase="run", target=name, connections=args.connections, **results[name])
    for workers in args.workers:
        emit(phase="summary", workers=workers,
             **verdict(results[f"corner_{workers}w"], results[f"reference_{workers}w"],
                       target_ratio=None))  # fmt: skip
    if len(args.workers) > 1:
        one, most = min(args.workers), max(args.workers)

        def speedup(kind: str) -> float:
            fewest = results[f"{kind}_{one}w"]["throughput_rps"]
            return round(results[f"{kind}_{most}w"]["throughput_rps"] / fewest, 2)

        emit(phase="workers", cpus=os.cpu_count(), corner_speedup=speedup("corner"),
             reference_speedup=speedup("reference"))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
