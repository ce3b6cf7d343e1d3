"""Orders: price snapshot, payment callbacks, the state machine, refunds, consumption."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import timedelta

import zxingcpp
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import payment_records
from core.payments import FakePaymentProvider, payment_provider
from core.settings import Settings
from core.signing import sign
from core.timezones import utcnow
from orders import codes, service, states
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import Store, callback, money, pay, post_callback


async def test_order_snapshot_idempotency_and_listing(client: ApiClient, store: Store) -> None:
    url = f"/v1/shops/{store.shop_id}/orders"
    body = {
        "items": [
            {"offering_id": store.noodles["id"], "quantity": 2},
            {"offering_id": store.haircut["id"]},
        ]
    }
    headers = {**store.customer.headers, "Idempotency-Key": "o-1"}
    r = await client.post(url, json=body, headers=headers)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending_payment" and order["kind"] == "order"
    assert [
        (i["name"], i["quantity"], i["unit_price"], i["line_total"]) for i in order["items"]
    ] == [("牛肉面", 2, money(3800), money(7600)), ("洗剪吹", 1, money(8800), money(8800))]
    assert order["subtotal"] == money(16_400) and order["total"] == money(16_400)
    assert order["discount"] == money(0) and order["name"] == "牛肉面 ×2 +1"
    assert order["payment"]["provider"] == "fake" and order["payment"]["pay_url"]
    assert codes.is_valid(order["code"]) and order["code_display"].count("-") == 2

    again = await client.post(url, json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == order["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = {"items": [{"offering_id": store.noodles["id"]}]}
    assert_problem(
        await client.post(url, json=other, headers=headers), 409, "idempotency_key_reused"
    )

    # a price change later does not touch the snapshot
    r = await client.patch(f"/v1/offerings/{store.noodles['id']}", json={"price": money(4500)},
                           headers=store.owner.headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["price"] == money(4500), r.text
    got = (await client.get(f"/v1/orders/{order['id']}", headers=store.customer.headers)).json()
    assert got["total"] == money(16_400)
    assert got["items"][0]["unit_price"] == money(3800)
    assert got["items"][0]["line_total"] == money(7600)
    clerk_view = await client.get(f"/v1/orders/{order['id']}", headers=store.clerk.headers)
    assert clerk_view.status_code == 200
    mine = (
        await client.get("/v1/me/orders", params={"limit": 1}, headers=store.customer.headers)
    ).json()
    assert [o["id"] for o in mine["items"]] == [order["id"]] and mine["next_cursor"] is None


async def test_order_refusals(client: ApiClient, store: Store) -> None:
    url = f"/v1/shops/{store.shop_id}/orders"
    h = store.customer.headers
    other_owner = await client.register()
    other = await client.merchant(other_owner, name="别家")
    from tests.helpers import create_shop
    from tests.orders.helpers import offering

    foreign_shop = await create_shop(client, other_owner, other["id"])
    foreign = await offering(client, other_owner, foreign_shop["id"], "别家面", 1000)
    r = await client.post(url, json={"items": [{"offering_id": foreign["id"]}]}, headers=h)
    assert_problem(r, 422, "offering_not_available")
    r = await client.post(url, json={"items": [{"offering_id": str(uuid.uuid4())}]}, headers=h)
    assert_problem(r, 404, "offering_not_found")
    r = await client.post(url, json={"items": []}, headers=h)
    assert_problem(r, 422, "validation_error")
    r = await client.post(
        url, json={"items": [{"offering_id": store.noodles["id"], "quantity": 0}]}, headers=h
    )
    assert_problem(r, 422, "validation_error")
    r = await client.post(
        url, json={"items": [{"offering_id": store.noodles["id"]}], "use_points": 5}, headers=h
    )
    assert_problem(r, 422, "validation_error")
    r = await client.post(url, json={"items": [{"offering_id": store.noodles["id"]}]})
    assert r.status_code == 401
    # public-service places never sell
    bank = await create_shop(
        client, store.owner, store.merchant_id, name="银行", discovery_only=True
    )
    r = await client.post(
        f"/v1/shops/{bank['id']}/orders",
        json={"items": [{"offering_id": store.noodles["id"]}]},
        headers=h,
    )
    assert_problem(r, 409, "shop_discovery_only")


async def test_callback_signature_replay_and_activity(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    order = await store.order(client)
    body, signature = callback(test_settings, order["payment"]["reference"])
    tampered = body.replace(b"succeeded", b"succeeded ")
    assert_problem(
        await post_callback(client, tampered, signature), 401, "payment_signature_invalid"
    )
    assert_problem(
        await post_callback(client, body, signature[:-2] + "00"), 401, "payment_signature_invalid"
    )
    assert_problem(await post_callback(client, body, ""), 401, "payment_signature_invalid")
    unknown, unknown_sig = callback(test_settings, "ord_" + uuid.uuid4().hex)
    assert_problem(await post_callback(client, unknown, unknown_sig), 404, "payment_not_found")
    still = (await client.get(f"/v1/orders/{order['id']}", headers=store.customer.headers)).json()
    assert still["status"] == "pending_payment"

    results = await asyncio.gather(*(post_callback(client, body, signature) for _ in range(4)))
    assert all(r.status_code == 200 and r.json()["status"] == "paid" for r in results), [
        r.text for r in results
    ]
    paid_at = {r.json()["paid_at"] for r in results}
    assert len(paid_at) == 1  # paid once; the replays only report it
    # the customer record learned of the payment exactly once
    customers = (
        await client.get(
            f"/v1/merchants/{store.merchant_id}/customers", headers=store.owner.headers
        )
    ).json()["items"]
    assert len(customers) == 1
    profile = (
        await client.get(
            f"/v1/merchants/{store.merchant_id}/customers/{customers[0]['id']}",
            headers=store.owner.headers,
        )
    ).json()
    kinds = [e["kind"] for e in profile["timeline"]]
    assert kinds.count("order_paid") == 1


async def test_failed_payment_cancels(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    order = await store.order(client)
    r = await post_callback(
        client, *callback(test_settings, order["payment"]["reference"], "failed")
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    # a success arriving after the order closed is refunded, not applied
    r = await post_callback(client, *callback(test_settings, order["payment"]["reference"]))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


async def test_state_machine_refusals(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    order = await store.order(client)
    oid = order["id"]
    consume = f"/v1/counter/orders/{oid}/consume"
    shop = {"shop_id": store.shop_id}
    r = await client.post(consume, json=shop, headers=store.clerk.headers)
    assert_problem(r, 409, "order_transition_invalid")
    r = await client.post(f"/v1/orders/{oid}/refund", headers=store.manager.headers)
    assert_problem(r, 409, "order_transition_invalid")
    await pay(client, test_settings, order)
    r = await client.post(f"/v1/orders/{oid}/cancel", headers=store.customer.headers)
    body = assert_problem(r, 409, "order_transition_invalid")
    assert body["order_status"] == "paid"
    # refunds are the merchant's, from manager up
    assert_problem(
        await client.post(f"/v1/orders/{oid}/refund", headers=store.customer.headers),
        403,
        "forbidden",
    )
    assert_problem(
        await client.post(f"/v1/orders/{oid}/refund", headers=store.clerk.headers), 403, "forbidden"
    )
    r = await client.post(consume, json=shop, headers=store.clerk.headers)
    assert r.status_code == 200 and r.json()["status"] == "consumed"
    r = await client.post(f"/v1/orders/{oid}/refund", headers=store.manager.headers)
    assert_problem(r, 409, "order_transition_invalid")

    second = await store.order(client)
    r = await client.post(f"/v1/orders/{second['id']}/cancel", headers=store.clerk.headers)
    assert_problem(r, 403, "forbidden")
    r = await client.post(f"/v1/orders/{second['id']}/cancel", headers=store.customer.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["closed_at"]
    r = await client.post(f"/v1/orders/{second['id']}/cancel", headers=store.customer.headers)
    assert_problem(r, 409, "order_transition_invalid")
    # a late success for a cancelled order changes nothing
    r = await post_callback(client, *callback(test_settings, second["payment"]["reference"]))
    assert r.json()["status"] == "cancelled"

    third = await store.order(client)
    await pay(client, test_settings, third)
    r = await client.post(f"/v1/orders/{third['id']}/refund", headers=store.manager.headers)
    assert r.status_code == 200 and r.json()["status"] == "refunded" and r.json()["refunded_at"]
    r = await client.post(
        f"/v1/counter/orders/{third['id']}/consume", json=shop, headers=store.clerk.headers
    )
    assert_problem(r, 409, "order_transition_invalid")


def test_transition_table() -> None:
    assert states.can_move("pending_payment", "paid")
    assert not states.can_move("pending_payment", "consumed")
    assert not states.can_move("paid", "cancelled") and not states.can_move("paid", "expired")
    assert not states.can_move("consumed", "refunded")
    assert states.TERMINAL == {"consumed", "refunded", "expired", "cancelled"}
    assert set(states.sources_of("refunded")) == {"paid"}


async def test_double_consume_exactly_once(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    order = await pay(client, test_settings, await store.order(client))
    url = f"/v1/counter/orders/{order['id']}/consume"
    results = await asyncio.gather(
        *(
            client.post(url, json={"shop_id": store.shop_id}, headers=store.clerk.headers)
            for _ in range(8)
        )
    )
    ok = [r for r in results if r.status_code == 200]
    assert len(ok) == 1, [r.text for r in results]
    for r in results:
        if r.status_code != 200:
            body = assert_problem(r, 409, "order_already_consumed")
            assert body["consumed_at"] and body["shop_id"] == store.shop_id
    # an idempotent retry of the winner's request replays its answer
    key = {"Idempotency-Key": "consume-1"}
    second = await pay(client, test_settings, await store.order(client))
    url2 = f"/v1/counter/orders/{second['id']}/consume"
    first = await client.post(
        url2, json={"shop_id": store.shop_id}, headers={**store.clerk.headers, **key}
    )
    retry = await client.post(
        url2, json={"shop_id": store.shop_id}, headers={**store.clerk.headers, **key}
    )
    assert first.status_code == retry.status_code == 200
    assert retry.json()["consumed_at"] == first.json()["consumed_at"]
    # the customer record counts one visit and the spend per consumed order
    customers = (
        await client.get(
            f"/v1/merchants/{store.merchant_id}/customers", headers=store.owner.headers
        )
    ).json()["items"]
    assert customers[0]["visits"] == 2 and customers[0]["total_spend"] == money(7600)


async def test_consume_by_code_and_qr_and_lookup(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    order = await pay(client, test_settings, await store.order(client))
    stranger = await client.register()
    qr_url = f"/v1/orders/{order['id']}/qr.png?size=300"
    assert_problem(await client.get(qr_url, headers=stranger.headers), 404, "order_not_found")
    assert_problem(await client.get(qr_url, headers=store.clerk.headers), 404, "order_not_found")
    r = await client.get(qr_url, headers=store.customer.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.content)).convert("L"))
    payload = decoded[0].text
    assert codes.code_from_qr(payload, test_settings.signing_keys()) == order["code"]

    forged = sign({"t": "ord", "c": order["code"]}, [("k1", b"not-the-server-key")])
    coupon_like = sign({"t": "cpn", "c": order["code"]}, test_settings.signing_keys())
    for bad in (forged, coupon_like, payload[:-2], "garbage"):
        r = await client.post(
            "/v1/counter/orders/consume",
            json={"qr": bad, "shop_id": store.shop_id},
            headers=store.clerk.headers,
        )
        assert_problem(r, 422, "qr_invalid")
    typo = order["code"][:-1] + ("0" if order["code"][-1] != "0" else "1")
    r = await client.post(
        "/v1/counter/orders/consume",
        json={"code": typo, "shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert_problem(r, 422, "order_code_invalid")

    look = await client.post(
        "/v1/counter/orders/lookup",
        json={"code": order["code_display"].lower(), "shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert look.status_code == 200, look.text
    assert look.json()["kind"] == "order" and look.json()["consumable"] is True
    assert look.json()["order"]["total"] == money(3800)
    # another merchant's staff learn nothing
    other_owner = await client.register()
    await client.merchant(other_owner, name="别家")
    r = await client.post(
        "/v1/counter/orders/lookup",
        json={"qr": payload, "shop_id": store.shop_id},
        headers=other_owner.headers,
    )
    assert_problem(r, 404, "order_not_found")

    r = await client.post(
        "/v1/counter/orders/consume",
        json={"qr": payload, "shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "consumed"
    r = await client.post(
        "/v1/counter/orders/consume",
        json={"code": order["code"], "shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert_problem(r, 409, "order_already_consumed")
    look = await client.post(
        "/v1/counter/orders/lookup",
        json={"qr": payload, "shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert look.json()["consumable"] is False
    assert look.json()["refusal"]["code"] == "order_already_consumed"

    # a verified review can cite the consumed order; someone else's order cannot
    r = await client.post(
        f"/v1/shops/{store.shop_id}/reviews",
        json={"rating": 5, "order_id": order["id"]},
        headers=store.customer.headers,
    )
    assert r.status_code == 201 and r.json()["verified"] is True, r.text
    r = await client.post(
        f"/v1/shops/{store.shop_id}/reviews",
        json={"rating": 1, "order_id": order["id"]},
        headers=stranger.headers,
    )
    assert r.status_code == 201 and r.json()["verified"] is False


async def test_expiry_job_and_late_payment(
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    order = await store.order(client)
    fresh = await store.order(client)
    later = utcnow() + timedelta(minutes=test_settings.order_payment_minutes, seconds=1)
    async with sessionmaker.begin() as session:
        assert await service.expire_due_orders(session, now=utcnow()) == 0
        assert await service.expire_due_orders(session, now=later) == 2
    async with sessionmaker.begin() as session:
        assert await service.expire_due_orders(session, now=later) == 0
    got = (await client.get(f"/v1/orders/{order['id']}", headers=store.customer.headers)).json()
    assert got["status"] == "expired" and got["closed_at"]
    reference = fresh["payment"]["reference"]
    r = await post_callback(client, *callback(test_settings, reference))
    assert r.status_code == 200 and r.json()["status"] == "expired"
    # the late payment goes back to the customer: the provider is asked once, for the total
    assert await payment_records.send_due_calls(sessionmaker, test_settings) == 1
    provider = payment_provider(test_settings)
    assert isinstance(provider, FakePaymentProvider)
    refunded = [amount for ref, amount in provider.refunds.values() if ref == reference]
    assert refunded == [fresh["total"]["amount"]]


async def test_isolation_stranger_gets_404(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    order = await pay(client, test_settings, await store.order(client))
    stranger = await client.register()
    other_owner = await client.register()
    other_merchant = await client.merchant(other_owner, name="别家")
    oid = order["id"]
    for who in (stranger, other_owner):
        h = who.headers
        assert_problem(await client.get(f"/v1/orders/{oid}", headers=h), 404, "order_not_found")
        assert_problem(
            await client.get(f"/v1/orders/{oid}/qr.png", headers=h), 404, "order_not_found"
        )
        assert_problem(
            await client.post(f"/v1/orders/{oid}/cancel", headers=h), 404, "order_not_found"
        )
        assert_problem(
            await client.post(f"/v1/orders/{oid}/refund", headers=h), 404, "order_not_found"
        )
        r = await client.post(
            f"/v1/counter/orders/{oid}/consume", json={"shop_id": store.shop_id}, headers=h
        )
        assert_problem(r, 404, "order_not_found")
        r = await client.post(
            "/v1/counter/orders/consume",
            json={"code": order["code"], "shop_id": store.shop_id},
            headers=h,
        )
        assert_problem(r, 404, "order_not_found")
        for path in (
            f"/v1/merchants/{store.merchant_id}/settlements",
            f"/v1/merchants/{store.merchant_id}/settlements.csv",
            f"/v1/merchants/{store.merchant_id}/bookings",
        ):
            assert_problem(await client.get(path, headers=h), 404, "merchant_not_found")
        assert (await client.get("/v1/me/orders", headers=h)).json()["items"] == []
    # staff may consume only at the merchant's own shops
    from tests.helpers import create_shop

    foreign_shop = await create_shop(client, other_owner, other_merchant["id"])
    r = await client.post(
        f"/v1/counter/orders/{oid}/consume",
        json={"shop_id": foreign_shop["id"]},
        headers=store.clerk.headers,
    )
    assert_problem(r, 404, "shop_not_found")


async def test_unknown_provider(client: ApiClient) -> None:
    r = await client.post("/v1/payments/nope/callback", content=b"{}")
    assert_problem(r, 404, "payment_provider_unknown")


async def test_shared_counter_lookup_recognises_orders(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    order = await pay(client, test_settings, await store.order(client))
    qr = codes.qr_payload(order["code"], test_settings.signing_keys())
    for ref in ({"code": order["code_display"]}, {"qr": qr}):
        r = await client.post(
            "/v1/counter/lookup",
            json={**ref, "shop_id": store.shop_id},
            headers=store.clerk.headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["kind"] == "order" and body["consumable"] is True
        assert body["order"]["id"] == order["id"] and body["order"]["total"] == money(3800)
    # not an order nor a coupon: the coupon refusal, as before
    r = await client.post(
        "/v1/counter/lookup",
        json={"code": "NOT-A-CODE", "shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert_problem(r, 422, "coupon_code_invalid")
    stranger = await client.register()
    r = await client.post(
        "/v1/counter/lookup",
        json={"code": order["code"], "shop_id": store.shop_id},
        headers=stranger.headers,
    )
    assert_problem(r, 404, "order_not_found")
