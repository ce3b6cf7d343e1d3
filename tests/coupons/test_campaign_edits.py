"""Campaigns changed after creation: drafts freely, live ones within what held coupons allow;
pause, resume and end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from tests.coupons.helpers import (
    campaign_body,
    claim,
    fast_users,
    iso,
    published_campaign,
    shopfront,
)
from tests.helpers import ApiClient, assert_problem


async def test_draft_edits_any_field(client: ApiClient) -> None:
    front = await shopfront(client)
    r = await client.post(f"/v1/merchants/{front.merchant_id}/campaigns",
                          json=campaign_body(), headers=front.owner.headers)  # fmt: skip
    draft = r.json()
    url = f"/v1/campaigns/{draft['id']}"
    r = await client.patch(url, headers=front.owner.headers, json={
        "name": "满100减30", "discount": {"kind": "percent_off", "value": 20,
                                          "max_off": {"amount": 3000, "currency": "CNY"}},
        "per_user_limit": 2, "shop_ids": [front.shop_id]})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "满100减30" and body["discount"]["kind"] == "percent_off"
    assert body["per_user_limit"] == 2 and body["shop_ids"] == [front.shop_id]
    assert body["min_spend"] == draft["min_spend"]  # untouched fields kept
    # the merged design is checked as a new one
    now = datetime.now(UTC)
    r = await client.patch(url, json={"valid_until": iso(now - timedelta(days=3))},
                           headers=front.owner.headers)  # fmt: skip
    assert_problem(r, 422, "validation_error")
    r = await client.patch(url, json={"discount": {"kind": "amount_off",
                                      "value": {"amount": 0, "currency": "CNY"}}},
                           headers=front.owner.headers)  # fmt: skip
    assert_problem(r, 422, "validation_error")
    for bad in ({"name": None}, {"total_quantity": 0}, {"bogus": 1}, {"valid_from": "2026-13-01"}):
        assert_problem(await client.patch(url, json=bad, headers=front.owner.headers),
                       422, "validation_error")  # fmt: skip
    assert_problem(await client.patch(url, json={"name": "x"}, headers=front.clerk.headers),
                   403, "forbidden")  # fmt: skip
    stranger = await client.register()
    r = await client.patch(url, json={"name": "x"}, headers=stranger.headers)
    assert r.status_code == 404
    assert (await client.get(url, headers=front.owner.headers)).json()["name"] == "满100减30"


async def test_live_campaign_quantity_validity_and_lifecycle(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession], test_settings: Settings
) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front, total_quantity=3)
    url = f"/v1/campaigns/{campaign['id']}"
    people = await fast_users(sessionmaker, test_settings, 4)
    held = [await claim(client, campaign["id"], p) for p in people[:2]]

    r = await client.patch(url, json={"total_quantity": 1}, headers=front.owner.headers)
    problem = assert_problem(r, 422, "quantity_below_claimed")
    assert problem["handed_out"] == 2
    r = await client.patch(url, json={"discount": {"kind": "gift", "gift_name": "可乐"}},
                           headers=front.owner.headers)  # fmt: skip
    assert_problem(r, 409, "campaign_not_editable")
    r = await client.patch(url, json={"total_quantity": 2}, headers=front.owner.headers)
    assert r.status_code == 200 and r.json()["remaining"] == 0
    r = await client.post(f"{url}/claim", headers=people[2].headers)
    assert_problem(r, 409, "campaign_sold_out")

    # raising the quantity while people claim: never more than the total goes out
    r = await client.patch(url, json={"total_quantity": 3}, headers=front.owner.headers)
    assert r.status_code == 200
    results = await asyncio.gather(
        *(client.post(f"{url}/claim", headers=p.headers) for p in people[2:]),
        client.patch(url, json={"total_quantity": 2}, headers=front.owner.headers),
    )
    claimed = sum(1 for x in results[:-1] if x.status_code == 201)
    quantity = (await client.get(url, headers=front.owner.headers)).json()["total_quantity"]
    assert claimed <= 1 and 2 + claimed <= quantity

    later = datetime.fromisoformat(campaign["valid_until"]) + timedelta(days=10)
    r = await client.patch(url, json={"valid_until": iso(later)}, headers=front.owner.headers)
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["valid_until"]) == later
    assert datetime.fromisoformat(r.json()["claim_until"]) == later
    wallet = (await client.get("/v1/me/coupons", headers=people[0].headers)).json()["items"]
    assert datetime.fromisoformat(wallet[0]["valid_until"]) == later  # held coupon extended
    assert held[0]["id"] == wallet[0]["id"]
    r = await client.patch(url, json={"valid_until": iso(later - timedelta(days=1))},
                           headers=front.owner.headers)  # fmt: skip
    assert_problem(r, 422, "campaign_validity_shortened")

    assert_problem(await client.post(f"{url}/resume", headers=front.owner.headers),
                   409, "campaign_transition_invalid")  # fmt: skip
    r = await client.post(f"{url}/pause", headers=front.owner.headers)
    assert r.status_code == 200 and r.json()["status"] == "paused"
    r = await client.patch(url, json={"total_quantity": 10}, headers=front.owner.headers)
    assert r.status_code == 200  # a paused campaign can still be topped up
    r = await client.post(f"{url}/resume", headers=front.owner.headers)
    assert r.status_code == 200 and r.json()["status"] == "published"
    r = await client.post(f"{url}/end", headers=front.owner.headers)
    assert r.status_code == 200 and r.json()["status"] == "ended"
    assert_problem(await client.patch(url, json={"name": "x"}, headers=front.owner.headers),
                   409, "campaign_not_editable")  # fmt: skip
    assert_problem(await client.post(f"{url}/resume", headers=front.owner.headers),
                   409, "campaign_transition_invalid")  # fmt: skip
