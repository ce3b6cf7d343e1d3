"""GET /v1/me/coupons?usable_at={shop_id}: the coupons a clerk there would accept now, best
first (most money off, then soonest to expire)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.coupons.helpers import claim, move_coupon_window, published_campaign, shopfront
from tests.helpers import ApiClient, assert_problem, create_shop


def cny(amount: int) -> dict[str, object]:
    return {"amount": amount, "currency": "CNY"}


async def test_usable_now_at_the_shop_best_first(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    front = await shopfront(client)
    second_shop = await create_shop(client, front.owner, front.merchant_id, name="二号店")
    elsewhere = await shopfront(client, name="别家")
    me = await client.register()
    now = datetime.now(UTC)

    async def held(**campaign: object) -> str:
        c = await published_campaign(client, front, **campaign)
        return str((await claim(client, c["id"], me))["id"])

    ten_off = await held(
        name="减10", discount={"kind": "amount_off", "value": cny(1000)}, min_spend=None
    )
    twenty_off_min = await held(
        name="满100减20", discount={"kind": "amount_off", "value": cny(2000)}, min_spend=cny(10000)
    )
    pct_cap_15 = await held(
        name="8折封顶15",
        discount={"kind": "percent_off", "value": 20, "max_off": cny(1500)},
        min_spend=None,
    )
    gift = await held(name="送饮料", discount={"kind": "gift", "gift_name": "可乐"}, min_spend=None)
    ten_off_sooner = await held(
        name="减10快过期",
        discount={"kind": "amount_off", "value": cny(1000)},
        min_spend=None,
        valid_until=(now + timedelta(days=2)).isoformat(),
    )
    other_shop_only = await held(
        name="二号店专享",
        discount={"kind": "amount_off", "value": cny(5000)},
        min_spend=None,
        shop_ids=[second_shop["id"]],
    )
    expired = await held(
        name="过期", discount={"kind": "amount_off", "value": cny(9000)}, min_spend=None
    )
    await move_coupon_window(sessionmaker, expired, valid_until=now - timedelta(minutes=1))
    future = await held(
        name="未开始", discount={"kind": "amount_off", "value": cny(9000)}, min_spend=None
    )
    await move_coupon_window(sessionmaker, future, valid_from=now + timedelta(hours=1))
    redeemed = await held(
        name="已用", discount={"kind": "amount_off", "value": cny(9000)}, min_spend=None
    )
    r = await client.post(
        "/v1/counter/redeem",
        json={
            "code": next(
                c
                for c in (await client.get("/v1/me/coupons", headers=me.headers)).json()["items"]
                if c["id"] == redeemed
            )["code"],
            "shop_id": front.shop_id,
        },
        headers=front.clerk.headers,
    )
    assert r.status_code == 200, r.text
    foreign = await published_campaign(client, elsewhere, min_spend=None)
    await claim(client, foreign["id"], me)

    async def usable(shop_id: str, **params: Any) -> list[str]:
        r = await client.get(
            "/v1/me/coupons", params={"usable_at": shop_id, **params}, headers=me.headers
        )
        assert r.status_code == 200, r.text
        assert all(c["status"] == "active" for c in r.json()["items"])
        return [c["id"] for c in r.json()["items"]]

    # without a bill: amounts in full, a percentage by its cap, the sooner of equals first
    assert await usable(front.shop_id) == [
        twenty_off_min,
        pct_cap_15,
        ten_off_sooner,
        ten_off,
        gift,
    ]
    # a 60.00 bill: 100.00 minimum not met; 20% of 60 = 12.00
    assert await usable(front.shop_id, order_amount=6000) == [
        pct_cap_15,
        ten_off_sooner,
        ten_off,
        gift,
    ]
    # a 200.00 bill: 20% capped at 15.00, 20.00 off now qualifies
    assert (await usable(front.shop_id, order_amount=20000))[:2] == [twenty_off_min, pct_cap_15]
    # the second shop also takes its own campaign's coupon
    assert (await usable(second_shop["id"]))[0] == other_shop_only
    # the other merchant's shop takes only its own
    assert len(await usable(elsewhere.shop_id)) == 1

    # pages
    r = await client.get(
        "/v1/me/coupons", params={"usable_at": front.shop_id, "limit": 2}, headers=me.headers
    )
    page1 = r.json()
    r = await client.get(
        "/v1/me/coupons",
        params={"usable_at": front.shop_id, "limit": 4, "cursor": page1["next_cursor"]},
        headers=me.headers,
    )
    assert [c["id"] for c in page1["items"] + r.json()["items"]] == await usable(front.shop_id)
    assert r.json()["next_cursor"] is None


async def test_usable_at_an_unknown_shop_is_404_and_bad_amounts_422(client: ApiClient) -> None:
    me = await client.register()
    r = await client.get(
        "/v1/me/coupons",
        params={"usable_at": "01a234e8-5966-7cdb-96eb-1b2c4dbd2c92"},
        headers=me.headers,
    )
    assert_problem(r, 404, "shop_not_found")
    front = await shopfront(client)
    for bad in ("-1", "1.5", "abc", str(10**13)):
        r = await client.get(
            "/v1/me/coupons",
            params={"usable_at": front.shop_id, "order_amount": bad},
            headers=me.headers,
        )
        assert_problem(r, 422, "validation_error")
