"""Refunds a buyer can ask for (issue 18 point 7): the offering's `refund_policy` and
`valid_days`, the buyer's `POST /v1/me/orders/{id}/refund`, the automatic refund of expired
`anytime` orders (a job, under a moved clock), each refund sent to the provider once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import payment_records
from core.jobs import JobContext
from core.payments import FakePaymentProvider, payment_provider
from core.settings import Settings
from core.timezones import utcnow
from orders import jobs
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import Store, money, pay


async def _sold(
    client: ApiClient, store: Store, policy: str | None, valid_days: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"套餐 {policy}", "price": money(5000)}
    if policy is not None:
        body["refund_policy"] = policy
    if valid_days is not None:
        body["valid_days"] = valid_days
    r = await client.post(
        f"/v1/shops/{store.shop_id}/offerings", json=body, headers=store.owner.headers
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _paid_order(
    client: ApiClient, store: Store, settings: Settings, *offerings: dict[str, Any]
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={"items": [{"offering_id": o["id"]} for o in offerings]},
        headers=store.customer.headers,
    )
    assert r.status_code == 201, r.text
    return await pay(client, settings, r.json())


def _refund_url(order: dict[str, Any]) -> str:
    return f"/v1/me/orders/{order['id']}/refund"


def _provider_refunds(settings: Settings, reference: str) -> list[int]:
    provider = payment_provider(settings)
    assert isinstance(provider, FakePaymentProvider)
    return [amount for ref, amount in provider.refunds.values() if ref == reference]


async def test_offering_terms_default_and_validation(client: ApiClient, store: Store) -> None:
    # the default is what orders did before policies existed: only the merchant refunds
    assert store.noodles["refund_policy"] == "none" and store.noodles["valid_days"] is None
    url = f"/v1/shops/{store.shop_id}/offerings"
    for bad in ({"refund_policy": "sometimes"}, {"valid_days": 0}, {"valid_days": 3651},
                {"valid_days": "十"}, {"refund_policy": None}):  # fmt: skip
        r = await client.post(
            url, json={"name": "x", "price": money(100), **bad}, headers=store.owner.headers
        )
        assert_problem(r, 422, "validation_error")
    offering = await _sold(client, store, "anytime", 30)
    assert (offering["refund_policy"], offering["valid_days"]) == ("anytime", 30)
    patch_url = f"/v1/offerings/{offering['id']}"
    r = await client.patch(patch_url, json={"refund_policy": None}, headers=store.owner.headers)
    assert_problem(r, 422, "validation_error")
    r = await client.patch(
        patch_url,
        json={"refund_policy": "before_expiry", "valid_days": None},
        headers=store.owner.headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["refund_policy"], r.json()["valid_days"]) == ("before_expiry", None)


async def test_holder_refund_follows_the_terms(
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    anytime = await _sold(client, store, "anytime", 30)
    before = await _sold(client, store, "before_expiry", 7)

    # none (the default): the buyer is refused, the manager still refunds as before
    fixed = await _paid_order(client, store, test_settings, store.noodles)
    assert fixed["refund_policy"] == "none" and fixed["usable_until"] is None
    body = assert_problem(
        await client.post(_refund_url(fixed), headers=store.customer.headers),
        409,
        "refund_not_allowed",
    )
    assert body["refund_policy"] == "none"
    r = await client.post(f"/v1/orders/{fixed['id']}/refund", headers=store.manager.headers)
    assert r.status_code == 200 and r.json()["status"] == "refunded"

    # someone else's order, or an unknown one: not found (no existence leak), even for staff
    order = await _paid_order(client, store, test_settings, anytime)
    assert_problem(await client.post(_refund_url(order), headers=store.manager.headers),
                   404, "order_not_found")  # fmt: skip

    # anytime: the buyer refunds; the provider is asked once, for the total
    paid_at = datetime.fromisoformat(order["paid_at"])
    assert datetime.fromisoformat(order["usable_until"]) == paid_at + timedelta(days=30)
    r = await client.post(_refund_url(order), headers=store.customer.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "refunded" and r.json()["refunded_at"]
    again = await client.post(_refund_url(order), headers=store.customer.headers)
    assert assert_problem(again, 409, "order_transition_invalid")["order_status"] == "refunded"
    # two refunds decided (the manager's and the buyer's): each sent once
    assert await payment_records.send_due_calls(sessionmaker, test_settings) == 2
    assert await payment_records.send_due_calls(sessionmaker, test_settings) == 0
    assert _provider_refunds(test_settings, order["payment"]["reference"]) == [5000]
    assert _provider_refunds(test_settings, fixed["payment"]["reference"]) == [3800]

    # an order mixing terms is sold under the strictest, and the shortest validity
    mixed = await _paid_order(client, store, test_settings, anytime, before)
    assert mixed["refund_policy"] == "before_expiry"
    until = datetime.fromisoformat(mixed["usable_until"])
    assert until == datetime.fromisoformat(mixed["paid_at"]) + timedelta(days=7)
    # before_expiry: refused once the order's validity is over (the clock moved past it) …
    monkeypatch.setattr("orders.routes.orders.utcnow", lambda: until + timedelta(seconds=1))
    body = assert_problem(
        await client.post(_refund_url(mixed), headers=store.customer.headers),
        409,
        "refund_not_allowed",
    )
    assert body["usable_until"] == mixed["usable_until"].replace("Z", "+00:00")
    # … and the counter can no longer consume it either
    consume = f"/v1/counter/orders/{mixed['id']}/consume"
    monkeypatch.setattr("orders.routes.orders.utcnow", lambda: until + timedelta(seconds=1))
    assert_problem(
        await client.post(consume, json={"shop_id": store.shop_id}, headers=store.clerk.headers),
        409,
        "order_validity_over",
    )
    # … while it was valid, the buyer could refund
    monkeypatch.setattr("orders.routes.orders.utcnow", lambda: until - timedelta(seconds=1))
    r = await client.post(_refund_url(mixed), headers=store.customer.headers)
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text

    # a consumed order is not refunded
    eaten = await _paid_order(client, store, test_settings, anytime)
    r = await client.post(
        f"/v1/counter/orders/{eaten['id']}/consume",
        json={"shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert r.status_code == 200, r.text
    body = assert_problem(
        await client.post(_refund_url(eaten), headers=store.customer.headers),
        409,
        "order_transition_invalid",
    )
    assert body["order_status"] == "consumed"


@pytest.mark.parametrize("route", ["by id (ORM session)", "by code (lean transaction)"])
async def test_refund_racing_consume_exactly_one_wins(
    route: str,
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    anytime = await _sold(client, store, "anytime")
    for _ in range(5):
        order = await _paid_order(client, store, test_settings, anytime)
        url, body = f"/v1/counter/orders/{order['id']}/consume", {"shop_id": store.shop_id}
        if route.startswith("by code"):
            url, body = "/v1/counter/orders/consume", body | {"code": order["code"]}
        refund, consume = await asyncio.gather(
            client.post(_refund_url(order), headers=store.customer.headers),
            client.post(url, json=body, headers=store.clerk.headers),
        )
        statuses = sorted([refund.status_code, consume.status_code])
        assert statuses == [200, 409], (refund.text, consume.text)
        final = (
            await client.get(f"/v1/orders/{order['id']}", headers=store.customer.headers)
        ).json()
        winner = refund if refund.status_code == 200 else consume
        assert final["status"] == winner.json()["status"]
        async with sessionmaker() as session:
            calls = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM payment_calls c JOIN payments p"
                        " ON p.id = c.payment_id WHERE p.reference = :ref"
                    ),
                    {"ref": order["payment"]["reference"]},
                )
            ).scalar_one()
        assert calls == (1 if final["status"] == "refunded" else 0)


async def test_expired_anytime_orders_refund_themselves_once(
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    anytime = await _sold(client, store, "anytime", 10)
    before = await _sold(client, store, "before_expiry", 10)
    never = await _sold(client, store, "anytime")  # no end of validity: never refunded by time
    expiring = await _paid_order(client, store, test_settings, anytime)
    forfeited = await _paid_order(client, store, test_settings, before)
    endless = await _paid_order(client, store, test_settings, never)
    consumed = await _paid_order(client, store, test_settings, anytime)
    r = await client.post(
        f"/v1/counter/orders/{consumed['id']}/consume",
        json={"shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert r.status_code == 200, r.text
    ctx = JobContext(test_settings, sessionmaker, redis)

    assert await jobs.refund_expired_orders(ctx) == 0  # nothing has expired yet
    later = utcnow() + timedelta(days=10, minutes=1)
    monkeypatch.setattr("orders.jobs.utcnow", lambda: later)
    # two workers at once: each expired order is refunded by exactly one of them
    done = await asyncio.gather(jobs.refund_expired_orders(ctx), jobs.refund_expired_orders(ctx))
    assert sum(done) == 1
    assert await jobs.refund_expired_orders(ctx) == 0

    async def status(order: dict[str, Any]) -> str:
        got = await client.get(f"/v1/orders/{order['id']}", headers=store.customer.headers)
        return str(got.json()["status"])

    assert await status(expiring) == "refunded"
    assert await status(forfeited) == "paid"  # 过期不退: the merchant keeps it
    assert await status(endless) == "paid"
    assert await status(consumed) == "consumed"
    # the money goes back through the outbox: sent once, however often the sender runs
    assert await payment_records.send_due_calls(sessionmaker, test_settings) == 1
    assert await payment_records.send_due_calls(sessionmaker, test_settings) == 0
    assert _provider_refunds(test_settings, expiring["payment"]["reference"]) == [5000]
    assert _provider_refunds(test_settings, forfeited["payment"]["reference"]) == []
