"""Coupons reserved by orders and card discounts/points on orders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from core.timezones import utcnow
from orders import service
from tests.coupons.helpers import Shopfront, claim, published_campaign
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import Store, join_card, money, pay


def _front(store: Store) -> Shopfront:
    return Shopfront(store.owner, store.merchant_id, store.shop_id, store.clerk)


async def _coupon(client: ApiClient, store: Store, **campaign: Any) -> dict[str, Any]:
    published = await published_campaign(client, _front(store), **campaign)
    return await claim(client, published["id"], store.customer)


async def _wallet_status(client: ApiClient, store: Store, coupon_id: str) -> str:
    items = (await client.get("/v1/me/coupons", headers=store.customer.headers)).json()["items"]
    return next(c["status"] for c in items if c["id"] == coupon_id)  # type: ignore[no-any-return]


async def test_coupon_reserved_then_redeemed_on_payment(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    coupon = await _coupon(client, store)  # 10.00 off from 50.00
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={"items": [{"offering_id": store.noodles["id"]}], "coupon_code": coupon["code"]},
        headers=store.customer.headers,
    )
    assert_problem(r, 422, "min_spend_not_met")  # 38.00 < 50.00: nothing reserved
    assert await _wallet_status(client, store, coupon["id"]) == "active"

    order = await store.order(client, quantity=2, coupon_code=coupon["code"])
    assert order["subtotal"] == money(7600) and order["total"] == money(6600)
    assert order["coupon"]["discount"] == money(1000) and order["discount"] == money(1000)
    assert await _wallet_status(client, store, coupon["id"]) == "reserved"

    # the counter cannot redeem it meanwhile, nor can a second order use it
    r = await client.post(
        "/v1/counter/redeem",
        json={"code": coupon["code"], "shop_id": store.shop_id, "order_amount": money(8000)},
        headers=store.clerk.headers,
    )
    assert_problem(r, 409, "coupon_reserved")
    look = await client.post(
        "/v1/counter/lookup",
        json={"code": coupon["code"], "shop_id": store.shop_id, "order_amount": money(8000)},
        headers=store.clerk.headers,
    )
    assert look.json()["redeemable"] is False
    assert look.json()["refusal"]["code"] == "coupon_reserved"
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={
            "items": [{"offering_id": store.noodles["id"], "quantity": 2}],
            "coupon_code": coupon["code"],
        },
        headers=store.customer.headers,
    )
    assert_problem(r, 409, "coupon_reserved")
    # someone else cannot apply the customer's coupon
    other = await client.register()
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={
            "items": [{"offering_id": store.noodles["id"], "quantity": 2}],
            "coupon_code": coupon["code"],
        },
        headers=other.headers,
    )
    assert_problem(r, 404, "coupon_not_found")

    paid = await pay(client, test_settings, order)
    assert paid["coupon"]["redemption_id"]
    assert await _wallet_status(client, store, coupon["id"]) == "redeemed"
    stats = (
        await client.get(
            f"/v1/campaigns/{coupon['campaign_id']}/stats", headers=store.owner.headers
        )
    ).json()
    assert stats["redeemed"] == 1

    # a refund of the paid order gives the coupon back
    r = await client.post(f"/v1/orders/{order['id']}/refund", headers=store.manager.headers)
    assert r.status_code == 200, r.text
    assert await _wallet_status(client, store, coupon["id"]) == "active"


async def test_cancel_and_expiry_release_reserved_coupon(
    client: ApiClient,
    store: Store,
    test_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    coupon = await _coupon(client, store, min_spend=None)
    order = await store.order(client, coupon_code=coupon["code"])
    r = await client.post(f"/v1/orders/{order['id']}/cancel", headers=store.customer.headers)
    assert r.status_code == 200
    assert await _wallet_status(client, store, coupon["id"]) == "active"

    order = await store.order(client, coupon_code=coupon["code"])
    assert await _wallet_status(client, store, coupon["id"]) == "reserved"
    later = utcnow() + timedelta(minutes=test_settings.order_payment_minutes + 1)
    async with sessionmaker.begin() as session:
        assert await service.expire_due_orders(session, now=later) == 1
    assert await _wallet_status(client, store, coupon["id"]) == "active"
    got = (await client.get(f"/v1/orders/{order['id']}", headers=store.customer.headers)).json()
    assert got["status"] == "expired"
    # the released coupon works at the counter again
    r = await client.post(
        "/v1/counter/redeem",
        json={"code": coupon["code"], "shop_id": store.shop_id, "order_amount": money(3800)},
        headers=store.clerk.headers,
    )
    assert r.status_code == 200, r.text


async def test_fully_discounted_order_is_paid_at_once(client: ApiClient, store: Store) -> None:
    coupon = await _coupon(
        client, store, min_spend=None, discount={"kind": "amount_off", "value": money(5000)}
    )
    order = await store.order(client, coupon_code=coupon["code"])
    assert order["total"] == money(0) and order["status"] == "paid"
    assert order["payment"] is None and order["coupon"]["discount"] == money(3800)
    assert await _wallet_status(client, store, coupon["id"]) == "redeemed"


async def _card(client: ApiClient, store: Store) -> dict[str, Any]:
    regular = {
        "code": "regular",
        "name": "普通卡",
        "rank": 0,
        "discount_percent": 10,
        "earn": {"points_per_currency_unit": 1},
    }
    return await join_card(client, store, tiers=[regular])


async def test_card_discount_points_spent_returned_and_earned(
    client: ApiClient, store: Store, test_settings: Settings
) -> None:
    card = await _card(client, store)
    # give the card 500 points (worth 5.00 at 100 points per yuan)
    r = await client.post(
        f"/v1/cards/{card['id']}/adjustments",
        json={"points_delta": 500, "note": "welcome"},
        headers=store.owner.headers,
    )
    assert r.status_code == 201, r.text
    url = f"/v1/cards/{card['id']}"
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={
            "items": [{"offering_id": store.noodles["id"]}],
            "card_id": card["id"],
            "use_points": 600,
        },
        headers=store.customer.headers,
    )
    assert_problem(r, 409, "insufficient_points")
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={
            "items": [{"offering_id": store.noodles["id"]}],
            "card_id": card["id"],
            "use_points": 500_000,
        },
        headers=store.customer.headers,
    )
    assert_problem(r, 422, "points_exceed_total")
    assert (await client.get(url, headers=store.customer.headers)).json()["points"] == 500

    order = await store.order(client, card_id=card["id"], use_points=300)
    # 38.00 - 10% (3.80) - 300 points (3.00) = 31.20
    assert order["card"]["discount"] == money(380)
    assert order["card"]["points_value"] == money(300)
    assert order["total"] == money(3120)
    assert (await client.get(url, headers=store.customer.headers)).json()["points"] == 200
    r = await client.post(f"/v1/orders/{order['id']}/cancel", headers=store.customer.headers)
    assert r.status_code == 200
    assert (await client.get(url, headers=store.customer.headers)).json()["points"] == 500

    order = await store.order(client, card_id=card["id"], use_points=100)
    await pay(client, test_settings, order)
    r = await client.post(
        f"/v1/counter/orders/{order['id']}/consume",
        json={"shop_id": store.shop_id},
        headers=store.clerk.headers,
    )
    assert r.status_code == 200, r.text
    # paid 38.00 - 3.80 - 1.00 = 33.20 → 33 points
    assert r.json()["card"]["points_earned"] == 33
    assert (await client.get(url, headers=store.customer.headers)).json()["points"] == 433
    ledger = (await client.get(f"{url}/ledger", headers=store.customer.headers)).json()["items"]
    assert [e["kind"] for e in ledger][:2] in (["earn", "spend_points"], ["spend_points", "earn"])

    # someone else's card cannot be used
    other = await client.register()
    r = await client.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={"items": [{"offering_id": store.noodles["id"]}], "card_id": card["id"]},
        headers=other.headers,
    )
    assert_problem(r, 404, "card_not_found")
