"""Issue 17, findings 2 and 3: lockouts hold under a real parallel burst.

A real server (uvicorn in its own process) receives 40 wrong passwords or PINs at once over
HTTP. Every evaluated wrong guess adds one to the failure count in Redis, so that count is the
number of guesses that were checked: before the fix it reached 17 to 40 (the count was read
before the check and raised after it), now it stops at the limit, and the right secret sent
afterwards is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from core.settings import Settings
from memberships.service.pins import MAX_PIN_FAILURES
from tests.hardening.helpers import build_world, money
from tests.helpers import ApiClient, assert_problem
from tests.live import live_server

BURST = 40


@pytest.fixture(scope="module")
def server(test_settings: Settings) -> Iterator[str]:
    # the per-IP limit is raised so that only the per-account/per-card limits are measured
    with live_server(test_settings, env={"CORNER_LOGIN_MAX_ATTEMPTS_PER_IP": "1000"}) as base:
        yield base


async def test_parallel_wrong_passwords_are_evaluated_at_most_n_times(
    client: ApiClient, redis: Redis, server: str, test_settings: Settings
) -> None:
    actor = await client.register(password="right-password")
    limit = test_settings.login_max_failures_per_account
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:

        def attempt(password: str) -> Coroutine[Any, Any, httpx.Response]:
            return http.post("/v1/auth/token", data={"username": actor.phone, "password": password})

        burst = await asyncio.gather(*(attempt(f"wrong-{i}") for i in range(BURST)))
        statuses = [r.status_code for r in burst]
        assert set(statuses) <= {401, 429}, statuses
        assert statuses.count(401) <= limit, statuses
        evaluated = int(await redis.get(f"login:fail:{actor.phone}") or 0)
        assert evaluated == limit, f"{evaluated} wrong passwords were checked"

        r = await attempt("right-password")
        assert_problem(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) > 0


async def test_parallel_wrong_pins_are_evaluated_at_most_five_times(
    client: ApiClient, redis: Redis, server: str
) -> None:
    w = await build_world(client)
    card_id, shop = w.ids["card_id"], w.ids["shop_id"]
    before = (await client.get(f"/v1/cards/{card_id}", headers=w.consumer.headers)).json()
    assert before["points"] > 0

    def spend(pin: str) -> dict[str, object]:
        return {"card": w.card_number, "shop_id": shop, "kind": "spend_points",
                "points": 1, "pin": pin}  # fmt: skip

    async with httpx.AsyncClient(base_url=server, timeout=60, headers=w.clerk.headers) as http:
        burst = await asyncio.gather(
            *(http.post("/v1/counter/transactions", json=spend(f"{i:06d}")) for i in range(BURST))
        )
        codes = [r.json()["code"] for r in burst]
        assert set(codes) <= {"card_pin_invalid", "card_pin_locked"}, codes
        assert codes.count("card_pin_invalid") == MAX_PIN_FAILURES - 1, codes
        evaluated = int(await redis.get(f"card_pin_failures:{card_id}") or 0)
        assert evaluated == MAX_PIN_FAILURES, f"{evaluated} wrong PINs were checked"

        r = await http.post("/v1/counter/transactions", json=spend("135790"))
        body = assert_problem(r, 423, "card_pin_locked")
        assert body["retry_after"] > 0
    after = (await client.get(f"/v1/cards/{card_id}", headers=w.consumer.headers)).json()
    assert after["points"] == before["points"]


async def test_parallel_right_pins_all_pass(client: ApiClient, server: str) -> None:
    """Right PINs give their slot back: a burst of them is not mistaken for guessing."""
    w = await build_world(client)
    card_id = w.ids["card_id"]
    before = (await client.get(f"/v1/cards/{card_id}", headers=w.consumer.headers)).json()
    body = {"card": w.card_number, "shop_id": w.ids["shop_id"], "kind": "purchase",
            "amount": money(100_000)}  # fmt: skip
    r = await client.post("/v1/counter/transactions", json=body, headers=w.clerk.headers)
    assert r.status_code == 201, r.text
    spend = {**body, "kind": "spend_points", "points": 1, "pin": "135790"}
    spend.pop("amount")
    async with httpx.AsyncClient(base_url=server, timeout=60, headers=w.clerk.headers) as http:
        burst = await asyncio.gather(
            *(http.post("/v1/counter/transactions", json=spend) for _ in range(12))
        )
    assert [r.status_code for r in burst] == [201] * 12, [r.text for r in burst]
    after = (await client.get(f"/v1/cards/{card_id}", headers=w.consumer.headers)).json()
    assert after["points"] == r.json()["card"]["points"] - 12
    assert after["points"] > before["points"]
