"""The shop page (`GET /v1/shops/{shop_id}/page`): Corner through HTTP vs the raw reference.

    uv run python bench/shop_page.py [--requests 3000] [--rounds 6] [--connections 32]

Sets up its own database (`corner_bench_shop_page` on the embedded cluster, migrated) and,
through Corner's own API in-process, a merchant with the page's shop and a second shop, 20
offerings (5 bookable), 5 published campaigns, 2 programmes (two tiers, a top-up bonus, a
count product) and a signed-in customer holding a card. It then loads the page once in-process
with a statement recorder on the page's connections (core.discovery.recording_statements) and
prints every statement the page runs (no N+1:
tests/api/test_shop_page.py asserts the count does not grow with the counts). The raw
reference (bench/reference.py, `GET /v1/shops/{id}/page`) runs exactly those statements with
those parameters on one psycopg connection as Corner runs them (autocommit, the discovery
connections' settings) and answers their rows as JSON:
the same SQL without the framework (no auth, no dependency solving, no pydantic models).
Both servers take the same signed-in request, alternating rounds of the aiohttp generator
(bench/common.py); the ratio counts only when every answer was a 200.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Call,
    add_profile_options,
    bearer,
    compare,
    emit,
    fresh_database,
    profile_round,
    redis_db,
    server_env,
    service_urls,
    start_pair,
    stop_all,
    verdict,
    wants_profile,
)

DB_NAME = "corner_bench_shop_page"
SECRET = "bench-secret-key-not-for-production"
OFFERINGS, BOOKABLE, CAMPAIGNS, PROGRAMS = 20, 5, 5, 2


def _money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


def _program(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tiers": [
            {"code": "regular", "name": "普通卡", "rank": 0, "discount_percent": 0,
             "earn": {"points_per_currency_unit": 1}},
            {"code": "vip", "name": "贵宾卡", "rank": 1, "discount_percent": 10,
             "earn": {"points_per_currency_unit": 2},
             "upgrade": {"min_spend_12m": _money(100_000)}},
        ],
        "redeem": {"points_per_currency_unit": 100},
        "topup_bonuses": [{"min_amount": _money(50_000), "bonus": _money(5_000)}],
    }  # fmt: skip


async def seed_and_capture(db_url: str, redis_url: str) -> dict[str, Any]:
    """Seed through the API (in-process) and record the page's statements and parameters."""
    import httpx

    from api.app import create_app
    from core.discovery import recording_statements
    from core.settings import Settings

    settings = Settings(
        database_url=db_url,
        redis_url=redis_url,
        secret_key=SECRET,  # type: ignore[arg-type]
        argon2_time_cost=1,
        argon2_memory_kib=512,
    )
    app = create_app(settings)
    now = datetime.now(UTC)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:

            async def ok(method: str, url: str, status: int = 200, **kw: Any) -> Any:
                r = await c.request(method, url, **kw)
                assert r.status_code == status, (url, r.text)
                return r.json() if r.content else None

            async def person(phone: str) -> tuple[str, dict[str, str]]:
                user = await ok("POST", "/v1/auth/register", 201, json={
                    "phone": phone, "password": "bench-pass", "display_name": phone})  # fmt: skip
                return user["id"], bearer(SECRET, user["id"])

            owner_id, owner = await person("13900000001")
            customer_id, customer = await person("13900000002")
            merchant = await ok("POST", "/v1/merchants", 201, json={"name": "Bench 面馆"},
                                headers=owner)  # fmt: skip
            hours = [{"day": d, "open": "08:00", "close": "22:00"} for d in range(7)]
            shops = [
                await ok("POST", f"/v1/merchants/{merchant['id']}/shops", 201, headers=owner,
                         json={"name": f"Bench 店 {i}", "category": "noodles",
                               "location": {"lat": 31.23 + i / 100, "lng": 121.47},
                               "address": f"Bench 路 {i} 号", "opening_hours": hours,
                               "description": "老店", "features": ["wifi"]})
                for i in range(2)
            ]  # fmt: skip
            shop_id = shops[0]["id"]
            for i in range(OFFERINGS):
                await ok("POST", f"/v1/shops/{shop_id}/offerings", 201, headers=owner,
                         json={"name": f"套餐 {i}", "price": _money(1000 + 100 * i),
                               "bookable": i < BOOKABLE, "refund_policy": "anytime"})  # fmt: skip
            for i in range(CAMPAIGNS):
                campaign = await ok(
                    "POST", f"/v1/merchants/{merchant['id']}/campaigns", 201, headers=owner,
                    json={"name": f"立减 {i + 1}",
                          "discount": {"kind": "amount_off", "value": _money(100 * (i + 1))},
                          "valid_from": (now - timedelta(hours=1)).isoformat(),
                          "valid_until": (now + timedelta(days=30)).isoformat(),
                          "per_user_limit": 2},
                )  # fmt: skip
                await ok("POST", f"/v1/campaigns/{campaign['id']}/publish", headers=owner)
                if i == 0:
                    await ok("POST", f"/v1/campaigns/{campaign['id']}/claim", 201,
                             headers=customer)  # fmt: skip
            programs = [
                await ok("POST", f"/v1/merchants/{merchant['id']}/programs", 201, headers=owner,
                         json=_program(f"会员卡 {i}"))
                for i in range(PROGRAMS)
            ]  # fmt: skip
            for program in programs:
                await ok("POST", f"/v1/programs/{program['id']}/count-products", 201,
                         headers=owner, json={"name": "洗剪吹10次卡", "uses": 10,
                                              "price": _money(50_000)})  # fmt: skip
            await ok("POST", f"/v1/programs/{programs[0]['id']}/join", 201, headers=customer)

            page_url = f"/v1/shops/{shop_id}/page"
            await ok("GET", page_url, headers=customer)  # warm: the first load connects
            # the page reads on the discovery pools' psycopg connections: their cursors
            # record every statement it runs, with its parameters
            with recording_statements(app.state.discovery) as recorded:
                page = await ok("GET", page_url, headers=customer)
    assert len(page["offerings"]) == OFFERINGS and len(page["campaigns"]) == CAMPAIGNS
    assert len(page["programs"]) == PROGRAMS and page["programs"][0]["my_card"] is not None
    return {"shop_id": shop_id, "customer_id": customer_id, "owner_id": owner_id,
            "statements": list(recorded)}  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    admin_url, redis_base = service_urls()
    db_url = fresh_database(admin_url, DB_NAME)
    redis_url = redis_db(redis_base, 14)
    data = await seed_and_capture(db_url, redis_url)
    statements = data["statements"]
    emit("shop_page", phase="statements", count=len(statements),
         statements=[" ".join(sql.split()) for sql, _ in statements])  # fmt: skip
    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as handle:
        pickle.dump(statements, handle)
    env = server_env(db_url, redis_url, SECRET, BENCH_SHOP_PAGE_STATEMENTS=handle.name)
    headers = bearer(SECRET, data["customer_id"])
    call = Call("GET", f"/v1/shops/{data['shop_id']}/page")
    servers = start_pair(env)
    try:
        results = await compare(
            servers,
            {name: [call] * args.requests for name in servers},
            rounds=args.rounds,
            connections=args.connections,
            warmup={name: [call] * 200 for name in servers},
            headers=headers,
        )
        for name, result in results.items():
            emit("shop_page", target=name, connections=args.connections, offerings=OFFERINGS,
                 campaigns=CAMPAIGNS, programs=PROGRAMS, **result)  # fmt: skip
        summary = verdict(results["corner"], results["reference"], target_ratio=0.6)
        emit("shop_page", kind="summary", **summary)
        if wants_profile(args, summary):
            calls = [call] * args.profile_requests
            await profile_round("shop_page", servers["corner"], calls, args.connections, headers)
    finally:
        stop_all(servers)
        Path(handle.name).unlink(missing_ok=True)  # noqa: ASYNC240 (once, after the load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="page loads per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=6, help="alternating load rounds")
    add_profile_options(parser)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
