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
from push.service.jpush import JPushSender
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
    assert pushed["cid"].startswith(standin.app_key + "-")
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


async def test_a_resend_carries_the_same_cid_and_is_not_pushed_twice(
    mixed_senders: Senders, jpush_server: tuple[JPushStandin, StandinServer]
) -> None:
    import uuid
    from datetime import timedelta

    from core.timezones import utcnow

    standin = jpush_server[0]
    standin.registered.add("1a0018970a9c8fcbd1d")
    now = utcnow()
    message = ReminderMessage(uuid.uuid4(), uuid.uuid4(), "booking_reminder", "提醒", "明天10点",
                              now + timedelta(hours=2))  # fmt: skip
    assert mixed_senders.jpush is not None
    for _ in range(2):  # a worker died after JPush took it: the next one sends it again
        [result] = await mixed_senders.jpush.send(message, ["1a0018970a9c8fcbd1d"], now, ["k1"])
        assert result.outcome is Outcome.SENT
    assert len(standin.delivered["1a0018970a9c8fcbd1d"]) == 1
    # the same delivery key of another message (delivery ids are a per-database sequence:
    # a restored or staging database repeats them) is another push, not a duplicate
    other = ReminderMessage(uuid.uuid4(), message.merchant_id, "booking_reminder", "提醒",
                            "后天10点", now + timedelta(hours=2))  # fmt: skip
    [result] = await mixed_senders.jpush.send(other, ["1a0018970a9c8fcbd1d"], now, ["k1"])
    assert result.outcome is Outcome.SENT
    assert len(standin.delivered["1a0018970a9c8fcbd1d"]) == 2
    standin.fail_next.append(503)
    [result] = await mixed_senders.jpush.send(message, ["1a0018970a9c8fcbd1d"], now, ["k2"])
    assert result.outcome is Outcome.RETRY
    wrong = JPushSender(standin.app_key, "not-the-secret", jpush_server[1].base_url, timeout=5.0)
    [result] = await wrong.send(message, ["1a0018970a9c8fcbd1d"], now, ["k3"])
    assert result.outcome is Outcome.RETRY and result.error == "unauthorized"
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
    ids = [f"1a0018970a9c8fcb{i:03d}" for i in range(3)]
    for registration_id in ids:
        user, _ = await subscriber(client, at=offset(100), categories=["dining"], devices=0)
        await jpush_device(client, user, registration_id)
        standin.registered.add(registration_id)
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

    await asyncio.sleep(0.3)  # the lease runs out: nobody renews it
    heir = pipeline.consumer(mixed_senders, settings=pipeline.short_lease(), name="heir")
    await pipeline.drain(heir)
    assert standin.requests == pushes + len(ids)  # the heir did send them again ...
    assert {i: len(standin.delivered[i]) for i in ids} == {i: 1 for i in ids}  # ... shown once
    rows = await pipeline.deliveries(r.json()["id"])
    assert {(row["status"], row["attempts"]) for row in rows} == {("sent", 2)}


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
