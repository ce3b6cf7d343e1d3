"""The counter's consumption by code (`POST /v1/counter/orders/consume`) on the lean asyncpg
transaction (issue 21): the card's credit, the customer record and the Idempotency-Key's record
in that one transaction, no ORM session and no psycopg statement; a refusal leaves nothing
written (not even the key's claim); a replay answers the first answer; concurrent
consumptions of one card order have one winner and credit the card once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from tests.helpers import ApiClient, assert_problem, create_shop
from tests.memberships.helpers import program_body
from tests.orders.helpers import Store, join_card, money, pay

CONSUME = "/v1/counter/orders/consume"


async def _card_moving_up(client: ApiClient, store: Store) -> dict[str, Any]:
    """The customer's card of a programme whose second tier starts at 30.00 of spend: one
    38.00 order consumed moves the card up."""
    tiers = program_body()["tiers"]
    tiers[1]["upgrade"] = {"min_spend_12m": money(3000)}
    return await join_card(client, store, tiers=tiers)


async def _rows(
    sessionmaker: async_sessionmaker[AsyncSession], sql: str, **params: Any
) -> list[Any]:
    async with sessionmaker() as session:
        return list((await session.execute(text(sql), params)).all())


async def _written_for(
    sessionmaker: async_sessionmaker[AsyncSession], order_id: str, key: str
) -> dict[str, Any]:
    """What a consumption writes: the order's state, its customer events, the key's record,
    the card ledger's entries naming the order."""
    order = await _rows(
        sessionmaker,
        "SELECT status, consumed_at, earn_entry_id, points_earned FROM orders WHERE id = :id",
        id=uuid.UUID(order_id),
    )
    events = await _rows(
        sessionmaker,
        "SELECT kind FROM customer_events WHERE reference_id = :id AND kind = 'order_consumed'",
        id=uuid.UUID(order_id),
    )
    keys = await _rows(sessionmaker, "SELECT scope FROM idempotency_keys WHERE key = :k", k=key)
    return {"order": tuple(order[0]), "events": len(events), "keys": len(keys)}


