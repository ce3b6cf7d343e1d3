"""The payment callback's common case is one statement without a transaction block
(orders.repository.orders.pay_order_fast): the payment's move, its `applied` event, the order
paid and the customer's `order_paid` record happen together or not at all, whatever runs
beside it. Each test names what it would catch if the statement lost a lock or a join."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text

from bench.reference import create_app as create_reference
from core import payment_records
from core.payments import payment_provider
from core.settings import to_libpq_url
from core.standins.wechatpay import WeChatPayStandin
from core.timezones import utcnow
from tests.core.test_bench_reference import Recorder
from tests.helpers import ApiClient
from tests.orders.helpers import deliver, make_store

WECHAT = {"provider": "wechatpay", "method": "native"}


async def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def wechat_order(client: ApiClient) -> tuple[Any, str, str]:
    store = await make_store(client)
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={"items": [{"offering_id": store.noodles["id"], "quantity": 1}], "payment": WECHAT},
        headers=store.customer.headers,
    )
    assert r.status_code == 201, r.text
    return store, r.json()["id"], r.json()["payment"]["reference"]


async def effects(app: Any, order_id: str, ref: str) -> dict[str, Any]:
    [(order,)] = await rows(app, "SELECT status FROM orders WHERE id = :o", o=order_id)
    [(payment,)] = await rows(app, "SELECT status FROM payments WHERE reference = :r", r=ref)
    events = await rows(app, "SELECT outcome FROM payment_events WHERE reference = :r", r=ref)
    [(paid,)] = await rows(app, "SELECT count(*) FROM customer_events WHERE kind = 'order_paid'"
                           " AND reference_id = :o", o=order_id)  # fmt: skip
    return {"order": order, "payment": payment, "events": sorted(e for (e,) in events),
            "order_paid": paid}  # fmt: skip


async def waiting_for_a_lock(app: Any) -> None:
    """Until a backend of this database waits for a row lock (the callback's statement)."""
    for _ in range(200):
        [(waiting,)] = await rows(app, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                  " current_database() AND wait_event_type = 'Lock'")  # fmt: skip
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the callback never waited for the order's lock")


async def test_concurrent_deliveries_apply_everything_once(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any
) -> None:
    _, order_id, ref = await wechat_order(wclient)
    note = standin.pay(ref)
    assert note is not None
    answers = await asyncio.gather(*(deliver(wclient, note) for _ in range(8)))
    assert {a.status_code for a in answers} == {204}
    assert await effects(wechat_app, order_id, ref) == {
        "order": "paid", "payment": "succeeded", "events": ["applied"] + ["no_change"] * 7,
        "order_paid": 1,
    }  # fmt: skip


async def test_the_statement_writes_nothing_when_the_order_does_not_follow(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any
) -> None:
    """On a pool connection without a transaction block (as the route runs it): an order that
    no longer waits for its payment leaves the payment unmoved and unlogged (a move in a
    statement of its own would stay moved: nothing rolls it back), and the full handler then
    applies the event as late money."""
    _, order_id, ref = await wechat_order(wclient)
    note = standin.pay(ref)
    assert note is not None
    async with wechat_app.state.engine.begin() as conn:
        await conn.execute(text("UPDATE orders SET status = 'expired' WHERE id = :o"),
                           {"o": order_id})  # fmt: skip
    provider = payment_provider(wechat_app.state.settings, "wechatpay")
    assert provider is not None
    now = utcnow()
    event = provider.parse_callback(note.body, note.headers, now)
    async with wechat_app.state.writes.acquire() as connection:
        applied = await payment_records.apply_fast(
            connection, provider=provider, event=event, now=now
        )
    assert applied is False
    assert await effects(wechat_app, order_id, ref) == {
        "order": "expired", "payment": "pending", "events": [], "order_paid": 0,
    }  # fmt: skip
    assert (await deliver(wclient, note)).status_code == 204  # the full handler's way
    after = await effects(wechat_app, order_id, ref)
    assert after["order"] == "expired" and after["order_paid"] == 0


async def test_an_order_expired_while_the_callback_waits_for_its_lock_is_not_paid(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any
) -> None:
    """The expiry job holds the order's row (its transaction not yet committed) when the
    notification arrives: the statement waits for the lock, re-checks the order, finds it no
    longer waiting and moves nothing (read without the lock, the payment would move and the
    order's UPDATE would then find nothing: money recorded for an order never paid)."""
    _, order_id, ref = await wechat_order(wclient)
    note = standin.pay(ref)
    assert note is not None
    url = to_libpq_url(wechat_app.state.settings.database_url)
    async with await psycopg.AsyncConnection.connect(url) as expiry:
        await expiry.execute("UPDATE orders SET status = 'expired' WHERE id = %s", (order_id,))
        delivery = asyncio.create_task(deliver(wclient, note))
        await waiting_for_a_lock(wechat_app)
        assert not delivery.done()
        await expiry.commit()
    assert (await delivery).status_code == 204
    after = await effects(wechat_app, order_id, ref)
    assert after["order"] == "expired" and after["order_paid"] == 0
    assert after["events"].count("applied") <= 1


async def test_the_same_sql_reference_runs_the_callbacks_statement(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """bench/reference.py's same-SQL callback sends PostgreSQL exactly what Corner's route
    sends for a notification (bench/callbacks.py's `same_sql` ratio): if the route gains,
    loses or folds a statement, this fails until the reference follows."""
    settings = wechat_app.state.settings
    monkeypatch.setenv("BENCH_DATABASE_URL", to_libpq_url(settings.database_url))
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("BENCH_POOL_SIZE", "4")
    for name in ("wechatpay_public_key_file", "wechatpay_mchid", "wechatpay_appid"):
        monkeypatch.setenv(f"BENCH_{name.upper()}", str(getattr(settings, name)))
    monkeypatch.setenv("BENCH_WECHATPAY_APIV3_KEY",
                       settings.wechatpay_apiv3_key.get_secret_value())  # fmt: skip
    reference_app = create_reference("same-sql")
    orders = [await wechat_order(wclient) for _ in range(2)]
    notes = [standin.pay(ref) for _, _, ref in orders]
    recorder = Recorder(monkeypatch)
    seen = {}
    async with reference_app.router.lifespan_context(reference_app):
        transport = httpx.ASGITransport(app=reference_app)
        async with ApiClient(transport=transport, base_url="http://ref") as reference:
            for side, http, note in (("corner", wclient, notes[0]),
                                     ("reference", reference, notes[1])):  # fmt: skip
                assert note is not None
                assert (await deliver(http, note)).status_code == 204
                seen[side] = recorder.take()[0]
    assert len(seen["corner"]) == 1  # one statement, no BEGIN/COMMIT around it
    assert [" ".join(sql.split()) for sql in seen["reference"]] == [
        " ".join(sql.split()) for sql in seen["corner"]
    ]
    for _, order_id, ref in orders:
        assert await effects(wechat_app, order_id, ref) == {
            "order": "paid", "payment": "succeeded", "events": ["applied"], "order_paid": 1,
        }  # fmt: skip
