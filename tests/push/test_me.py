from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from core.timezones import utcnow
from customers.models import Customer
from push import service
from tests.helpers import ApiClient, assert_problem
from tests.push.helpers import offset


async def test_devices_upsert_move_and_delete(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await client.register(), await client.register()
    body = {"token": "fcm-token-abcdefghijklmnop", "platform": "android"}
    first = await client.post("/v1/me/devices", json=body, headers=alice.headers)
    assert first.status_code == 201, first.text
    again = await client.post(
        "/v1/me/devices", json=body | {"platform": "ios"}, headers=alice.headers
    )
    assert again.json()["id"] == first.json()["id"] and again.json()["platform"] == "ios"
    # the same install signed in as Bob: the token moves to Bob
    await client.post("/v1/me/devices", json=body, headers=bob.headers)
    async with sessionmaker() as session:
        owners = (await session.execute(text("SELECT user_id FROM push_devices"))).scalars().all()
    assert [str(o) for o in owners] == [bob.user_id]
    r = await client.request(
        "DELETE", "/v1/me/devices", json={"token": body["token"]}, headers=alice.headers
    )
    assert_problem(r, 404, "device_not_found")
    r = await client.request(
        "DELETE", "/v1/me/devices", json={"token": body["token"]}, headers=bob.headers
    )
    assert r.status_code == 204
    for bad in (
        {"token": "short", "platform": "android"},
        {"token": "fcm-token-abcdefghijklmnop", "platform": "symbian"},
    ):
        assert_problem(
            await client.post("/v1/me/devices", json=bad, headers=bob.headers),
            422,
            "validation_error",
        )
    assert (await client.post("/v1/me/devices", json=body)).status_code == 401


async def test_subscription_defaults_update_and_follow(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner = await client.register()
    merchant = await client.merchant(owner)
    user = await client.register()
    r = await client.get("/v1/me/subscriptions", headers=user.headers)
    assert r.json()["radius_m"] == 2000 and r.json()["channels"] == ["push"]
    assert r.json()["timezone"] == "Asia/Shanghai" and r.json()["quiet_hours"] is None
    body = {
        "categories": ["dining", "laundry"],
        "radius_m": 1500,
        "quiet_hours": {"from": "22:00", "to": "08:00"},
        "channels": ["push", "sms"],
    }
    r = await client.put("/v1/me/subscriptions", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["quiet_hours"] == {"from": "22:00:00", "to": "08:00:00"}
    assert r.json()["categories"] == ["dining", "laundry"]
    for bad in (
        {"categories": ["spaceport"]},
        {"radius_m": 50},
        {"timezone": "Mars/Base"},
        {"channels": ["fax"]},
        {"merchant_ids": [str(uuid.uuid4())]},
    ):
        assert_problem(
            await client.put("/v1/me/subscriptions", json=bad, headers=user.headers),
            422,
            "validation_error",
        )
    # following from the shop page keeps the rest and tells customers/ about it
    url = f"/v1/me/subscriptions/merchants/{merchant['id']}"
    r = await client.post(url, headers=user.headers)
    assert r.json()["merchant_ids"] == [merchant["id"]] and r.json()["radius_m"] == 1500
    await client.post(url, headers=user.headers)  # twice: still one entry
    assert (await client.get("/v1/me/subscriptions", headers=user.headers)).json()[
        "merchant_ids"
    ] == [merchant["id"]]
    async with sessionmaker() as session:
        customer = (await session.execute(select(Customer))).scalar_one()
    assert str(customer.user_id) == user.user_id and customer.source == "followed"
    r = await client.delete(url, headers=user.headers)
    assert r.json()["merchant_ids"] == []
    r = await client.post(f"/v1/me/subscriptions/merchants/{uuid.uuid4()}", headers=user.headers)
    assert_problem(r, 404, "merchant_not_found")


async def test_pings_areas_retention_and_forgetting(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    user = await client.register()
    now = utcnow()
    home, work = offset(0, 0), offset(3000, 0)
    pings = [(home, i) for i in range(6)] + [(work, i) for i in range(3)] + [(offset(9000), 0)]
    for i, (spot, jitter) in enumerate(pings):
        at = (now - timedelta(hours=len(pings) - i)).isoformat()
        point = {"lat": spot["lat"] + jitter * 0.0002, "lng": spot["lng"]}
        r = await client.post(
            "/v1/me/locations", json={"location": point, "at": at}, headers=user.headers
        )
        assert r.status_code == 201, r.text
    for bad in (
        {"location": home, "crs": "mars"},
        {"location": home, "at": "2020-01-01T00:00:00Z"},
        {"location": home, "at": (now + timedelta(hours=1)).isoformat()},
        {"location": {"lat": 95, "lng": 0}},
    ):
        assert_problem(
            await client.post("/v1/me/locations", json=bad, headers=user.headers),
            422,
            "validation_error",
        )
    async with sessionmaker.begin() as session:
        done = await service.learn_pending_areas(session, now=now, retention=timedelta(days=30))
    assert done == 1
    r = await client.get("/v1/me/activity-areas", headers=user.headers)
    areas = r.json()
    assert [a["pings"] for a in areas["items"]] == [6, 3]
    assert [a["share"] for a in areas["items"]] == [0.6, 0.3]
    assert abs(areas["items"][0]["centre"]["lat"] - (home["lat"] + 0.0005)) < 1e-4
    assert 50 <= areas["items"][0]["radius_m"] < 150
    # points are answered rounded to 7 decimals (~1 cm), like every other coordinate
    assert abs(areas["last_known"]["location"]["lat"] - offset(9000)["lat"]) < 1e-7
    # answered in the asked system: Baidu's BD-09 sits ~0.006° north-east of WGS-84 in Shanghai
    bd09 = (await client.get("/v1/me/activity-areas?crs=bd09", headers=user.headers)).json()
    assert bd09["crs"] == "bd09"
    shift = bd09["items"][0]["centre"]["lat"] - areas["items"][0]["centre"]["lat"]
    assert 0.003 < shift < 0.01

    # retention: pings older than the window go, and the areas are learned again without them
    async with sessionmaker.begin() as session:
        purged = await service.purge_expired_locations(
            session, now=now + timedelta(days=30, hours=-6.5), retention=timedelta(days=30)
        )
        assert purged == 1
        await service.learn_pending_areas(
            session, now=now + timedelta(days=30, hours=-6.5), retention=timedelta(days=30)
        )
    r = await client.get("/v1/me/activity-areas", headers=user.headers)
    assert [a["pings"] for a in r.json()["items"]] == [3]

    r = await client.delete("/v1/me/locations", headers=user.headers)
    assert r.json()["pings_deleted"] == 6
    r = await client.get("/v1/me/activity-areas", headers=user.headers)
    assert r.json() == {"items": [], "last_known": None, "crs": "wgs84"}


async def test_retention_job_deletes_stale_last_known(sessionmaker, client: ApiClient) -> None:  # type: ignore[no-untyped-def]
    user = await client.register()
    at = datetime.now(UTC) - timedelta(days=29)
    await client.post(
        "/v1/me/locations", json={"location": offset(), "at": at.isoformat()}, headers=user.headers
    )
    async with sessionmaker.begin() as session:
        await service.purge_expired_locations(
            session, now=at + timedelta(days=31), retention=timedelta(days=30)
        )
    r = await client.get("/v1/me/activity-areas", headers=user.headers)
    assert r.json()["last_known"] is None
