"""The day close of a busy shop: 10,000 card transactions in the day, read at 8 connections.

    uv run python bench/day_close.py [--transactions 10000] [--connections 8] [--requests 400]

Sets up `corner_bench_day_close` on the embedded cluster (migrated with Alembic): a merchant,
a shop, a programme, a clerk and a card, then `--transactions` ledger entries spread over one
local day (inserted in one statement: a read benchmark, the card's totals are not the point),
plus the same number on the day before (so the indexes have to pick the day). Runs
`orders.service.day_close` — what `GET /v1/shops/{id}/day-close` runs, without HTTP — from
`--connections` concurrent sessions, `--requests` in all, and prints JSON lines: p50/p99 and
throughput, then each statement of a close with its EXPLAIN (ANALYZE) plan summary.
Figures are indicative on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, percentile, redis_db, seed_merchant, service_urls  # noqa: E402

DB_NAME = "corner_bench_day_close"


async def setup(settings: Any, transactions: int, day: date) -> tuple[uuid.UUID, uuid.UUID]:
    from sqlalchemy import text

    from core.database import create_engine, create_sessionmaker
    from merchants import schemas as shop_schemas
    from merchants import service as merchants

    engine = create_engine(settings, pool_size=1, max_overflow=0)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            owner, merchant = await seed_merchant(session, phone="13800008888", name="日结店")
            shop = await merchants.create_shop(
                session,
                merchant_id=merchant.id,
                data=shop_schemas.ShopCreate.model_validate({
                    "name": "总店", "category": "noodles", "address": "上海",
                    "location": {"lat": 31.23, "lng": 121.47}}),
            )  # fmt: skip
            # a programme, a tier and a card to hang the entries on (raw rows: a read bench)
            ids = {k: uuid.uuid4() for k in ("program", "tier", "card")}
            await session.execute(text(
                "INSERT INTO card_programs (id, merchant_id, name, currency,"
                " redeem_points_per_unit, bonus_spend_rule, topup_bonuses)"
                " VALUES (:program, :m, '会员卡', 'CNY', 100, 'principal_first', '[]')"
            ), {"program": ids["program"], "m": merchant.id})  # fmt: skip
            await session.execute(text(
                "INSERT INTO card_tiers (id, program_id, merchant_id, code, name, rank,"
                " discount_percent, earn_points_per_unit)"
                " VALUES (:tier, :program, :m, 'regular', '普通', 0, 0, 1)"
            ), {**ids, "m": merchant.id})  # fmt: skip
            await session.execute(text(
                "INSERT INTO cards (id, program_id, merchant_id, user_id, card_number, tier_id,"
                " currency) VALUES (:card, :program, :m, :u, '8000000000000001', :tier, 'CNY')"
            ), {**ids, "m": merchant.id, "u": owner.id})  # fmt: skip
            start = datetime.combine(day, datetime.min.time()).isoformat() + "+08:00"
            for offset in (0, -1):  # the day, and the day before
                await session.execute(text(
                    "INSERT INTO card_ledger (id, card_id, merchant_id, kind, points_delta,"
                    " principal_delta, bonus_delta, points_after, principal_after, bonus_after,"
                    " currency, amount, paid_amount, spend_delta, shop_id, staff_user_id,"
                    " uses_delta, rule_version, created_at)"
                    " SELECT gen_random_uuid(), :card, :m, (ARRAY['earn','spend_balance',"
                    "'spend_points'])[1 + i % 3], 10, 0, 0, 10 * i, 0, 0, 'CNY', 1000 + i % 97,"
                    " 1000 + i % 97, 1000, :shop, :u, 0, 1,"
                    " CAST(:start AS timestamptz) + make_interval(days => :offset)"
                    " + (i * interval '86399 seconds') / :n"
                    " FROM generate_series(1, :n) AS i"
                ), {**ids, "m": merchant.id, "shop": shop.id, "u": owner.id, "start": start,
                    "offset": offset, "n": transactions})  # fmt: skip
            await session.execute(text("ANALYZE card_ledger"))
            return merchant.id, shop.id
    finally:
        await engine.dispose()


def plan_nodes(node: dict[str, Any]) -> list[str]:
    """Each node of a JSON plan as `Type on table using index`, depth first."""
    label = node["Node Type"]
    if "Relation Name" in node:
        label += f" on {node['Relation Name']}"
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    return [label] + [x for child in node.get("Plans", []) for x in plan_nodes(child)]


async def run(transactions: int, connections: int, requests: int) -> None:
    from sqlalchemy import event

    from core.database import create_engine, create_sessionmaker
    from core.settings import Settings
    from orders import service

    database_url, redis_url = service_urls()
    url = fresh_database(database_url, DB_NAME)
    settings = Settings(database_url=url, redis_url=redis_db(redis_url, 10))
    day = date(2026, 12, 1)
    merchant_id, shop_id = await setup(settings, transactions, day)
    engine = create_engine(settings, pool_size=connections, max_overflow=0)
    sessions = create_sessionmaker(engine)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if len(statements) < 20:
            statements.append((statement, params))

    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            async with sessions() as session:
                started = time.perf_counter()
                close = await service.day_close(
                    session, merchant_id=merchant_id, shop_id=shop_id, day=day
                )
                latencies.append(time.perf_counter() - started)
                assert sum(k.count for k in close.card_transactions) == transactions

    try:
        await worker(3)  # warm up
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(worker(requests // connections) for _ in range(connections)))
        seconds = time.perf_counter() - started
        ordered = sorted(latencies)
        print(json.dumps({
            "bench": "day_close", "transactions_in_day": transactions,
            "connections": connections, "requests": len(ordered),
            "throughput_rps": round(len(ordered) / seconds, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
            "note": "indicative: shared 2-core machine; service call, no HTTP",
        }))  # fmt: skip
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        async with sessions() as session:
            await service.day_close(session, merchant_id=merchant_id, shop_id=shop_id, day=day)
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            for statement, params in statements:
                cursor = driver.cursor()
                await cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
                plan = (await cursor.fetchone())[0][0]
                nodes = plan_nodes(plan["Plan"])
                print(json.dumps({
                    "statement": " ".join(statement.split())[:160],
                    "execution_ms": plan["Execution Time"], "plan": nodes,
                }, ensure_ascii=False))  # fmt: skip
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    asyncio.run(run(args.transactions, args.connections, args.requests))


if __name__ == "__main__":
    main()
