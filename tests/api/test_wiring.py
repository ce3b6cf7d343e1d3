"""The cross-package links: nearby has_offers, coupon audiences by tier and by segment,
verified reviews, and the customer's tier following the member card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import Actor, ApiClient, assert_problem, create_shop


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
    }


async def _campaign(client: ApiClient, owner: Actor, merchant_id: str, **fields: Any) -> dict:
    body = {
        "name": "满50减10",
        "discount": {"kind": "amount_off", "value": {"amount": 1000, "currency": "CNY"}},
        **_window(),
        **fields,
    }
    r = await client.post(
        f"/v1/merchants/{merchant_id}/campaigns", json=body, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/campaigns/{r.json()['id']}/publish", headers=owner.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _program(client: ApiClient, owner: Actor, merchant_id: str) -> dict:
    body = {
        "name": "会员卡",
        "redeem": {"points_per_currency_unit": 100},
        "tiers": [
            {
                "code": "regular",
                "name": "普通卡",
                "rank": 0,
                "discount_percent": 0,
                "earn": {"points_per_currency_unit": 1},
            },
            {
                "code": "vip",
                "name": "贵宾卡",
                "rank": 1,
                "discount_percent": 10,
                "earn": {"points_per_currency_unit": 2},
                "upgrade": {"min_spend_12m": {"amount": 10000, "currency": "CNY"}},
            },
        ],
    }
    r = await client.post(f"/v1/merchants/{merchant_id}/programs", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_nearby_has_offers_follows_claimable_campaigns(client: ApiClient) -> None:
    owner = await client.register()
    with_offer = await client.merchant(owner, "有券")
    without = await client.merchant(owner, "无券")
    shop_a = await create_shop(client, owner, with_offer["id"], name="A")
    await create_shop(
        client, owner, without["id"], name="B", location={"lat": 31.2310, "lng": 121.4740}
    )
    await _campaign(client, owner, with_offer["id"])
    params = {"lat": 31.2304, "lng": 121.4737, "radius_m": 1000}
    everything = (await client.get("/v1/shops/nearby", params=params)).json()["items"]
    assert len(everything) == 2
    offers = (await client.get("/v1/shops/nearby", params=params | {"has_offers": "true"})).json()
    assert [s["id"] for s in offers["items"]] == [shop_a["id"]]


async def test_tier_audience_and_customer_tier(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"])
    program = await _program(client, owner, merchant["id"])
    vip_campaign = await _campaign(
        client, owner, merchant["id"], audience={"kind": "tiers", "tier_codes": ["vip"]}
    )
    member = await client.register()
    r = await client.post(f"/v1/programs/{program['id']}/join", headers=member.headers)
    assert r.status_code == 201, r.text
    card = r.json()
    assert_problem(
        await client.post(f"/v1/campaigns/{vip_campaign['id']}/claim", headers=member.headers),
        403,
        "not_in_audience",
    )

    # a purchase over the threshold upgrades the card; the customer record follows the tier
    r = await client.post(
        "/v1/counter/transactions",
        headers=owner.headers,
        json={
            "card": card["card_number"],
            "shop_id": shop["id"],
            "kind": "purchase",
            "amount": {"amount": 12000, "currency": "CNY"},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["card"]["tier"]["code"] == "vip"
    r = await client.post(f"/v1/campaigns/{vip_campaign['id']}/claim", headers=member.headers)
    assert r.status_code == 201, r.text
    r = await client.get(
        f"/v1/merchants/{merchant['id']}/customers", headers=owner.headers, params={"tier": "vip"}
    )
    assert [c["user_id"] for c in r.json()["items"]] == [member.user_id]


async def test_segment_audience(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    program = await _program(client, owner, merchant["id"])
    insider, outsider = await client.register(), await client.register()
    await client.post(f"/v1/programs/{program['id']}/join", headers=insider.headers)
    r = await client.post(
        f"/v1/merchants/{merchant['id']}/segments",
        headers=owner.headers,
        json={"name": "会员", "rules": {"tiers": ["regular"]}},
    )
    assert r.status_code == 201, r.text
    campaign = await _campaign(
        client, owner, merchant["id"], audience={"kind": "segment", "segment_id": r.json()["id"]}
    )
    r = await client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=insider.headers)
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=outsider.headers)
    assert r.status_code == 403, r.text


async def test_review_tied_to_own_redemption_is_verified(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"])
    campaign = await _campaign(client, owner, merchant["id"])
    consumer, other = await client.register(), await client.register()
    coupon = (
        await client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=consumer.headers)
    ).json()
    r = await client.post(
        "/v1/counter/redeem",
        headers=owner.headers,
        json={"code": coupon["code"], "shop_id": shop["id"]},
    )
    assert r.status_code in (200, 201), r.text
    redemption_id = r.json()["redemption_id"]

    r = await client.post(
        f"/v1/shops/{shop['id']}/reviews",
        headers=other.headers,
        json={"rating": 1, "text": "not mine", "redemption_id": redemption_id},
    )
    assert r.status_code == 201 and r.json()["verified"] is False
    r = await client.post(
        f"/v1/shops/{shop['id']}/reviews",
        headers=consumer.headers,
        json={"rating": 5, "text": "好吃", "redemption_id": redemption_id},
    )
    assert r.status_code == 201 and r.json()["verified"] is True
    summary = (
        await client.get(f"/v1/shops/{shop['id']}/reviews", params={"verified": "true"})
    ).json()
    assert [x["rating"] for x in summary["items"]] == [5]
