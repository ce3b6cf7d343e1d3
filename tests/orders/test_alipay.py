"""Alipay through the real `python-alipay-sdk` against the local stand-in
(core/standins/alipay.py): precreate QR, page and app payments, RSA2-verified notifications
answered `success`, refusals, refunds and their notifications, query, failures and timeouts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from sqlalchemy import text

from core import payment_records
from core.settings import Settings
from core.standins.alipay import AlipayKeys, AlipayStandin
from core.timezones import utcnow
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import Store, make_store

ALIPAY = {"provider": "alipay", "method": "precreate"}


async def rows(app: Any, sql: str) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())


async def order(client: ApiClient, store: Store, payment: dict[str, Any] = ALIPAY) -> Any:
    return await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={"items": [{"offering_id": store.noodles["id"], "quantity": 1}], "payment": payment},
        headers=store.customer.headers,
    )


async def notify(client: ApiClient, body: bytes) -> httpx.Response:
    return await client.post(
        "/v1/payments/alipay/callback",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


async def status_of(client: ApiClient, store: Store, order_id: str) -> str:
    r = await client.get(f"/v1/orders/{order_id}", headers=store.customer.headers)
    return str(r.json()["status"])


async def test_precreate_qr_paid_end_to_end_and_replayed(
    wclient: ApiClient, alipay: AlipayStandin, wechat_app: Any
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store)
    assert r.status_code == 201, r.text
    payment = r.json()["payment"]
    assert payment["code_url"].startswith("https://qr.alipay.com/")
    trade = alipay.trades[payment["reference"]]
    assert trade["total_amount"] == "38.00"
    assert trade["notify_url"].endswith("/v1/payments/alipay/callback")
    body = alipay.pay(payment["reference"])
    assert body is not None
    for _ in range(3):
        answer = await notify(wclient, body)
        assert answer.status_code == 200 and answer.text == "success"
    assert await status_of(wclient, store, r.json()["id"]) == "paid"
    outcomes = [o for (o,) in await rows(wechat_app, "SELECT outcome FROM payment_events")]
    assert outcomes == ["applied", "no_change", "no_change"]


async def test_page_and_app_payments_are_signed_requests(
    wclient: ApiClient, alipay: AlipayStandin
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store, {"provider": "alipay", "method": "page"})
    assert r.status_code == 201, r.text
    pay_url = r.json()["payment"]["pay_url"]
    async with httpx.AsyncClient() as browser:  # the customer's browser goes to the gateway
        page = await browser.get(pay_url)
        assert page.status_code == 200 and "38.00" in page.text, page.text
        tampered = pay_url.replace("38.00", "0.01")
        refused = await browser.get(tampered)
        assert "isv.invalid-signature" in refused.text
    r = await order(wclient, store, {"provider": "alipay", "method": "app"})
    order_string = r.json()["payment"]["app"]["order_string"]
    assert dict(parse_qsl(order_string))["method"] == "alipay.trade.app.pay"
    assert alipay.check_request(dict(parse_qsl(order_string))) is None


async def test_forged_tampered_and_wrong_amount_notifications_change_nothing(
    wclient: ApiClient, alipay: AlipayStandin, wechat_app: Any
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store)
    ref = r.json()["payment"]["reference"]
    body = alipay.pay(ref)
    assert body is not None
    params = dict(parse_qsl(body.decode()))
    tampered = urlencode(params | {"total_amount": "0.01"}).encode()
    forger = AlipayStandin(AlipayKeys.generate())
    forger.keys.app_id = alipay.keys.app_id
    forged = forger.notification(alipay.trades[ref])
    unsigned = urlencode({k: v for k, v in params.items() if k != "sign"}).encode()
    for bad in (tampered, forged, unsigned, b"%%%"):
        answer = await notify(wclient, bad)
        assert answer.status_code == 401 and answer.text == "fail"
    cheap = alipay.notification(alipay.trades[ref] | {"total_amount": "0.01"})
    answer = await notify(wclient, cheap)
    assert answer.status_code == 409 and answer.text == "fail"
    assert await status_of(wclient, store, r.json()["id"]) == "pending_payment"
    outcomes = [o for (o,) in await rows(wechat_app, "SELECT outcome FROM payment_events")]
    assert outcomes == ["rejected"] * 4 + ["mismatch"]


async def test_refund_once_and_its_notification(
    wclient: ApiClient, alipay: AlipayStandin, wechat_app: Any, wechat_settings: Settings
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store)
    ref = r.json()["payment"]["reference"]
    body = alipay.pay(ref)
    assert body is not None and (await notify(wclient, body)).text == "success"
    refund = await wclient.post(
        f"/v1/orders/{r.json()['id']}/refund", headers=store.manager.headers
    )
    assert refund.status_code == 200
    sessions = wechat_app.state.sessionmaker
    assert await payment_records.send_due_calls(sessions, wechat_settings) == 1
    [(refund_no, status)] = await rows(wechat_app, "SELECT refund_no, status FROM payment_calls")
    assert status == "succeeded" and alipay.refunds == {(ref, refund_no): "38.00"}
    _, refund_note = alipay.outbox[-1]
    assert dict(parse_qsl(refund_note.decode()))["out_biz_no"] == refund_no
    answer = await notify(wclient, refund_note)
    assert answer.text == "success"
    # the same refund number again (a sender that died before recording): no money moves
    from core.payments import payment_provider

    provider = payment_provider(wechat_settings, "alipay")
    assert provider is not None
    again = await provider.refund(
        reference=ref, refund_no=refund_no, amount=3800, total=3800, currency="CNY", reason="x"
    )
    assert again.status == "succeeded" and alipay.trades[ref]["refunded"] == 38


async def test_failure_timeout_and_lost_callback(
    wclient: ApiClient, alipay: AlipayStandin, wechat_app: Any, wechat_settings: Settings
) -> None:
    store = await make_store(wclient)
    alipay.fail_next.append(502)
    assert_problem(await order(wclient, store), 502, "payment_provider_failed")
    alipay.delay_seconds = 3.0
    assert_problem(await order(wclient, store), 502, "payment_provider_failed")
    alipay.delay_seconds = 0.0
    assert await rows(wechat_app, "SELECT 1 FROM payments") == []
    r = await order(wclient, store)
    assert alipay.pay(r.json()["payment"]["reference"]) is not None  # notification lost
    soon = utcnow() + timedelta(minutes=wechat_settings.payment_query_minutes + 1)
    sessions = wechat_app.state.sessionmaker
    assert await payment_records.reconcile_pending(sessions, wechat_settings, now=soon) == 1
    assert await status_of(wclient, store, r.json()["id"]) == "paid"
    unpaid = await order(wclient, store)
    late = utcnow() + timedelta(minutes=wechat_settings.order_payment_minutes + 1)
    assert await payment_records.reconcile_pending(sessions, wechat_settings, now=late) == 1
    assert await payment_records.send_due_calls(sessions, wechat_settings) == 1
    assert alipay.trades[unpaid.json()["payment"]["reference"]]["status"] == "TRADE_CLOSED"
