"""Coupon claims: Corner through HTTP vs the raw references, in the same run.

    uv run python bench/claim.py [--count 2000] [--rounds 6] [--connections 32]
        [--reference both|same-sql|floor]

Sets up `corner_bench_claim` (migrated), one merchant with a shop and a published campaign,
and `targets × (count + warm-up)` consumers. Every request is a different consumer claiming
one coupon of the campaign (`POST /v1/campaigns/{id}/claim` with the consumer's bearer
token), so every answer must be a 201. Corner (`corner serve`, one worker: the revocation
EXISTS and the claim rate in Redis, the campaign read and audience check, the campaign's
conditional `handed_out + 1`, the per-user counter, the coupon INSERT, the customer record,
commit) and the references of bench/reference.py take alternating rounds, each its own
consumers: `same-sql` (Corner's statements and Redis commands in Corner's order, without the
framework: what issue 21's target is judged against) and `floor` (the same three writes,
nothing else). Every claim of all targets updates the one campaign row: the row lock orders
them, in each. Prints JSON lines per target and a summary with the ratio against same-sql
(`ratio`, `met`) and against the floor (`floor.ratio`), only when every answer was a 201.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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
    seed_campaign,
    seed_counter,
    server_env,
    service_urls,
    start_servers,
    stop_all,
    verdicts,
    wants_profile,
)

DB_NAME = "corner_bench_claim"
SECRET = "bench-secret-key-for-the-claim-benchmark"


async def run(args: argparse.Namespace) -> None:
    admin_url, redis_base = service_urls()
    url, redis_url = fresh_database(admin_url, DB_NAME), redis_db(redis_base, 61)
    per_target = args.warmup + args.count
    references = REFERENCE_CHOICES[args.reference]
    targets = 1 + len(references)
    with psycopg.connect(url) as conn:
        spare = args.profile_requests if args.profile != "never" else 0
        base = seed_counter(conn, users=targets * per_target + spare)
        campaign = seed_campaign(conn, base)
        conn.execute("ANALYZE")
    path = f"/v1/campaigns/{campaign}/claim"
    env = server_env(url, redis_url, SECRET, BENCH_POOL_SIZE=str(args.connections))
    servers = start_servers(env, references=references)
    try:
        load: dict[str, list[Call]] = {}
        warm: dict[str, list[Call]] = {}
        for index, name in enumerate(servers):
            users = base["users"][index * per_target : (index + 1) * per_target]
            calls = [Call("POST", path, headers=bearer(SECRET, u), expect=201) for u in users]
            warm[name], load[name] = calls[: args.warmup], calls[args.warmup :]
        results = await compare(servers, load, rounds=args.rounds, connections=args.connections,
                                warmup=warm)  # fmt: skip
        for name, result in results.items():
            emit("claim", target=name, connections=args.connections,
                 **reference_kind(references, name), **result)  # fmt: skip
        summary = verdicts(results, references, target_ratio=0.6, p99_factor=2.0)
        if wants_profile(args, summary):
            spare_calls = [Call("POST", path, headers=bearer(SECRET, u), expect=201)
                           for u in base["users"][targets * per_target :]]  # fmt: skip
            await profile_round("claim", servers["corner"], spare_calls, args.connections)
    finally:
        stop_all(servers)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT handed_out, (SELECT count(*) FROM coupons WHERE campaign_id = %s)"
            " FROM coupon_campaigns WHERE id = %s",
            (campaign, campaign),
        ).fetchone()
    assert row is not None
    emit("claim", kind="summary", **summary,
         handed_out=row[0], coupons=row[1], counts_agree=row[0] == row[1])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="claims per target")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=6, help="alternating load rounds")
    add_reference_option(parser)
    add_profile_options(parser)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
