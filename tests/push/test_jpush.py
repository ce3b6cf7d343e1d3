"""JPush beside FCM: devices registered with `provider: "jpush"` are sent through the real
`jpush` SDK to the local stand-in (core/standins/jpush.py) by the same outbox (caps, leases,
dedup, pruning); FCM devices still go to FCM."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.sms import LogSmsSender
from core.standins.jpush import JPushStandin, create_app
from core.standins.server import StandinServer
from push.service.jpush import CidUnavailable, JPushSender
from push.service.senders import Outcome, ReminderMessage, Senders
from tests.helpers import ApiClient
from tests.push.fake_fcm import FakeFcmServer
from tests.push.helpers import Pipeline, merchant_with_shop, offer_body, offset, subscriber


@pytest.fixture(scope="module")
def jpush_server() -> Iterator[tuple[JPushStandin, StandinServer]]:
    standin = JPushStandin()
    server = StandinServer(create_app(standin)).start()
    yield standin, server
    server.stop()


@pytest.fixture
async def mixed_senders(
    jpush_server: tuple[JPushStandin, StandinServer],
    fake_fcm: FakeFcmServer,
    fcm_credentials: Path,
    tmp_path: Path,
) -> AsyncIterator[Senders]:
    from push.service.senders import FcmPushSender

    standin, server = jpush_server
    standin.registered.clear()
    standin.delivered.clear()
    standin.fail_next_cid.clear()
    standin.refused.clear()
    senders = Senders(
        push=FcmPushSender(fcm_credentials, fake_fcm.base_url, timeout=5.0),
        sms=LogSmsSender(tmp_path / "sms.jsonl"),
        jpush=JPushSender(standin.app_key, standin.master_secret, server.base_url, timeout=5.0),
    )
    yield senders
    await senders.aclose()


async def jpush_device(client: ApiClient, user: Any, token: str) -> None:
    r = await client.post(
        "/v1/me/devices",
        json={"token": token, "platform": "android", "provider": "jpush"},
        headers=user.headers,
    )
    assert r.status_code == 201 and r.json()["provider"] == "jpush", r.text


async def jpush_subscribers(
    client: ApiClient, standin: JPushStandin, prefix: str, count: int
) -> list[str]:
    """`count` subscribers near the shop, each with a JPush device JPush knows: their ids."""
    ids = [f"{prefix}{i:03d}" for i in range(count)]
    for registration_id in ids:
        user, _ = await subscriber(client, at=offset(100), categories=["dining"], devices=0)
        await jpush_device(client, user, registration_id)
        standin.registered.add(registration_id)
    return ids


async def test_offers_reach_jpush_and_fcm_devices_and_dead_ids_are_pruned(
    client: ApiClient,
    pipeline: Pipeline,
    fake_fcm: FakeFcmServer,
    mixed_senders: Senders,
    jpush_server: tuple[JPushStandin, StandinServer],
    sessionmaker: Any,
) -> None:
    standin = jpush_server[0]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    _, [fcm_token] = await subscriber(client, at=offset(100), categories=["dining"])
    mainland, _ = await subscriber(client, at=offset(100), categories=["dining"], devices=0)
    gone, _ = await subscriber(client, at=offset(100), categories=["dining"], devices=0)
    await jpush_device(client, mainland, "1a0018970a9c8fcbd1d")
    await jpush_device(client, gone, "190e35f7e0a3a4cbd2f")
    standin.registered.add("1a0018970a9c8fcbd1d")  # the other id JPush does not know

    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers", json=offer_body(shop_id), headers=owner.headers
    )
    assert r.status_code == 202, r.text
    await pipeline.drain(pipeline.consumer(mixed_senders))

    [pushed] = standin.delivered["1a0018970a9c8fcbd1d"]
    assert pushed["notification"]["android"]["extras"]["offer_id"] == r.json()["id"]
    # the cid is one JPush issued to this app, and the one stored on the delivery
    assert standin.issued[pushed["cid"]].app_key == standin.app_key
    stored = {row["token"]: row["jpush_cid"] for row in await pipeline.deliveries(r.json()["id"])}
    assert stored["1a0018970a9c8fcbd1d"] == pushed["cid"]
    assert stored[fcm_token] is None  # FCM has no such key
    assert fake_fcm.state.delivered_counts() == {fcm_token: 1}  # FCM devices stay on FCM
    async with sessionmaker() as session:
        tokens = set((await session.execute(text("SELECT token FROM push_devices"))).scalars())
        statuses = dict(
            (
                await session.execute(
                    text("SELECT status, count(*) FROM flash_offer_deliveries GROUP BY status")
                )
            ).all()
        )
    assert "190e35f7e0a3a4cbd2f" not in tokens and "1a0018970a9c8fcbd1d" in tokens
    assert statuses == {"sent": 2, "failed": 1}


async def test_cids_come_from_jpush_and_a_resend_with_one_is_not_pushed_twice(
    mixed_senders: Senders, jpush_server: tuple[JPushStandin, StandinServer]
) -> None:
    import uuid
    from datetime import timedelta

    from core.timezones import utcnow

    standin, server = jpush_server
    standin.registered.add("1a0018970a9c8fcbd1d")
    sender = mixed_senders.jpush
    assert isinstance(sender, JPushSender)
    now = utcnow()
    message = ReminderMessage(uuid.uuid4(), uuid.uuid4(), "booking_reminder", "提醒", "明天10点",
                              now + timedelta(hours=2))  # fmt: skip
    device = ["1a0018970a9c8fcbd1d"]

    # an ordinary app gets at most 10 cids per call: 25 take three calls
    asked = standin.cid_requests
    cids = await sender.issue_dedup_ids(25)
    assert len(set(cids)) == 25 and standin.cid_requests == asked + 3
    assert all(standin.issued[c].app_key == standin.app_key for c in cids)

    for _ in range(2):  # a worker died after JPush took it: the next one sends it again
        [result] = await sender.send(message, device, now, ["k1"], [cids[0]])
        assert result.outcome is Outcome.SENT
    assert len(standin.delivered[device[0]]) == 1

    # cids JPush did not issue are refused, pushed nowhere: made up in JPush's format,
    # issued to another app of the same account, or older than the day a cid lives
    other_app = "7a7a7a7a7a7a7a7a7a7a7a7a"
    standin.other_apps[other_app] = "e2e2e2e2e2e2e2e2e2e2e2e2"
    neighbour = JPushSender(other_app, standin.other_apps[other_app], server.base_url, 5.0)
    [foreign] = await neighbour.issue_dedup_ids(1)
    await neighbour.aclose()
    clock = standin.clock
    standin.clock = lambda: clock() - 86_401  # issued more than a day ago
    [stale] = await sender.issue_dedup_ids(1)
    standin.clock = clock
    for cid in (f"{standin.app_key}-{uuid.uuid4()}", foreign, stale):
        [result] = await sender.send(message, device, now, ["k2"], [cid])
        assert (result.outcome, result.error) == (Outcome.FAILED, "jpush:1003"), cid
    assert len(standin.delivered[device[0]]) == 1

    standin.fail_next.append(503)
    [result] = await sender.send(message, device, now, ["k2"], [cids[1]])
    assert result.outcome is Outcome.RETRY
    standin.fail_next_cid.append(503)
    with pytest.raises(CidUnavailable):
        await sender.issue_dedup_ids(1)
    wrong = JPushSender(standin.app_key, "not-the-secret", server.base_url, timeout=5.0)
    [result] = await wrong.send(message, device, now, ["k3"], [cids[2]])
    assert result.outcome is Outcome.RETRY and result.error == "unauthorized"
    with pytest.raises(CidUnavailable):
        await wrong.issue_dedup_ids(1)
    await wrong.aclose()


async def test_a_dead_workers_jpush_batch_is_resent_with_its_cid_and_shown_once(
    client: ApiClient,
    pipeline: Pipeline,
    mixed_senders: Senders,
    jpush_server: tuple[JPushStandin, StandinServer],
    sessionmaker: Any,
    redis: Any,
    test_settings: Any,
) -> None:
    """Leases and requeue with JPush devices: a worker claims a batch (committed), JPush
    takes it, the worker dies before recording anything; once its lease runs out another
    worker sends the batch again with the same cids, which JPush answers without pushing."""
    import asyncio

    from core.timezones import utcnow

    standin = jpush_server[0]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    ids = await jpush_subscribers(client, standin, "1a0018970a9c8fcb", 3)
    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers", json=offer_body(shop_id), headers=owner.headers
    )
    assert r.status_code == 202, r.text
    await pipeline.dispatch()
    dead, batch = await pipeline.claim_as_dead_worker(mixed_senders)
    assert batch is not None and {d.token for d in batch.claimed} == set(ids)
    await dead._send_push(batch, utcnow())
    pushes = standin.requests
    assert {i: len(standin.delivered[i]) for i in ids} == {i: 1 for i in ids}
    first = {i: standin.delivered[i][0]["cid"] for i in ids}
    assert all(standin.issued[c].app_key == standin.app_key for c in first.values())

    await asyncio.sleep(0.3)  # the lease runs out: nobody renews it
    heir = pipeline.consumer(mixed_senders, settings=pipeline.short_lease(), name="heir")
    await pipeline.drain(heir)
    assert standin.requests == pushes + len(ids)  # the heir did send them again ...
    assert {i: len(standin.delivered[i]) for i in ids} == {i: 1 for i in ids}  # ... shown once
    assert standin.refused == []  # with the cids the dead worker stored, which JPush issued
    rows = await pipeline.deliveries(r.json()["id"])
    assert {(row["status"], row["attempts"]) for row in rows} == {("sent", 2)}
    assert {row["token"]: row["jpush_cid"] for row in rows} == first


async def test_jpush_devices_are_under_the_same_daily_caps(
    client: ApiClient,
    pipeline: Pipeline,
    mixed_senders: Senders,
    jpush_server: tuple[JPushStandin, StandinServer],
    sessionmaker: Any,
    test_settings: Any,
) -> None:
    """A mainland phone reached through JPush counts against the per-merchant daily cap like
    an FCM one: the merchant's second offer of the day does not reach it."""
    import uuid

    from core.timezones import utcnow
    from push import schemas, service

    standin = jpush_server[0]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    user, _ = await subscriber(client, at=offset(100), categories=["dining"], devices=0)
    await jpush_device(client, user, "1a0018970a9c8fcbcap")
    standin.registered.add("1a0018970a9c8fcbcap")
    capped = test_settings.model_copy(update={"push_merchant_daily_cap": 1})
    estimates = []
    for _ in range(2):
        async with sessionmaker.begin() as session:
            accepted = await service.create_flash_offer(
                session,
                merchant_id=uuid.UUID(merchant_id),
                created_by=uuid.UUID(owner.user_id),
                data=schemas.FlashOfferCreate.model_validate(offer_body(shop_id)),
                now=utcnow(),
                settings=capped,
            )
        estimates.append(accepted.recipients_estimate)
        await pipeline.drain(pipeline.consumer(mixed_senders))
    assert estimates == [1, 0]
    assert len(standin.delivered["1a0018970a9c8fcbcap"]) == 1