async def test_card_order_consumed_by_code_on_the_lean_transaction(
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    card = await _card_moving_up(client, store)
    order = await pay(client, test_settings, await store.order(client, card_id=card["id"]))
    key = {"Idempotency-Key": f"consume-{order['id']}"}
    body = {"code": order["code_display"].lower(), "shop_id": store.shop_id}

    # the route runs no statement through psycopg (the ORM session's driver): only the lean
    # transaction's asyncpg connection
    psycopg_execute = psycopg.AsyncCursor.execute

    async def refused(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
        raise AssertionError(f"a psycopg statement on the lean route: {query}")

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", refused)
    first = await client.post(CONSUME, json=body, headers=store.clerk.headers | key)
    replay = await client.post(CONSUME, json=body, headers=store.clerk.headers | key)
    monkeypatch.setattr(psycopg.AsyncCursor, "execute", psycopg_execute)

    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["status"] == "consumed" and answer["consumed_shop_id"] == store.shop_id
    # paid 38.00 - 0% (regular tier) = 38.00 → 38 points at 1 per yuan
    assert answer["card"]["points_earned"] == 38
    assert "Idempotent-Replayed" not in first.headers
    # the replay is the stored answer, nothing run twice
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == answer

    written = await _written_for(sessionmaker, order["id"], key["Idempotency-Key"])
    status, consumed_at, entry_id, points = written["order"]
    assert status == "consumed" and consumed_at is not None and points == 38
    assert written["events"] == 1 and written["keys"] == 1
    ledger = await _rows(
        sessionmaker,
        "SELECT id, kind, points_delta FROM card_ledger WHERE card_id = :card AND kind = 'earn'",
        card=uuid.UUID(card["id"]),
    )
    assert [(row[0], row[2]) for row in ledger] == [(entry_id, 38)]
    # the purchase moved the card up a tier: the card and the customer record say so
    got = await client.get(f"/v1/cards/{card['id']}", headers=store.customer.headers)
    assert got.json()["points"] == 38 and got.json()["tier"]["code"] == "vip"
    tiers = await _rows(
        sessionmaker,
        "SELECT tier FROM customers WHERE merchant_id = :m AND user_id = :u",
        m=uuid.UUID(store.merchant_id),
        u=uuid.UUID(store.customer.user_id),
    )
    assert tiers == [("vip",)]


async def test_refusals_write_nothing_not_even_the_key(
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    paid = await pay(client, test_settings, await store.order(client))
    unpaid = await store.order(client)
    expired = await pay(client, test_settings, await store.order(client))
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE orders SET usable_until = now() - interval '1 minute' WHERE id = :id"),
            {"id": uuid.UUID(expired["id"])},
        )
    other = await client.register()
    other_merchant = await client.merchant(other, name="别家")
    other_shop = await create_shop(client, other, other_merchant["id"], name="别家店")
    english = {"Accept-Language": "en"}
    cases = [
        # another merchant's staff: not found, like an order that does not exist
        (paid, store.shop_id, other.headers, 404, "order_not_found"),
        # the merchant's staff at another merchant's shop
        (paid, other_shop["id"], store.clerk.headers, 404, "shop_not_found"),
        (unpaid, store.shop_id, store.clerk.headers, 409, "order_transition_invalid"),
        (expired, store.shop_id, store.clerk.headers | english, 409, "order_validity_over"),
    ]
    for n, (order, shop_id, headers, status, code) in enumerate(cases):
        key = f"refused-{n}-{order['id']}"
        before = await _written_for(sessionmaker, order["id"], key)
        r = await client.post(
            CONSUME,
            json={"code": order["code"], "shop_id": shop_id},
            headers=headers | {"Idempotency-Key": key},
        )
        problem = assert_problem(r, status, code)
        assert await _written_for(sessionmaker, order["id"], key) == before
        assert before["keys"] == 0 and before["events"] == 0
        if code == "order_validity_over":
            assert problem["usable_until"] and problem["detail"].startswith("This order was valid")

    # the refused attempt's key was rolled back with it: the same key, now for another body,
    # runs (a kept claim would answer idempotency_key_reused)
    reused = f"refused-0-{paid['id']}"
    r = await client.post(
        CONSUME,
        json={"code": paid["code"], "shop_id": store.shop_id},
        headers=store.clerk.headers | {"Idempotency-Key": reused},
    )
    assert r.status_code == 200, r.text
    assert (await _written_for(sessionmaker, paid["id"], reused))["keys"] == 1
    # consumed: another attempt is refused, with when and where, in the reader's language
    key = f"again-{paid['id']}"
    r = await client.post(
        CONSUME,
        json={"code": paid["code"], "shop_id": store.shop_id},
        headers=store.manager.headers | {"Idempotency-Key": key},
    )
    problem = assert_problem(r, 409, "order_already_consumed")
    assert problem["consumed_at"] and problem["shop_id"] == store.shop_id
    assert "已于" in problem["detail"]
    written = await _written_for(sessionmaker, paid["id"], key)
    assert written["keys"] == 0 and written["events"] == 1
    # the same key and body again is refused again (nothing was stored to replay)
    r = await client.post(
        CONSUME,
        json={"code": paid["code"], "shop_id": store.shop_id},
        headers=store.manager.headers | {"Idempotency-Key": key},
    )
    assert_problem(r, 409, "order_already_consumed")
    assert "Idempotent-Replayed" not in r.headers


async def test_concurrent_consumptions_of_a_card_order_credit_it_once(
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    card = await _card_moving_up(client, store)
    order = await pay(client, test_settings, await store.order(client, card_id=card["id"]))
    staff = [store.clerk, store.manager, store.owner] * 3

    async def consume(n: int) -> Any:
        return await client.post(
            CONSUME,
            json={"code": order["code"], "shop_id": store.shop_id},
            headers=staff[n].headers | {"Idempotency-Key": f"race-{n}-{order['id']}"},
        )

    answers = await asyncio.gather(*(consume(n) for n in range(len(staff))))
    won = [a for a in answers if a.status_code == 200]
    assert len(won) == 1, [a.text for a in answers]
    for lost in answers:
        if lost.status_code != 200:
            assert_problem(lost, 409, "order_already_consumed")
    ledger = await _rows(
        sessionmaker,
        "SELECT points_delta FROM card_ledger WHERE card_id = :card AND kind = 'earn'",
        card=uuid.UUID(card["id"]),
    )
    assert ledger == [(38,)]
    events = await _rows(
        sessionmaker,
        "SELECT count(*) FROM customer_events WHERE reference_id = :id AND kind = 'order_consumed'",
        id=uuid.UUID(order["id"]),
    )
    assert events == [(1,)]
    keys = await _rows(
        sessionmaker, "SELECT count(*) FROM idempotency_keys WHERE key LIKE :k", k="race-%"
    )
    assert keys == [(1,)]
