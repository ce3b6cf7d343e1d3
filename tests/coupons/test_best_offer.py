"""Nearby items' `best_offer`: the most valuable coupon claimable there now, as one line in
the request's language, computed inside nearby's single statement."""

from __future__ import annotations

import json

from core.i18n import current_language
from core.money import format_money
from coupons.offer_line import offer_line, zhe
from tests.coupons.helpers import published_campaign, shopfront
from tests.helpers import ApiClient, create_shop


def cny(amount: int) -> dict[str, object]:
    return {"amount": amount, "currency": "CNY"}


async def _nearby(client: ApiClient, **headers: str) -> dict[str, dict[str, object]]:
    r = await client.get(
        "/v1/shops/nearby",
        params={"lat": 31.2304, "lng": 121.4737, "radius_m": 500},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return {item["id"]: item for item in r.json()["items"]}


async def test_best_offer_is_the_most_valuable_claimable_campaign(client: ApiClient) -> None:
    front = await shopfront(client)
    plain = await create_shop(client, front.owner, front.merchant_id, name="没有活动的店")
    assert (await _nearby(client))[front.shop_id]["best_offer"] is None
    await published_campaign(
        client,
        front,
        name="减5",
        discount={"kind": "amount_off", "value": cny(500)},
        min_spend=None,
    )
    await published_campaign(
        client,
        front,
        name="8折封顶15",
        discount={"kind": "percent_off", "value": 20, "max_off": cny(1500)},
        min_spend=cny(5000),
        shop_ids=[front.shop_id],
    )
    await published_campaign(
        client, front, name="送可乐", discount={"kind": "gift", "gift_name": "可乐"}
    )
    # better, but not claimable: sold out / another shop's
    await published_campaign(
        client,
        front,
        name="别店专享",
        discount={"kind": "amount_off", "value": cny(9000)},
        shop_ids=[plain["id"]],
    )
    items = await _nearby(client)
    assert items[front.shop_id]["best_offer"] == "8折，最高减¥15.00（满¥50.00可用）"
    assert items[plain["id"]]["best_offer"] == "立减¥90.00（满¥50.00可用）"
    items = await _nearby(client, **{"Accept-Language": "en-US,en;q=0.9"})
    assert items[front.shop_id]["best_offer"] == "20% off (up to ¥15.00) over ¥50.00"
    # has_offers agrees with best_offer
    r = await client.get(
        "/v1/shops/nearby",
        params={"lat": 31.2304, "lng": 121.4737, "radius_m": 500, "has_offers": "true"},
    )
    assert {i["id"] for i in r.json()["items"]} == {
        i for i, item in items.items() if item["best_offer"] is not None
    }


def test_offer_lines() -> None:
    assert format_money(5000) == "¥50.00" and format_money(5) == "¥0.05"
    assert format_money(123456789) == "¥1,234,567.89" and format_money(100, "JPY") == "1.00 JPY"
    assert [zhe(20), zhe(15), zhe(5), zhe(50)] == ["8折", "8.5折", "9.5折", "5折"]
    token = current_language.set("zh-CN")
    try:
        assert (
            offer_line(
                "amount_off",
                amount=1000,
                percent=None,
                max_off=None,
                min_spend=None,
                currency="CNY",
                gift_name=None,
            )
            == "立减¥10.00"
        )
        assert (
            offer_line(
                "gift",
                amount=None,
                percent=None,
                max_off=None,
                min_spend=2000,
                currency="CNY",
                gift_name="可乐",
            )
            == "赠送可乐（满¥20.00可用）"
        )
    finally:
        current_language.reset(token)
    token = current_language.set("en")
    try:
        assert (
            offer_line(
                "percent_off",
                amount=None,
                percent=15,
                max_off=None,
                min_spend=None,
                currency="CNY",
                gift_name=None,
            )
            == "15% off"
        )
    finally:
        current_language.reset(token)


async def test_min_spend_refusals_say_yuan_in_the_caller_s_language(client: ApiClient) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front)  # 满50减10
    me = await client.register()
    r = await client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=me.headers)
    code = r.json()["code"]
    body = {"code": code, "shop_id": front.shop_id, "order_amount": cny(3000)}
    r = await client.post("/v1/counter/lookup", json=body, headers=front.clerk.headers)
    zh = r.json()
    r = await client.post(
        "/v1/counter/redeem", json=body, headers={**front.clerk.headers, "Accept-Language": "en"}
    )
    en = r.json()
    assert r.status_code == 409 or r.status_code == 422, r.text
    assert en["code"] == "min_spend_not_met" and en["detail"] == "Minimum spend ¥50.00"
    text = json.dumps(zh, ensure_ascii=False)
    assert "最低消费¥50.00" in text and "5000 CNY" not in text