async def test_a_cid_that_cannot_be_fetched_holds_the_push_back_and_loses_nothing(
    client: ApiClient,
    pipeline: Pipeline,
    mixed_senders: Senders,
    jpush_server: tuple[JPushStandin, StandinServer],
) -> None:
    """JPush's cid endpoint fails: nothing is pushed without a cid (a resend could not repeat
    it); the deliveries wait for a retry, get their cids then, and each phone gets the offer
    once."""
    standin = jpush_server[0]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    ids = await jpush_subscribers(client, standin, "1a0018970a9c8fcf", 2)
    standin.fail_next_cid.extend([503, 500])
    pushes, asked = standin.requests, standin.cid_requests
    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers", json=offer_body(shop_id), headers=owner.headers
    )
    assert r.status_code == 202, r.text

    consumer = pipeline.consumer(mixed_senders)
    await pipeline.dispatch()
    await consumer.run_once(block_ms=100)
    assert standin.requests == pushes  # no cid, no push
    rows = await pipeline.deliveries(r.json()["id"])
    assert {(row["status"], row["error"], row["jpush_cid"]) for row in rows} == {
        ("retry", "dedup_id_unavailable", None)
    }

    await pipeline.drain(consumer)
    assert standin.cid_requests == asked + 3  # two failures, then the cids
    assert {i: len(standin.delivered[i]) for i in ids} == {i: 1 for i in ids}
    rows = await pipeline.deliveries(r.json()["id"])
    assert {row["status"] for row in rows} == {"sent"}
    assert {row["jpush_cid"] for row in rows} == {standin.delivered[i][0]["cid"] for i in ids}
