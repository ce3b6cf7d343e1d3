"""The consumer's offer inbox: GET /v1/me/offers and POST /v1/me/offers/{id}/read."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from core.settings import Settings
from push.service.senders import Senders
from tests.helpers import ApiClient, assert_problem
from tests.push.helpers import (
    FLASH_CAMPAIGN_OF_SHOP,
    Pipeline,
    merchant_with_shop,
    offer_body,
    offset,
    subscriber,
)


async def test_inbox_lists_delivered_offers_with_campaign_claimed_and_read_state(
    client: ApiClient,
    pipeline: Pipeline,
    log_senders: Senders,
    sessionmaker,
    test_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    # three offers of one merchant in a day: above the default frequency cap
    monkeypatch.setattr(test_settings, "push_merchant_daily_cap", 5)
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    alice, _ = await subscriber(client, at=offset(100), categories=["dining"])
    sms_only, _ = await subscriber(
        client, at=offset(120), categories=["dining"], devices=0, channels=["sms"]
    )
    far, _ = await subscriber(client, at=offset(9000), categories=["dining"])
    offers = []
    for minutes in (60, 90, 120):
        r = await client.post(
            f"/v1/merchants/{merchant_id}/flash-offers",
            json=offer_body(shop_id, minutes=minutes),
            headers=owner.headers,
        )
        assert r.status_code == 202, r.text
        offers.append(r.json()["id"])
    # before the worker sends anything, nothing has reached anyone
    r = await client.get("/v1/me/offers", headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    await pipeline.drain(pipeline.consumer(log_senders))

    r = await client.get("/v1/me/offers", headers=alice.headers)
    body = r.json()
    assert [o["id"] for o in body["items"]] == offers[::-1]  # newest first
    first = body["items"][0]
    assert first["status"] == "unread" and first["read_at"] is None and not first["claimed"]
    assert first["campaign"]["id"] == FLASH_CAMPAIGN_OF_SHOP[shop_id]
    assert first["campaign"]["discount"] == {"kind": "percent_off", "value": 50, "max_off": None}
    assert first["shop_id"] == shop_id and first["title"] == "限时特惠"
    # SMS recipients have the same inbox
    r = await client.get("/v1/me/offers", headers=sms_only.headers)
    assert len(r.json()["items"]) == 3
    # someone out of range got nothing
    r = await client.get("/v1/me/offers", headers=far.headers)
    assert r.json()["items"] == []

    # paging: one at a time, the same order, no repeats
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/me/offers", params=params, headers=alice.headers)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == offers[::-1]

    # read, claimed, expired
    r = await client.post(f"/v1/me/offers/{offers[0]}/read", headers=alice.headers)
    assert r.status_code == 204
    r = await client.post(f"/v1/me/offers/{offers[0]}/read", headers=alice.headers)
    assert r.status_code == 204  # idempotent
    r = await client.post(
        f"/v1/campaigns/{FLASH_CAMPAIGN_OF_SHOP[shop_id]}/claim", headers=alice.headers
    )
    assert r.status_code == 201, r.text
    async with sessionmaker.begin() as session:
        await session.execute(
            text("UPDATE flash_offers SET expires_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": uuid.UUID(offers[1])},
        )
    items = {
        o["id"]: o
        for o in (await client.get("/v1/me/offers", headers=alice.headers)).json()["items"]
    }
    assert items[offers[0]]["status"] == "read" and items[offers[0]]["read_at"] is not None
    assert items[offers[1]]["status"] == "expired"
    assert items[offers[2]]["status"] == "unread"
    assert all(o["claimed"] for o in items.values())  # the three promote the same campaign
    # the other recipient's inbox is untouched by alice's reading
    others = (await client.get("/v1/me/offers", headers=sms_only.headers)).json()["items"]
    assert {o["id"]: o["status"] for o in others}[offers[0]] == "unread"
    assert not any(o["claimed"] for o in others)


async def test_reading_an_offer_one_did_not_receive_is_404(client: ApiClient) -> None:
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    stranger = await client.register()
    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers", json=offer_body(shop_id), headers=owner.headers
    )
    offer_id = r.json()["id"]
    for target in (offer_id, str(uuid.uuid4())):
        r = await client.post(f"/v1/me/offers/{target}/read", headers=stranger.headers)
        assert_problem(r, 404, "flash_offer_not_found")
    r = await client.get("/v1/me/offers")
    assert r.status_code == 401
    r = await client.get(
        "/v1/me/offers", params={"cursor": "bm90LWpzb24"}, headers=stranger.headers
    )
    assert_problem(r, 422, "invalid_cursor")
