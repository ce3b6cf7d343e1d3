"""Durable payments through the fake provider (core/payment_records/): one row per payment,
wrong-amount / replayed / out-of-order callbacks change nothing and are logged, refunds and
closes go through the outbox, once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import text

from core import payment_records
from core.payments import FakePaymentProvider, payment_provider
from core.settings import Settings
from core.timezones import utcnow
from tests.helpers import ApiClient, assert_problem
from tests.orders.conftest import Store, pay, post_callback


def signed(settings: Settings, **payload: Any) -> tuple[bytes, str]:
    body = orjson.dumps(payload)
    return body, FakePaymentProvider(settings.signing_keys()).sign_callback(body)


async def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def test_order_payment_is_recorded_with_the_request_shape(
    client: ApiClient, store: Store, app: Any
) -> None:
    order = await store.order(client, payment={"provider": "fake"})
    payment = order["payment"]
    assert payment["provider"] == "fake" and payment["pay_url"].endswith(payment["reference"])
    assert len(payment["reference"]) <= 32  # WeChat Pay's out_trade_no limit
    [row] = await rows(app, "SELECT kind, amount, currency, status, method FROM payments")
    assert tuple(row) == ("order", 3800, "CNY", "pending", "page")

    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={
            "items": [{"offering_id": store.noodles["id"], "quantity": 1}],
            "payment": {"provider": "wechatpay"},
        },
        headers=store.customer.headers,
    )
    assert_problem(r, 422, "payment_provider_unavailable")  # no WeChat Pay credentials here
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={
            "items": [{"offering_id": store.noodles["id"], "quantity": 1}],
            "payment": {"provider": "fake", "method": "jsapi"},
        },
        headers=store.customer.headers,
    )
    assert_problem(r, 422, "payment_method_unsupported")
    assert len(await rows(app, "SELECT 1 FROM payments")) == 1  # nothing half-written


async def test_wrong_amount_is_refused_logged_and_changes_nothing(
    client: ApiClient, store: Store, test_settings: Settings, app: Any
) -> None:
    order = await store.order(client)
    ref = order["payment"]["reference"]
    for wrong in (
        {"amount": 3799, "currency": "CNY"},
        {"amount": 3800, "currency": "USD"},
    ):
        r = await post_callback(
            client, *signed(test_settings, reference=ref, status="succeeded", **wrong)
        )
        assert_problem(r, 409, "payment_amount_mismatch")
    r = await client.get(f"/v1/orders/{order['id']}", headers=store.customer.headers)
    assert r.json()["status"] == "pending_payment"
    outcomes = await rows(app, "SELECT outcome FROM payment_events WHERE reference = :r", r=ref)
    assert [o for (o,) in outcomes] == ["mismatch", "mismatch"]
    # the right amount is applied
    r = await post_callback(
        client,
        *signed(test_settings, reference=ref, status="succeeded", amount=3800, currency="CNY"),
    )
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text


async def test_replays_duplicates_and_out_of_order_change_nothing(
    client: ApiClient, store: Store, test_settings: Settings, app: Any
) -> None:
    order = await store.order(client)
    ref = order["payment"]["reference"]
    body = signed(test_settings, reference=ref, status="succeeded", amount=3800)
    answers = await asyncio.gather(*(post_callback(client, *body) for _ in range(8)))
    assert {a.status_code for a in answers} == {200}
    # a late "failed" after the success changes nothing
    r = await post_callback(client, *signed(test_settings, reference=ref, status="failed"))
    assert r.status_code == 200 and r.json()["status"] == "paid"
    outcomes = [o for (o,) in await rows(app, "SELECT outcome FROM payment_events")]
    assert outcomes.count("applied") == 1 and outcomes.count("no_change") == 8
    [(status, paid_at)] = await rows(app, "SELECT status, paid_at FROM payments")
    assert status == "succeeded" and paid_at is not None
    activity = await rows(app, "SELECT count(*) FROM customer_events WHERE kind = 'order_paid'")
    assert activity[0][0] == 1  # the customer record learned of it once


async def test_refund_goes_through_the_outbox_once(
    client: ApiClient, store: Store, test_settings: Settings, app: Any
) -> None:
    order = await store.order(client)
    await pay(client, test_settings, order)
    refunds = await asyncio.gather(
        *(
            client.post(f"/v1/orders/{order['id']}/refund", headers=store.manager.headers)
            for _ in range(3)
        )
    )
    assert sorted(r.status_code for r in refunds) == [200, 409, 409]
    calls = await rows(app, "SELECT kind, amount, status, refund_no FROM payment_calls")
    assert [(k, a, s) for k, a, s, _ in calls] == [("refund", 3800, "pending")]
    [(refunded,)] = await rows(app, "SELECT refunded FROM payments")
    assert refunded == 3800

    sent = await payment_records.send_due_calls(app.state.sessionmaker, test_settings)
    assert sent == 1
    assert await payment_records.send_due_calls(app.state.sessionmaker, test_settings) == 0
    [(status, provider_id)] = await rows(
        app, "SELECT status, provider_refund_id FROM payment_calls"
    )
    assert status == "succeeded" and provider_id == "fake-" + calls[0][3]


async def test_late_payment_for_an_expired_order_is_refunded_once(
    client: ApiClient, store: Store, test_settings: Settings, app: Any
) -> None:
    from orders import service

    order = await store.order(client)
    async with app.state.sessionmaker.begin() as session:
        later = utcnow() + timedelta(minutes=test_settings.order_payment_minutes + 1)
        assert await service.expire_due_orders(session, now=later) == 1
    [(status,)] = await rows(app, "SELECT status FROM payments")
    assert status == "closed"  # fake payments have nothing to close at the provider
    assert await rows(app, "SELECT 1 FROM payment_calls") == []
    body = signed(test_settings, reference=order["payment"]["reference"], status="succeeded")
    for _ in range(2):
        r = await post_callback(client, *body)
        assert r.status_code == 200 and r.json()["status"] == "expired"
    calls = await rows(app, "SELECT kind, amount FROM payment_calls")
    assert [tuple(c) for c in calls] == [("refund", 3800)]
    # and the provider is asked once, even when the sender runs again
    reference = order["payment"]["reference"]
    for _ in range(2):
        await payment_records.send_due_calls(app.state.sessionmaker, test_settings)
    provider = payment_provider(test_settings)
    assert isinstance(provider, FakePaymentProvider)
    assert [a for ref, a in provider.refunds.values() if ref == reference] == [3800]


async def test_reconciliation_closes_expired_unpaid_payments(
    client: ApiClient, store: Store, test_settings: Settings, app: Any
) -> None:
    order = await store.order(client)
    later = utcnow() + timedelta(minutes=test_settings.order_payment_minutes + 1)
    done = await payment_records.reconcile_pending(app.state.sessionmaker, test_settings, now=later)
    assert done == 1
    r = await client.get(f"/v1/orders/{order['id']}", headers=store.customer.headers)
    assert r.json()["status"] == "expired"
    [(status,)] = await rows(app, "SELECT status FROM payments")
    assert status == "closed"
    assert (
        await payment_records.reconcile_pending(app.state.sessionmaker, test_settings, now=later)
        == 0
    )
