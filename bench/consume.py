"""Order consumption at the counter: Corner through HTTP vs the raw reference, in the same run.

    uv run python bench/consume.py [--count 2000] [--rounds 6] [--connections 32]
        [--reference both|same-sql|floor] [--idempotency-key on|off]

Sets up `corner_bench_consume` (migrated), one merchant with a shop and a clerk, consumers,
and `2 × (count + warm-up)` paid orders (no card, no coupon). Every request consumes a
different order by its typed code (`POST /v1/counter/orders/consume`), so every answer must be
a 200. Corner (`corner serve`, one worker: the order by code, the clerk's role at its
merchant, the shop check, the conditional `UPDATE orders … WHERE status = 'paid'`, the
customer record, the order's view with its items, commit; on the lean asyncpg transaction)
and bench/reference.py (same-sql: the same statements; floor: the conditional UPDATE alone)
take alternating rounds, each its own orders.
Prints JSON lines per target and a summary with the ratio (only when every answer was a 200),
and how many orders the database holds consumed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    REFERENCE_CHOICES,
    Call,
    add_profile_options,
    add_reference_option,
    bearer,
    compare,
    emit,
    fresh_database,
    profile_round,
    redis_db,
    reference_kind,
    seed_counter,
    server_env,
    service_urls,
    start_servers,
    stop_all,
    verdicts,
    wants_profile,
)
from core.ids import new_id  # noqa: E402
from orders.codes import new_code  # noqa: E402

DB_NAME = "corner_bench_consume"
SECRET = "bench-secret-key-for-the-consume-benchmark"
PATH = "/v1/counter/orders/consume"


def seed_orders(conn: psycopg.Connection, base: dict[str, object], count: int) -> list[str]:
    """`count` paid orders of 28.00 at the bench shop, by the seeded consumers; their codes."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(new_code())
    ordered = sorted(codes)
    users = base["users"]
    assert isinstance(users, list)
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO orders (id, merchant_id, shop_id, user_id, code, status, currency,"
        " subtotal, total, expires_at, paid_at, provider)"
        " SELECT o, %s, %s, u, c, 'paid', 'CNY', 2800, 2800, %s, %s, 'fake'"
        " FROM unnest(%s::uuid[], %s::uuid[], %s::text[]) AS t(o, u, c)",
        (base["merchant"], base["shop"], now + timedelta(hours=1), now,
         [new_id() for _ in ordered], [users[i % len(users)] for i in range(count)], ordered),
    )  # fmt: skip
    return ordered


def consume_calls(codes: list[str], shop: str, keyed: bool) -> list[Call]:
    """One consumption per order code, each a new attempt with its own Idempotency-Key when
    `keyed`."""
    return [
        Call("POST", PATH, {"code": c, "shop_id": shop},
             headers={"Idempotency-Key": f"bench-{c}"} if keyed else None, expect=200)
        for c in codes
    ]  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    admin_url, redis_base = service_urls()
    url, redis_url = fresh_database(admin_url, DB_NAME), redis_db(redis_base, 60)
    per_target = args.warmup + args.count
    references = REFERENCE_CHOICES[args.reference]
    targets = 1 + len(references)
    keyed = args.idempotency_key == "on"
    with psycopg.connect(url) as conn:
        base = seed_counter(conn, users=200)
        spare = args.profile_requests if args.profile != "never" else 0
        codes = seed_orders(conn, base, targets * per_target + spare)
        conn.execute("ANALYZE")
    env = server_env(url, redis_url, SECRET, BENCH_STAFF_USER_ID=str(base["owner"]),
                     BENCH_POOL_SIZE=str(args.connections))  # fmt: skip
    servers = start_servers(env, references=references)
    shop = str(base["shop"])
    try:
        load: dict[str, list[Call]] = {}
        warm: dict[str, list[Call]] = {}
        for index, name in enumerate(servers):
            mine = codes[index * per_target : (index + 1) * per_target]
            calls = consume_calls(mine, shop, keyed)
            warm[name], load[name] = calls[: args.warmup], calls[args.warmup :]
        results = await compare(servers, load, rounds=args.rounds, connections=args.connections,
                                warmup=warm, headers=bearer(SECRET, base["owner"]))  # fmt: skip
        for name, result in results.items():
            emit("consume", target=name, connections=args.connections, idempotency_key=keyed,
                 **reference_kind(references, name), **result)  # fmt: skip
        summary = verdicts(results, references, target_ratio=0.6, p99_factor=2.0)
        if wants_profile(args, summary):
            spare_calls = consume_calls(codes[targets * per_target :], shop, keyed)
            await profile_round("consume", servers["corner"], spare_calls, args.connections,
                                bearer(SECRET, base["owner"]))  # fmt: skip
    finally:
        stop_all(servers)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'consumed'), count(*) FROM orders"
        ).fetchone()
    assert row is not None
    emit("consume", kind="summary", **summary, consumed=row[0], orders=row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="orders consumed per target")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=6, help="alternating load rounds")
    parser.add_argument(
        "--idempotency-key",
        choices=["on", "off"],
        default="on",
        help="a fresh Idempotency-Key on every consumption (the console's)",
    )
    add_reference_option(parser)
    add_profile_options(parser)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
