"""Counter purchase transactions over distinct cards: Corner vs the raw references, same run.

    uv run python bench/card_tx.py [--requests 3000] [--rounds 6] [--connections 32]
        [--mixed-ops 2000] [--reference both|same-sql|floor] [--idempotency-key on|off]

Sets up `corner_bench_card_tx` on the embedded cluster (migrated with Alembic), seeds one
merchant, a shop, a clerk, a two-tier program and enough cards that every purchase hits a
different card, then runs Corner (`corner serve`, one worker) and the raw references of
bench/reference.py on free loopback ports: `same-sql` (what issue 21's target is judged
against: the revocation EXISTS in Redis, the Idempotency-Key claim, the card + programme +
tier + role + shop statement, the totals UPDATE feeding the ledger INSERT, the tier upgrade
when reached, the customer-activity record, the stored answer: Corner's statements, without
the framework) and `floor` (card read, conditional card UPDATE, ledger INSERT: nothing else).
The same aiohttp generator loads them in alternating rounds (bench/common.py), each on its
own cards, the same amounts; every purchase carries a fresh Idempotency-Key, as the
console's counter sends (`--idempotency-key off`: none, two statements fewer on Corner and
same-sql). Prints JSON lines: per target throughput, p50/p99, statuses and CPU per request
(server, PostgreSQL, load generator), the summary's ratio against same-sql (`ratio`, `met`)
and against the floor (`floor.ratio`), only when every answer was a 201; and the ledger
invariant check after a concurrent mixed workload on Corner (purchases, point and balance
spends with PINs, count-card uses, adjustments) on a few hot cards. The issue's full sizes:
--requests 10000 --mixed-ops 10000.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from argon2 import PasswordHasher

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
    seed_counter,
    server_env,
    service_urls,
    start_servers,
    stop_all,
    verdicts,
    wants_profile,
)
from core.ids import new_id  # noqa: E402
from memberships.cardnumbers import new_card_number  # noqa: E402

DB_NAME = "corner_bench_card_tx"
SECRET = "bench-secret-key-for-the-card-tx-benchmark"
PIN = "135790"
PASS_USES = 30  # per hot card: 10,000 mixed ops use some up (then 409 count_pass_exhausted)


def seed(url: str, cards: int, mixed_cards: int) -> dict[str, Any]:
    program_id, regular, vip = new_id(), new_id(), new_id()
    pin_hash = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PIN)
    total = cards + mixed_cards
    numbers: set[str] = set()
    while len(numbers) < total:
        numbers.add(new_card_number())
    card_numbers = sorted(numbers)
    random.shuffle(card_numbers)
    card_ids = [new_id() for _ in range(total)]
    with psycopg.connect(url) as conn:
        base = seed_counter(conn, users=total)
        staff_id, merchant_id, shop_id = base["owner"], base["merchant"], base["shop"]
        user_ids = base["users"]
        conn.execute(
            "INSERT INTO card_programs (id, merchant_id, name, redeem_points_per_unit,"
            " bonus_spend_rule, topup_bonuses) VALUES (%s, %s, 'bench', 100, 'proportional', '[]')",
            (program_id, merchant_id),
        )
        conn.execute(
            "INSERT INTO card_tiers (id, program_id, merchant_id, code, name, rank,"
            " discount_percent, earn_points_per_unit, upgrade_min_spend_12m) VALUES"
            " (%s, %s, %s, 'regular', '普通卡', 0, 0, 1, NULL),"
            " (%s, %s, %s, 'vip', '贵宾卡', 1, 10, 2, 100000000000)",
            (regular, program_id, merchant_id, vip, program_id, merchant_id),
        )
        conn.execute(
            "INSERT INTO cards (id, program_id, merchant_id, user_id, card_number, tier_id,"
            " currency, pin_hash)"
            " SELECT c, %s, %s, u, n, %s, 'CNY', %s"
            " FROM unnest(%s::uuid[], %s::uuid[], %s::text[]) AS t(c, u, n)",
            (program_id, merchant_id, regular, pin_hash, card_ids, user_ids, card_numbers),
        )
        # the hot cards of the mixed workload start with stored value, through the ledger
        hot = card_ids[cards:]
        conn.execute(
            "UPDATE cards SET principal = 100000 WHERE id = ANY(%s::uuid[])",
            (hot,),
        )
        conn.execute(
            "INSERT INTO card_ledger (id, card_id, merchant_id, kind, points_delta,"
            " principal_delta, bonus_delta, points_after, principal_after, bonus_after, currency,"
            " spend_delta, rule_version) SELECT gen_random_uuid(), c, %s, 'topup', 0, 100000, 0,"
            " 0, 100000, 0, 'CNY', 0, 1 FROM unnest(%s::uuid[]) AS t(c)",
            (merchant_id, hot),
        )
        # each hot card holds a paid count card (次卡), also through the ledger
        product_id = new_id()
        conn.execute(
            "INSERT INTO card_count_products (id, program_id, merchant_id, name, uses, price,"
            " currency) VALUES (%s, %s, %s, 'bench 次卡', %s, 40000, 'CNY')",
            (product_id, program_id, merchant_id, PASS_USES),
        )
        pass_ids = [new_id() for _ in hot]
        conn.execute(
            "INSERT INTO card_count_passes (id, card_id, merchant_id, user_id, product_id, name,"
            " uses_total, uses_left, price, currency, status, provider, provider_reference,"
            " activated_at)"
            " SELECT p, c.id, c.merchant_id, c.user_id, %s, 'bench 次卡', %s, %s, 40000, 'CNY',"
            " 'active', 'fake', 'cnt_' || replace(p::text, '-', ''), now()"
            " FROM unnest(%s::uuid[], %s::uuid[]) AS t(p, cid) JOIN cards c ON c.id = t.cid",
            (product_id, PASS_USES, PASS_USES, pass_ids, hot),
        )
        conn.execute(
            "INSERT INTO card_ledger (id, card_id, merchant_id, kind, points_delta,"
            " principal_delta, bonus_delta, points_after, principal_after, bonus_after, currency,"
            " spend_delta, count_pass_id, uses_delta, uses_after, rule_version)"
            " SELECT gen_random_uuid(), c.id, %s, 'count_purchase', 0, 0, 0, c.points,"
            " c.principal, c.bonus, 'CNY', 0, p, %s, %s, 1"
            " FROM unnest(%s::uuid[], %s::uuid[]) AS t(p, cid) JOIN cards c ON c.id = t.cid",
            (merchant_id, PASS_USES, PASS_USES, pass_ids, hot),
        )
        # joining a program makes the holder the merchant's customer (record_activity); the
        # cards above were seeded directly, so their customer records are seeded too
        conn.execute(
            "INSERT INTO customers (id, merchant_id, user_id, first_seen_at, last_activity_at,"
            " source, tier, name, phone)"
            " SELECT gen_random_uuid(), c.merchant_id, c.user_id, now(), now(), 'card_joined',"
            " 'regular', u.display_name, u.phone FROM cards c JOIN users u ON u.id = c.user_id",
        )
        conn.execute("ANALYZE")
    return {
        "staff_id": staff_id,
        "shop_id": str(shop_id),
        "numbers": card_numbers[:cards],
        "hot_numbers": card_numbers[cards:],
        "hot_ids": [str(c) for c in card_ids[cards:]],
        "hot_passes": [str(p) for p in pass_ids],
    }


def purchase_bodies(numbers: list[str], shop_id: str, seed_: int) -> list[dict[str, Any]]:
    rng = random.Random(seed_)
    return [
        {
            "card": n,
            "shop_id": shop_id,
            "kind": "purchase",
            "amount": {"amount": rng.randint(100, 50_000), "currency": "CNY"},
        }
        for n in numbers
    ]


def purchase_calls(
    bodies: list[dict[str, Any]], numbers: list[str], keys: str | None
) -> list[Call]:
    """A purchase of each body on the card of the same rank; with `keys`, each a new attempt
    with its own Idempotency-Key (`keys`-i: a retry of one would reuse it)."""
    return [
        Call("POST", "/v1/counter/transactions", {**body, "card": number},
             headers={"Idempotency-Key": f"{keys}-{i}"} if keys else None, expect=201)
        for i, (body, number) in enumerate(zip(bodies, numbers, strict=False))
    ]  # fmt: skip


def mixed_bodies(
    numbers: list[str], passes: list[str], shop_id: str, ops: int
) -> list[dict[str, Any]]:
    rng = random.Random(7)
    bodies = []
    for _ in range(ops):
        index, roll = rng.randrange(len(numbers)), rng.random()
        body: dict[str, Any] = {"card": numbers[index], "shop_id": shop_id}
        if roll < 0.15:
            body |= {"kind": "count_use", "pass_id": passes[index]}
        elif roll < 0.45:
            body |= {"kind": "purchase", "amount": {"amount": rng.randint(100, 20_000)}}
        elif roll < 0.7:
            body |= {"kind": "spend_points", "points": rng.randint(1, 200), "pin": PIN}
        else:
            body |= {"kind": "spend_balance", "amount": {"amount": rng.randint(1, 8_000)}}
            body["pin"] = PIN
        bodies.append(body)
    return bodies


def mixed_calls(bodies: list[dict[str, Any]], hot_ids: list[str], rng: random.Random) -> list[Call]:
    """The mixed workload's requests: the bodies as counter transactions, and one in ten a
    manager's adjustment (up or down) of a hot card instead; refusals (insufficient points or
    balance, an exhausted count card) are expected, only the ledger check decides."""
    calls = []
    for body in bodies:
        if rng.random() < 0.1:
            adjustment = {"points_delta": rng.randint(-100, 100) or 1, "note": "bench"}
            path = f"/v1/cards/{rng.choice(hot_ids)}/adjustments"
            calls.append(Call("POST", path, adjustment, expect=201, label="adjustment"))
        else:
            label = body["kind"]
            calls.append(Call("POST", "/v1/counter/transactions", body, expect=201, label=label))
    return calls


INVARIANT_SQL = """
SELECT
  (SELECT count(*) FROM cards c LEFT JOIN (
      SELECT card_id, sum(points_delta) p, sum(principal_delta) pr, sum(bonus_delta) b
      FROM card_ledger GROUP BY card_id) l ON l.card_id = c.id
   WHERE c.points <> coalesce(l.p, 0) OR c.principal <> coalesce(l.pr, 0)
      OR c.bonus <> coalesce(l.b, 0)) AS totals_mismatch,
  (SELECT count(*) FROM (
      SELECT points_after, principal_after, bonus_after,
        sum(points_delta) OVER w AS p, sum(principal_delta) OVER w AS pr,
        sum(bonus_delta) OVER w AS b
      FROM card_ledger WINDOW w AS (PARTITION BY card_id ORDER BY seq)) r
   WHERE points_after <> p OR principal_after <> pr OR bonus_after <> b) AS running_mismatch,
  (SELECT count(*) FROM card_ledger
   WHERE points_after < 0 OR principal_after < 0 OR bonus_after < 0) AS negative,
  (SELECT count(*) FROM card_ledger) AS entries,
  (SELECT count(*) FROM card_count_passes p LEFT JOIN (
      SELECT count_pass_id, sum(uses_delta) u FROM card_ledger
      WHERE count_pass_id IS NOT NULL GROUP BY count_pass_id) l ON l.count_pass_id = p.id
   WHERE p.uses_left <> coalesce(l.u, 0)) AS uses_mismatch,
  (SELECT count(*) FROM (
      SELECT uses_after, sum(uses_delta) OVER w AS u FROM card_ledger
      WHERE count_pass_id IS NOT NULL WINDOW w AS (PARTITION BY count_pass_id ORDER BY seq)) r
   WHERE uses_after <> u OR uses_after < 0) AS running_uses_mismatch,
  (SELECT count(*) FROM card_ledger WHERE kind = 'count_use') AS count_uses
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--mixed-ops", type=int, default=2000)
    parser.add_argument("--mixed-cards", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=6, help="alternating load rounds")
    parser.add_argument(
        "--idempotency-key",
        choices=["on", "off"],
        default="on",
        help="a fresh Idempotency-Key on every purchase (the console's)",
    )
    add_reference_option(parser)
    add_profile_options(parser)
    args = parser.parse_args()

    admin_url, redis_url = service_urls()
    url, redis_url = fresh_database(admin_url, DB_NAME), redis_db(redis_url, 63)
    per_target = args.warmup + args.requests
    references = REFERENCE_CHOICES[args.reference]
    keyed = args.idempotency_key == "on"
    targets = 1 + len(references)
    data = seed(url, targets * per_target, args.mixed_cards)
    headers = bearer(SECRET, data["staff_id"])
    env = server_env(url, redis_url, SECRET, BENCH_STAFF_USER_ID=str(data["staff_id"]),
                     CORNER_DB_POOL_SIZE=str(args.connections), CORNER_DB_MAX_OVERFLOW="8",
                     BENCH_POOL_SIZE=str(args.connections))  # fmt: skip
    amounts = purchase_bodies(data["numbers"][:per_target], data["shop_id"], 1)
    servers = start_servers(env, references=references)
    try:
        load: dict[str, list[Call]] = {}
        warm: dict[str, list[Call]] = {}
        for index, name in enumerate(servers):
            numbers = data["numbers"][index * per_target : (index + 1) * per_target]
            # each target its own cards, the same amounts in the same order; each purchase
            # a new attempt with its own key (a retry of one would reuse it)
            calls = purchase_calls(amounts, numbers, f"bench-{name}" if keyed else None)
            warm[name], load[name] = calls[: args.warmup], calls[args.warmup :]
        results = await compare(servers, load, rounds=args.rounds, connections=args.connections,
                                warmup=warm, headers=headers)  # fmt: skip
        for name, result in results.items():
            emit("card_tx", target=name, kind="purchase", connections=args.connections,
                 idempotency_key=keyed, **reference_kind(references, name), **result)  # fmt: skip
        summary = verdicts(results, references, target_ratio=0.6, p99_factor=2.0)
        if wants_profile(args, summary):  # purchases again on the same cards: all still 201
            again = purchase_calls(amounts[args.warmup :], data["numbers"][args.warmup :],
                                   "bench-profile" if keyed else None)  # fmt: skip
            await profile_round("card_tx", servers["corner"], again[: args.profile_requests],
                                args.connections, headers)  # fmt: skip
        started = time.perf_counter()
        bodies = mixed_bodies(data["hot_numbers"], data["hot_passes"], data["shop_id"],
                              args.mixed_ops)  # fmt: skip
        outcome = Tally()
        calls = mixed_calls(bodies, data["hot_ids"], random.Random(8))
        await drive(servers["corner"].base, calls, args.connections, outcome, headers)
        mixed_seconds = time.perf_counter() - started
    finally:
        stop_all(servers)
    emit("card_tx", kind="summary", **summary)

    with psycopg.connect(url) as conn:
        row = conn.execute(INVARIANT_SQL).fetchone()
    assert row is not None
    emit("card_tx",
        check="ledger_invariant_after_mixed_workload",
        operations=args.mixed_ops, cards=args.mixed_cards,
        seconds=round(mixed_seconds, 2), outcomes=outcome.summary().get("routes"),
        totals_mismatch=row[0], running_total_mismatch=row[1], negative_totals=row[2],
        ledger_entries=row[3], count_uses=row[6], uses_mismatch=row[4],
        running_uses_mismatch=row[5],
        holds=row[0] == row[1] == row[2] == row[4] == row[5] == 0,
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
