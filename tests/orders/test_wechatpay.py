"""WeChat Pay API v3 through the real `wechatpayv3` SDK against the local stand-in
(core/standins/wechatpay.py): Native/JSAPI/App, signed encrypted notifications, refusals of
tampered, old, foreign-key and wrong-amount callbacks, refunds and their notifications, the
reconciliation job, failures and timeouts of the provider."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import text

from core import payment_records
from core.settings import Settings
from core.standins.wechatpay import WeChatPayKeys, WeChatPayStandin
from core.timezones import utcnow
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import Store, deliver, make_store

WECHAT = {"provider": "wechatpay", "method": "native"}


async def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def order(client: ApiClient, store: Store, payment: dict[str, Any] = WECHAT) -> Any:
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={"items": [{"offering_id": store.noodles["id"], "quantity": 1}], "payment": payment},
        headers=store.customer.headers,
    )
    return r


async def status_of(client: ApiClient, store: Store, order_id: str) -> str:
    r = await client.get(f"/v1/orders/{order_id}", headers=store.customer.headers)
    return str(r.json()["status"])


async def test_native_payment_end_to_end_and_replay(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store)
    assert r.status_code == 201, r.text
    payment = r.json()["payment"]
    assert payment["provider"] == "wechatpay" and payment["code_url"].startswith("weixin://")
    ref = payment["reference"]
    assert standin.transactions[ref]["amount"] == {"total": 3800, "currency": "CNY"}
    assert standin.transactions[ref]["notify_url"].endswith("/v1/payments/wechatpay/callback")

    note = standin.pay(ref)
    assert note is not None
    answer = await deliver(wclient, note)
    assert answer.status_code == 204 and answer.content == b""
    assert await status_of(wclient, store, r.json()["id"]) == "paid"
    for _ in range(2):  # WeChat Pay delivers again when unsure: nothing changes twice
        assert (await deliver(wclient, note)).status_code == 204
    outcomes = [o for (o,) in await rows(wechat_app, "SELECT outcome FROM payment_events")]
    assert outcomes == ["applied", "no_change", "no_change"]
    [(tx_id,)] = await rows(wechat_app, "SELECT provider_transaction_id FROM payments")
    assert tx_id == standin.transactions[ref]["transaction_id"]


async def test_jsapi_and_app_answers_are_signed_for_the_client(
    wclient: ApiClient, standin: WeChatPayStandin
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store, {"provider": "wechatpay", "method": "jsapi"})
    assert_problem(r, 422, "payment_method_unsupported")  # JSAPI needs the payer's openid
    r = await order(wclient, store, {"provider": "wechatpay", "method": "jsapi", "openid": "o-1"})
    assert r.status_code == 201, r.text
    jsapi = r.json()["payment"]["jsapi"]
    assert jsapi["package"] == "prepay_id=" + r.json()["payment"]["prepay_id"]
    message = "\n".join([jsapi["appId"], jsapi["timeStamp"], jsapi["nonceStr"], jsapi["package"]])
    standin.keys.merchant_key.public_key().verify(
        base64.b64decode(jsapi["paySign"]), (message + "\n").encode(), padding.PKCS1v15(),
        hashes.SHA256(),
    )  # fmt: skip
    assert standin.transactions[r.json()["payment"]["reference"]]["openid"] == "o-1"
    r = await order(wclient, store, {"provider": "wechatpay", "method": "app"})
    assert r.status_code == 201, r.text
    app = r.json()["payment"]["app"]
    assert app["prepayid"] == r.json()["payment"]["prepay_id"] and app["partnerid"] == "1900000109"
    r = await order(wclient, store, {"provider": "wechatpay", "method": "page"})
    assert_problem(r, 422, "payment_method_unsupported")


async def test_tampered_old_and_foreign_callbacks_are_refused(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store)
    ref = r.json()["payment"]["reference"]
    note = standin.pay(ref)
    assert note is not None
    body = orjson.loads(note.body)
    body["event_type"] = "TRANSACTION.SUCCESS "  # one byte changed
    tampered = orjson.dumps(body)
    old = standin.notification(
        "TRANSACTION.SUCCESS", standin.transaction_view(standin.transactions[ref]),
        url=note.url, timestamp=int(time.time()) - 600,
    )  # fmt: skip
    foreign = WeChatPayStandin(WeChatPayKeys.generate())
    foreign.keys.public_key_id = standin.keys.public_key_id  # same key id, another key
    forged = foreign.notification(
        "TRANSACTION.SUCCESS", standin.transaction_view(standin.transactions[ref]), url=note.url
    )
    for answer in (
        await deliver(wclient, note, body=tampered),
        await deliver(wclient, old),
        await deliver(wclient, forged),
        await deliver(wclient, note, headers={"Wechatpay-Serial": "PUB_KEY_ID_OTHER"}),
        await deliver(wclient, note, headers={"Wechatpay-Signature-Type": "HMAC-SHA256"}),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "FAIL"
    assert await status_of(wclient, store, r.json()["id"]) == "pending_payment"
    outcomes = [o for (o,) in await rows(wechat_app, "SELECT outcome FROM payment_events")]
    assert outcomes == ["rejected"] * 5
    assert (await deliver(wclient, note)).status_code == 204  # the genuine one still works


async def test_wrong_amount_or_merchant_is_refused_and_logged(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store)
    ref = r.json()["payment"]["reference"]
    standin.pay(ref)
    view = standin.transaction_view(standin.transactions[ref])
    cheap = standin.notification(
        "TRANSACTION.SUCCESS", view | {"amount": {"total": 1, "currency": "CNY"}}, url=""
    )
    answer = await deliver(wclient, cheap)
    assert answer.status_code == 409 and answer.json()["code"] == "FAIL"
    other_merchant = standin.notification("TRANSACTION.SUCCESS", view | {"mchid": "1"}, url="")
    assert (await deliver(wclient, other_merchant)).status_code == 401
    assert await status_of(wclient, store, r.json()["id"]) == "pending_payment"
    logged = await rows(
        wechat_app, "SELECT outcome, detail FROM payment_events ORDER BY created_at"
    )
    assert [o for o, _ in logged] == ["mismatch", "rejected"]
    assert logged[0][1]["amount"] == 1


async def test_refund_and_its_notification(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any, wechat_settings: Settings
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store)
    ref = r.json()["payment"]["reference"]
    note = standin.pay(ref)
    assert note is not None and (await deliver(wclient, note)).status_code == 204
    refund = await wclient.post(
        f"/v1/orders/{r.json()['id']}/refund", headers=store.manager.headers
    )
    assert refund.status_code == 200 and refund.json()["status"] == "refunded"
    assert standin.refunds == {}  # nothing is sent before the commit: the outbox does it
    sessions = wechat_app.state.sessionmaker
    assert await payment_records.send_due_calls(sessions, wechat_settings) == 1
    [(refund_no, status)] = await rows(wechat_app, "SELECT refund_no, status FROM payment_calls")
    assert status == "sent" and standin.refunds[refund_no]["amount"]["refund"] == 3800
    refund_note = standin.finish_refund(refund_no)
    assert refund_note is not None
    for _ in range(2):
        assert (await deliver(wclient, refund_note)).status_code == 204
    [(status,)] = await rows(wechat_app, "SELECT status FROM payment_calls")
    assert status == "succeeded"
    outcomes = [o for (o,) in await rows(wechat_app, "SELECT outcome FROM payment_events")]
    assert outcomes == ["applied", "refund_applied", "no_change"]


async def test_provider_failure_and_timeout_leave_nothing(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any
) -> None:
    store = await make_store(wclient)
    standin.fail_next.append(500)
    assert_problem(await order(wclient, store), 502, "payment_provider_failed")
    standin.delay_seconds = 3.0  # past the 2 s client timeout
    assert_problem(await order(wclient, store), 502, "payment_provider_failed")
    standin.delay_seconds = 0.0
    assert await rows(wechat_app, "SELECT 1 FROM payments") == []
    assert await rows(wechat_app, "SELECT 1 FROM orders") == []
    r = await order(wclient, store)
    assert r.status_code == 201


async def test_refund_failures_are_retried_with_the_same_refund_number(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any, wechat_settings: Settings
) -> None:
    store = await make_store(wclient)
    r = await order(wclient, store)
    note = standin.pay(r.json()["payment"]["reference"])
    assert note is not None and (await deliver(wclient, note)).status_code == 204
    await wclient.post(f"/v1/orders/{r.json()['id']}/refund", headers=store.manager.headers)
    sessions = wechat_app.state.sessionmaker
    standin.fail_next.append(503)
    assert await payment_records.send_due_calls(sessions, wechat_settings) == 0
    [(attempts, error)] = await rows(wechat_app, "SELECT attempts, last_error FROM payment_calls")
    assert attempts == 1 and "503" in error
    later = utcnow() + timedelta(minutes=5)
    sent = await payment_records.send_due_calls(sessions, wechat_settings, clock=lambda: later)
    assert sent == 1 and len(standin.refunds) == 1


async def test_reconciliation_finds_lost_callbacks_and_closes_expired(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any, wechat_settings: Settings
) -> None:
    store = await make_store(wclient)
    paid = await order(wclient, store)
    unpaid = await order(wclient, store)
    assert standin.pay(paid.json()["payment"]["reference"]) is not None  # callback lost
    sessions = wechat_app.state.sessionmaker
    soon = utcnow() + timedelta(minutes=wechat_settings.payment_query_minutes + 1)
    assert await payment_records.reconcile_pending(sessions, wechat_settings, now=soon) == 1
    assert await status_of(wclient, store, paid.json()["id"]) == "paid"
    assert await status_of(wclient, store, unpaid.json()["id"]) == "pending_payment"
    late = utcnow() + timedelta(minutes=wechat_settings.order_payment_minutes + 1)
    assert await payment_records.reconcile_pending(sessions, wechat_settings, now=late) == 1
    assert await status_of(wclient, store, unpaid.json()["id"]) == "expired"
    assert await payment_records.send_due_calls(sessions, wechat_settings) == 1
    assert standin.transactions[unpaid.json()["payment"]["reference"]]["trade_state"] == "CLOSED"


async def test_the_standin_refuses_a_wrong_merchant_key_and_the_sdk_a_wrong_platform_key(
    wclient: ApiClient,
    standin: WeChatPayStandin,
    wechat_settings: Settings,
    tmp_path: Path,
) -> None:
    from core.payments import ProviderError
    from core.providers.wechatpay import WeChatPayProvider

    impostor = WeChatPayKeys.generate()
    files = impostor.write(tmp_path / "impostor")
    wrong_merchant_key = WeChatPayProvider(
        wechat_settings.model_copy(
            update={"wechatpay_private_key_file": Path(files["wechatpay_private_key_file"])}
        )
    )
    with pytest.raises(ProviderError) as refused:
        await wrong_merchant_key.query(reference="ord_nothing")
    assert "401" in str(refused.value)
    assert standin.refused[-1].startswith("SIGN_ERROR: signature does not verify")
    wrong_platform_key = WeChatPayProvider(
        wechat_settings.model_copy(
            update={"wechatpay_public_key_file": Path(files["wechatpay_public_key_file"])}
        )
    )
    with pytest.raises(ProviderError, match="answer refused"):
        await wrong_platform_key.create_payment(
            reference="ord_x123456", amount=1, currency="CNY", description="x", method="native",
            openid=None, expires_at=None,
        )  # fmt: skip


async def test_a_coupon_order_paid_through_wechat_pay_redeems_its_coupon_once(
    wclient: ApiClient, standin: WeChatPayStandin, wechat_app: Any
) -> None:
    """An order with a coupon leaves the callback's common path (the redemption runs on the
    ORM): what the common path wrote is rolled back and the full handler applies it, once."""
    from tests.coupons.helpers import Shopfront, claim, published_campaign

    store = await make_store(wclient)
    front = Shopfront(store.owner, store.merchant_id, store.shop_id, store.clerk)
    coupon = await claim(wclient, (await published_campaign(wclient, front))["id"], store.customer)
    r = await wclient.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={"items": [{"offering_id": store.noodles["id"], "quantity": 2}],
              "coupon_code": coupon["code"], "payment": WECHAT},
        headers=store.customer.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    ref = r.json()["payment"]["reference"]
    note = standin.pay(ref)
    assert note is not None
    for _ in range(2):  # the notification, then its replay
        assert (await deliver(wclient, note)).status_code == 204
    assert await status_of(wclient, store, r.json()["id"]) == "paid"
    outcomes = await rows(wechat_app, "SELECT outcome FROM payment_events WHERE reference = :r "
                          "ORDER BY created_at", r=ref)  # fmt: skip
    assert [o for (o,) in outcomes] == ["applied", "no_change"]
    redeemed = await rows(wechat_app, "SELECT count(*) FROM coupon_redemptions WHERE coupon_id ="
                          " :c AND reversed_at IS NULL", c=coupon["id"])  # fmt: skip
    assert redeemed == [(1,)]
    paid = await rows(wechat_app, "SELECT count(*) FROM customer_events WHERE kind = 'order_paid'"
                      " AND reference_id = :o", o=r.json()["id"])  # fmt: skip
    assert paid == [(1,)]
