"""Counter redemptions: Corner through HTTP vs the raw reference, in the same run.

    uv run python bench/redeem.py [--count 2000] [--rounds 6] [--connections 32] [--hot-attempts N]
        [--reference both|same-sql|floor] [--idempotency-key on|off]

Sets up its own database (`corner_bench_redeem` on the embedded cluster, migrated), a merchant,
a shop, a clerk, a published campaign and enough distinct coupons, starts Corner (`corner
serve`, one worker) and the raw references of bench/reference.py: `same-sql` (what issue 21's
target is judged against: the revocation EXISTS in Redis, the Idempotency-Key claim, the
coupon + campaign + role + shop lookup, the conditional UPDATE feeding the redemption INSERT,
the customer-activity record, the stored answer: Corner's statements, without the framework)
and `floor` (the conditional UPDATE + redemption INSERT, nothing else), and redeems distinct
coupons on each (each its own) with alternating rounds (see bench/common.py). Every request
carries a fresh Idempotency-Key, as the console's counter sends (`--idempotency-key off`: none,
two statements fewer on both Corner and same-sql). Then it races `--hot-attempts` redemptions
of one hot coupon at each. Prints JSON lines: per target throughput, p50/p99, statuses and the
CPU per request of the server, of PostgreSQL and of the load generator; the summary's ratio
against same-sql (`ratio`, `met`) and against the floor (`floor.ratio`), only when every
answer was a 200; and the double redemptions found in the database (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    REFERENCE_CHOICES,
    Call,
    Tally,
    add_profile_options,
    add_reference_option,
    bearer,
    compare,
    drive,
    emit,
    fresh_database,
    profile_round,
    redis_db,
    reference_kind,
    server_env,
    service_urls,
    start_servers,
    stop_all,
    verdicts,
    wants_profile,
)

DB_NAME = "corner_bench_redeem"
SECRET = "bench-secret-key-not-for-production"
PATH = "/v1/counter/redeem"


# -- setup ------------------------------------------------------------------------------------


async def seed(db_url: str, redis_url: str, coupons_needed: int) -> dict[str, Any]:
    import psycopg

    from accounts import schemas as account_schemas
    from accounts import service as accounts_service
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


def calls(codes_: Sequence[str], shop_id: str, keyed: bool = True) -> list[Call]:
    """One redemption per code, each attempt with its own Idempotency-Key when `keyed` (a
    retry of the same attempt would reuse it; every call here is a new attempt, the hot
    coupon's 200 too)."""
    return [
        Call("POST", PATH, {"code": c, "shop_id": shop_id},
             headers={"Idempotency-Key": f"bench-{i}-{c}"} if keyed else None, expect=200)
        for i, c in enumerate(codes_)
    ]  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    admin_url, redis_base = service_urls()
    db_url = fresh_database(admin_url, DB_NAME)
    redis_url = redis_db(redis_base, 15)
    warmup = 100
    per_target = args.count + warmup + 1
    spare = args.profile_requests if args.profile != "never" else 0
    references = REFERENCE_CHOICES[args.reference]
    targets = 1 + len(references)
    keyed = args.idempotency_key == "on"
    data = await seed(db_url, redis_url, targets * per_target + spare)
    shop_id = data["shop_id"]
    env = server_env(db_url, redis_url, SECRET, BENCH_MERCHANT_ID=data["merchant_id"],
                     BENCH_STAFF_USER_ID=data["staff_id"])  # fmt: skip
    headers = bearer(SECRET, data["staff_id"])
    servers = start_servers(env, references=references)
    try:
        load: dict[str, list[Call]] = {}
        warm: dict[str, list[Call]] = {}
        hot: dict[str, str] = {}
        for index, name in enumerate(servers):
            mine = data["codes"][index * per_target : (index + 1) * per_target]
            warm[name] = calls(mine[:warmup], shop_id, keyed)
            load[name] = calls(mine[warmup:-1], shop_id, keyed)
            hot[name] = mine[-1]
        results = await compare(servers, load, rounds=args.rounds, connections=args.connections,
                                warmup=warm, headers=headers)  # fmt: skip
        for name, result in results.items():
            emit("redeem", target=name, kind="distinct", connections=args.connections,
                 idempotency_key=keyed, **reference_kind(references, name), **result)  # fmt: skip
        for name, server in servers.items():
            race = Tally()
            await drive(server.base, calls([hot[name]] * args.hot_attempts, shop_id), 32, race,
                        headers)  # fmt: skip
            successes = race.statuses.get(200, 0)
            emit("redeem", target=name, kind="hot_coupon", attempts=args.hot_attempts,
                 successes=successes, statuses=dict(race.statuses),
                 double_redemptions=max(0, successes - 1))  # fmt: skip
        summary = verdicts(results, references, target_ratio=0.6, p99_factor=2.0)
        if wants_profile(args, summary):
            spare_codes = data["codes"][targets * per_target :]
            await profile_round("redeem", servers["corner"], calls(spare_codes, shop_id, keyed),
                                args.connections, headers)  # fmt: skip
    finally:
        stop_all(servers)
    emit("redeem", kind="summary", **summary,
         double_redemptions_in_db=double_redemptions(db_url))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="distinct coupons per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--hot-attempts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=6, help="alternating load rounds")
    parser.add_argument(
        "--idempotency-key",
        choices=["on", "off"],
        default="on",
        help="a fresh Idempotency-Key on every redemption (the console's)",
    )
    add_reference_option(parser)
    add_profile_options(parser)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
