from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from core.timezones import utcnow
from customers.service import record_activity
from push import schemas, service
from push.repository.offers import NEARBY_AUDIENCE
from tests.helpers import ApiClient, assert_problem
from tests.push.helpers import Pipeline, merchant_with_shop, offer_body, offset, subscriber


async def test_nearby_audience_matches_subscriptions_and_areas(
    client: ApiClient, pipeline: Pipeline, sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    owner, merchant_id, shop_id = await merchant_with_shop(client)  # a noodles shop
    expected = {}
    # subscribed to the parent category, 1 km away, two phones
    user, tokens = await subscriber(client, at=offset(1000), categories=["dining"], devices=2)
    expected[user.user_id] = 2
    # follows the merchant, 1.8 km away with the default 2 km radius
    user, _ = await subscriber(client, at=offset(0, 1800), merchant_ids=[merchant_id])
    expected[user.user_id] = 1
    # not included: another category; too far for their own radius; opted out; no device
    await subscriber(client, at=offset(100), categories=["laundry"])
    await subscriber(client, at=offset(1000), categories=["noodles"], radius_m=500)
    await subscriber(client, at=offset(2500), merchant_ids=[merchant_id])
    await subscriber(client, at=offset(100), categories=["dining"], opted_out=True)
    await subscriber(client, at=offset(100), categories=["dining"], devices=0)
    # subscribed to a child category of a sibling: a noodles shop is not a cafe
    await subscriber(client, at=offset(100), categories=["cafe"])
    # SMS only (no device needed)
    user, _ = await subscriber(
        client, at=offset(300), categories=["noodles"], devices=0, channels=["sms"]
    )
    expected[user.user_id] = 1

    url = f"/v1/merchants/{merchant_id}/flash-offers"
    r = await client.post(url, json=offer_body(shop_id), headers=owner.headers)
    assert r.status_code == 202, r.text
    assert r.json()["recipients_estimate"] == 3
    rows = await pipeline.deliveries(r.json()["id"])
    per_user: dict[str, int] = {}
    for row in rows:
        per_user[str(row["user_id"])] = per_user.get(str(row["user_id"]), 0) + 1
        assert row["status"] == "queued"
    assert per_user == expected
    async with sessionmaker() as session:
        outbox = (await session.execute(text("SELECT channel FROM push_outbox"))).scalars().all()
    assert sorted(outbox) == ["push", "sms"]

    # the merchant's radius narrows everyone's (1 km keeps only the 300 m SMS user... and 1 km)
    other_owner, other_merchant, other_shop = await merchant_with_shop(client)
    r = await client.post(
        f"/v1/merchants/{other_merchant}/flash-offers",
        json=offer_body(other_shop, radius_m=1200),
        headers=other_owner.headers,
    )
    assert r.json()["recipients_estimate"] == 2

    # frequency cap: one offer a day per merchant per user
    r = await client.post(url, json=offer_body(shop_id), headers=owner.headers)
    assert r.json()["recipients_estimate"] == 0


async def test_learned_areas_and_current_location(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    now = utcnow()
    # lives 800 m from the shop (learned area), is now 10 km away: still targeted (usual area)
    local, _ = await subscriber(client, at=None, categories=["dining"])
    # lives 10 km away, is now 200 m from the shop: targeted (current location)
    visitor, _ = await subscriber(client, at=None, categories=["dining"])
    # lives 10 km away, was near the shop 5 hours ago: not targeted (stale, has usual areas)
    passer, _ = await subscriber(client, at=None, categories=["dining"])
    plans = {
        local.headers["Authorization"]: [offset(800)] * 4 + [offset(10_000)],
        visitor.headers["Authorization"]: [offset(10_000)] * 4 + [offset(200)],
        passer.headers["Authorization"]: [offset(10_000)] * 4 + [offset(200)],
    }
    for auth, points in plans.items():
        hours_ago = 9 if auth == passer.headers["Authorization"] else 1
        for i, point in enumerate(points):
            at = now - timedelta(hours=hours_ago + len(points) - i - 1, minutes=i)
            r = await client.post(
                "/v1/me/locations",
                json={"location": point, "at": at.isoformat()},
                headers={"Authorization": auth},
            )
            assert r.status_code == 201, r.text
    async with sessionmaker.begin() as session:
        assert (
            await service.learn_pending_areas(session, now=now, retention=timedelta(days=30)) == 3
        )
    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers", json=offer_body(shop_id), headers=owner.headers
    )
    async with sessionmaker() as session:
        users = await session.execute(text("SELECT user_id FROM flash_offer_deliveries"))
        got = {str(u) for u in users.scalars()}
    assert got == {local.user_id, visitor.user_id}
    assert r.json()["recipients_estimate"] == 2


async def test_quiet_hours_defer_delivery(client: ApiClient, pipeline: Pipeline) -> None:
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    local = utcnow().astimezone(ZoneInfo("Asia/Tokyo"))
    start = (local - timedelta(minutes=30)).strftime("%H:%M")
    end = (local + timedelta(minutes=40)).strftime("%H:%M")
    sleeper, _ = await subscriber(
        client,
        at=offset(100),
        categories=["dining"],
        timezone="Asia/Tokyo",
        quiet_hours={"from": start, "to": end},
    )
    awake, _ = await subscriber(client, at=offset(100), categories=["dining"])
    # quiet until after the offer expires: skipped entirely
    late = (local + timedelta(minutes=90)).strftime("%H:%M")
    await subscriber(
        client,
        at=offset(100),
        categories=["dining"],
        timezone="Asia/Tokyo",
        quiet_hours={"from": start, "to": late},
    )
    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers",
        json=offer_body(shop_id, minutes=60),
        headers=owner.headers,
    )
    assert r.json()["recipients_estimate"] == 2
    rows = {str(row["user_id"]): row for row in await pipeline.deliveries(r.json()["id"])}
    assert rows[awake.user_id]["due_at"] <= utcnow()
    deferred = rows[sleeper.user_id]["due_at"].astimezone(ZoneInfo("Asia/Tokyo"))
    assert deferred.strftime("%H:%M") == end and deferred > local
    # only the awake user's batch is due now
    assert await pipeline.dispatch() == 1
    offer = await client.get(f"/v1/flash-offers/{r.json()['id']}", headers=owner.headers)
    assert offer.json()["status"] == "sending" and offer.json()["recipients"] == 2


async def test_customers_audience_and_global_cap(
    client: ApiClient, sessionmaker, test_settings
) -> None:  # type: ignore[no-untyped-def]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    fan, _ = await subscriber(client, at=None)
    quiet, _ = await subscriber(client, at=None, opted_out=True)
    stranger, _ = await subscriber(client, at=None)
    async with sessionmaker.begin() as session:
        for user in (fan, quiet):
            await record_activity(
                session,
                merchant_id=uuid.UUID(merchant_id),
                user_id=uuid.UUID(user.user_id),
                kind="coupon_claimed",
                at=utcnow(),
            )
    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers",
        json=offer_body(shop_id, kind="customers"),
        headers=owner.headers,
    )
    assert r.status_code == 202 and r.json()["recipients_estimate"] == 1

    # the global cap counts offers from every merchant
    capped = test_settings.model_copy(
        update={"push_global_daily_cap": 1, "push_merchant_daily_cap": 5}
    )
    second_owner, second_merchant, second_shop = await merchant_with_shop(client)
    async with sessionmaker.begin() as session:
        await record_activity(
            session,
            merchant_id=uuid.UUID(second_merchant),
            user_id=uuid.UUID(fan.user_id),
            kind="followed",
            at=utcnow(),
        )
        accepted = await service.create_flash_offer(
            session,
            merchant_id=uuid.UUID(second_merchant),
            created_by=uuid.UUID(second_owner.user_id),
            data=schemas.FlashOfferCreate.model_validate(offer_body(second_shop, kind="customers")),
            now=utcnow(),
            settings=capped,
        )
    assert accepted.recipients_estimate == 0


async def test_flash_offer_permissions_and_validation(client: ApiClient) -> None:
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    clerk = await client.staff(owner, merchant_id, "clerk")
    stranger = await client.register()
    url = f"/v1/merchants/{merchant_id}/flash-offers"
    assert_problem(
        await client.post(url, json=offer_body(shop_id), headers=stranger.headers),
        404,
        "merchant_not_found",
    )
    assert_problem(
        await client.post(url, json=offer_body(shop_id), headers=clerk.headers), 403, "forbidden"
    )
    _, _, foreign_shop = await merchant_with_shop(client)
    assert_problem(
        await client.post(url, json=offer_body(foreign_shop), headers=owner.headers),
        404,
        "shop_not_found",
    )
    for bad in (
        offer_body(shop_id, minutes=0),
        offer_body(shop_id, kind="segment"),
        offer_body(shop_id, kind="customers", radius_m=500),
        offer_body(shop_id, kind="everyone"),
    ):
        assert_problem(
            await client.post(url, json=bad, headers=owner.headers), 422, "validation_error"
        )
    segment = offer_body(shop_id, kind="segment", segment_id=str(uuid.uuid4()))
    assert_problem(
        await client.post(url, json=segment, headers=owner.headers), 404, "segment_not_found"
    )

    r = await client.post(url, json=offer_body(shop_id), headers=owner.headers)
    offer_url = f"/v1/flash-offers/{r.json()['id']}"
    assert (await client.get(offer_url, headers=clerk.headers)).status_code == 200
    assert_problem(
        await client.get(offer_url, headers=stranger.headers), 404, "flash_offer_not_found"
    )
    assert_problem(
        await client.get(f"/v1/flash-offers/{uuid.uuid4()}", headers=owner.headers),
        404,
        "flash_offer_not_found",
    )
    assert_problem(
        await client.post(offer_url + "/opened", headers=stranger.headers),
        404,
        "flash_offer_not_found",
    )


async def test_nearby_query_runs_on_the_gist_index(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    """The plan of the audience join uses the GiST index on area centres (seq scans off so
    the plan shows what the index supports even on a tiny table)."""
    await subscriber(client, at=offset(100), categories=["dining"])
    async with sessionmaker.begin() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in await session.execute(
                text("EXPLAIN " + NEARBY_AUDIENCE),
                {
                    "lat": 31.23,
                    "lng": 121.47,
                    "bound": 2000,
                    "radius_cap": 20000,
                    "categories": ["dining"],
                    "merchant_id": uuid.uuid4(),
                    "current_since": utcnow(),
                },
            )
        )
    assert "ix_push_activity_areas_centre" in plan, plan
    assert "Seq Scan on push_activity_areas" not in plan, plan
