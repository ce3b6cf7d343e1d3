"""Delivery through the real firebase-admin client to a local fake FCM."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from firebase_admin import exceptions
from sqlalchemy import text

from core.timezones import utcnow
from push import repository, schemas, service
from push.jobs.outbox import requeue_stale_sends
from push.service.senders import LogPushSender, Outcome, Senders, _classify, build_senders
from tests.helpers import ApiClient
from tests.push.fake_fcm import FakeFcmServer
from tests.push.helpers import Pipeline, merchant_with_shop, offer_body, offset, subscriber


async def _device_tokens(sessionmaker) -> set[str]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session:
        return set((await session.execute(text("SELECT token FROM push_devices"))).scalars())


async def test_fcm_delivery_errors_retries_and_opened(
    client: ApiClient,
    pipeline: Pipeline,
    fake_fcm: FakeFcmServer,
    fcm_senders: Senders,
    sessionmaker,
) -> None:  # type: ignore[no-untyped-def]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    happy, happy_tokens = await subscriber(client, at=offset(100), categories=["dining"], devices=2)
    _, [gone] = await subscriber(client, at=offset(100), categories=["dining"])
    _, [invalid] = await subscriber(client, at=offset(100), categories=["dining"])
    _, [flaky] = await subscriber(client, at=offset(100), categories=["dining"])
    _, [flaky2] = await subscriber(client, at=offset(100), categories=["dining"])
    await subscriber(client, at=offset(100), categories=["dining"], devices=0, channels=["sms"])
    fake_fcm.state.unregistered.add(gone)
    fake_fcm.state.invalid.add(invalid)
    fake_fcm.state.script[flaky] = [429, 503]
    fake_fcm.state.script[flaky2] = [503]  # retried on another schedule than `flaky`

    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers", json=offer_body(shop_id), headers=owner.headers
    )
    assert r.status_code == 202 and r.json()["recipients_estimate"] == 6
    offer_id = r.json()["id"]
    await pipeline.drain(pipeline.consumer(fcm_senders))

    assert fake_fcm.state.delivered_counts() == {
        happy_tokens[0]: 1,
        happy_tokens[1]: 1,
        flaky: 1,
        flaky2: 1,
    }
    assert sum(1 for req in fake_fcm.state.requests if req["message"]["token"] == flaky) == 3
    assert fake_fcm.state.token_requests >= 1  # OAuth through the service account's token_uri
    message = fake_fcm.state.requests[0]["message"]
    assert message["notification"] == {"title": "限时特惠", "body": "牛肉面半价，仅限今天下午"}
    assert message["android"]["collapse_key"] == f"merchant-{merchant_id}"
    ttl = float(message["android"]["ttl"].rstrip("s"))
    assert 3500 < ttl <= 3600
    assert message["data"]["offer_id"] == offer_id
    # dead tokens are forgotten
    assert gone not in await _device_tokens(sessionmaker)
    assert invalid not in await _device_tokens(sessionmaker)

    rows = await pipeline.deliveries(offer_id)
    by_status = {(row["channel"], row["status"], row["error"]) for row in rows}
    assert ("push", "failed", "unregistered") in by_status
    assert ("push", "failed", "invalid_token") in by_status
    assert ("sms", "sent", None) in by_status
    flaky_row = next(row for row in rows if row["token"] == flaky)
    assert flaky_row["status"] == "sent" and flaky_row["attempts"] == 3

    await client.post(f"/v1/flash-offers/{offer_id}/opened", headers=happy.headers)
    await client.post(f"/v1/flash-offers/{offer_id}/opened", headers=happy.headers)
    offer = (await client.get(f"/v1/flash-offers/{offer_id}", headers=owner.headers)).json()
    assert offer["status"] == "completed"
    assert (offer["recipients"], offer["sent"], offer["failed"], offer["opened"]) == (6, 5, 2, 1)
    assert offer["queued"] == 0


async def _big_offer(
    client: ApiClient, sessionmaker, test_settings, devices: int
) -> tuple[Any, list[str]]:  # type: ignore[no-untyped-def]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    tokens: list[str] = []
    for _ in range(3):
        _, mine = await subscriber(
            client, at=offset(100), categories=["dining"], devices=devices // 3
        )
        tokens += mine
    settings = test_settings.model_copy(update={"push_batch_size": 10})
    async with sessionmaker.begin() as session:
        accepted = await service.create_flash_offer(
            session,
            merchant_id=uuid.UUID(merchant_id),
            created_by=uuid.UUID(owner.user_id),
            data=schemas.FlashOfferCreate.model_validate(offer_body(shop_id)),
            now=utcnow(),
            settings=settings,
        )
    return accepted, tokens


async def test_cancelled_worker_loses_nothing_and_sends_nothing_twice(
    client: ApiClient,
    pipeline: Pipeline,
    fake_fcm: FakeFcmServer,
    fcm_senders: Senders,
    sessionmaker,
    test_settings,
) -> None:  # type: ignore[no-untyped-def]
    accepted, tokens = await _big_offer(client, sessionmaker, test_settings, devices=45)
    fake_fcm.state.delay_seconds = 0.02
    one_at_a_time = test_settings.model_copy(update={"push_consumer_concurrency": 1})
    first = pipeline.consumer(fcm_senders, settings=one_at_a_time, name="first")

    async def run_forever() -> None:
        while True:
            await pipeline.dispatch()
            await first.run_once(block_ms=10)

    task = asyncio.create_task(run_forever())
    for _ in range(2000):  # cancel once the second batch is in flight
        if len(fake_fcm.state.requests) >= 12:
            break
        await asyncio.sleep(0.005)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    delivered_before = len(fake_fcm.state.delivered)
    assert 10 <= delivered_before < 45
    rows = await pipeline.deliveries(str(accepted.id))
    assert sum(row["status"] == "sent" for row in rows) == delivered_before
    assert not any(row["status"] == "sending" for row in rows)

    # a new worker takes over (entries of the first are reclaimed) and finishes the fan-out
    fake_fcm.state.delay_seconds = 0
    second = pipeline.consumer(
        fcm_senders,
        settings=test_settings.model_copy(update={"push_reclaim_idle_seconds": 0}),
        name="second",
    )
    await pipeline.drain(second)
    counts = fake_fcm.state.delivered_counts()
    assert set(counts) == set(tokens) and set(counts.values()) == {1}
    rows = await pipeline.deliveries(str(accepted.id))
    assert {row["status"] for row in rows} == {"sent"}


async def test_dead_workers_deliveries_are_resent_with_the_same_identity(
    client: ApiClient,
    pipeline: Pipeline,
    fake_fcm: FakeFcmServer,
    fcm_senders: Senders,
    sessionmaker,
    redis,
    test_settings,
) -> None:  # type: ignore[no-untyped-def]
    accepted, tokens = await _big_offer(client, sessionmaker, test_settings, devices=30)
    await pipeline.dispatch()
    short_lease = pipeline.short_lease()
    # a worker reads one batch, claims it (committed), sends it (FCM accepts) and dies before
    # it can record the answers or acknowledge the entry
    dead, batch = await pipeline.claim_as_dead_worker(fcm_senders)
    assert batch is not None and len(batch.claimed) == 10
    in_flight = {d.token for d in batch.claimed}
    answers = await dead._send_push(batch, utcnow())
    assert fake_fcm.state.delivered_counts() == {token: 1 for token in in_flight}

    # once its lease ran out (nobody renews it), another worker sends those again
    await asyncio.sleep(0.3)
    heir = pipeline.consumer(fcm_senders, settings=short_lease, name="heir")
    await pipeline.drain(heir)
    raw = fake_fcm.state.delivered_counts()
    assert set(raw) == set(tokens)
    assert {t for t, n in raw.items() if n > 1} == in_flight and set(raw.values()) == {1, 2}
    # ... with the same identity: each device shows the offer once, with one delivery id
    assert fake_fcm.state.shown_counts() == {token: 1 for token in tokens}
    assert all(len(set(ids)) == 1 for ids in fake_fcm.state.delivery_ids.values())
    rows = await pipeline.deliveries(str(accepted.id))
    assert {row["status"] for row in rows} == {"sent"}
    assert {row["attempts"] for row in rows if row["token"] in in_flight} == {2}
    assert await redis.xpending(test_settings.push_queue_stream, "senders") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }

    # the dead worker's late answers are fenced off: the heir's claim is the one recorded
    async with sessionmaker.begin() as session:
        assert (
            await repository.OutboxRepository(session).finish_deliveries(
                claims=[(d.id, d.attempts) for d in batch.claimed],
                status="failed",
                now=utcnow(),
                error="late",
            )
            == 0
        )
    assert len(answers) == 10


async def test_stalled_worker_records_its_answer_instead_of_a_resend(
    client: ApiClient,
    pipeline: Pipeline,
    fake_fcm: FakeFcmServer,
    fcm_senders: Senders,
    sessionmaker,
    test_settings,
) -> None:  # type: ignore[no-untyped-def]
    """A worker slower than its lease whose deliveries were requeued but not yet claimed
    again: its answer still counts, so they are not sent a second time."""
    accepted, tokens = await _big_offer(client, sessionmaker, test_settings, devices=9)
    await pipeline.dispatch()
    short_lease = test_settings.model_copy(update={"push_send_lease_seconds": 0.1})
    slow = pipeline.consumer(fcm_senders, settings=short_lease, name="slow")
    async with sessionmaker() as session:
        outbox_id = (await session.execute(text("SELECT min(id) FROM push_outbox"))).scalar_one()
    batch = await slow._claim(outbox_id, utcnow())
    assert batch is not None
    results = await slow._send_push(batch, utcnow())
    assert await requeue_stale_sends(sessionmaker, utcnow() + timedelta(seconds=1)) == 9
    await slow._record(batch, results, utcnow())
    await pipeline.drain(pipeline.consumer(fcm_senders, name="next"))
    assert fake_fcm.state.delivered_counts() == {token: 1 for token in tokens}
    rows = await pipeline.deliveries(str(accepted.id))
    assert {(row["status"], row["attempts"]) for row in rows} == {("sent", 1)}


async def test_lease_is_renewed_while_sending(
    client: ApiClient,
    pipeline: Pipeline,
    fake_fcm: FakeFcmServer,
    fcm_senders: Senders,
    sessionmaker,
    test_settings,
) -> None:  # type: ignore[no-untyped-def]
    """A send slower than the lease is not mistaken for a dead worker's."""
    _, tokens = await _big_offer(client, sessionmaker, test_settings, devices=3)
    fake_fcm.state.delay_seconds = 0.5
    short_lease = test_settings.model_copy(update={"push_send_lease_seconds": 0.15})
    worker = pipeline.consumer(fcm_senders, settings=short_lease, name="worker")
    other = pipeline.consumer(fcm_senders, settings=short_lease, name="other")
    await pipeline.dispatch()
    sending = asyncio.create_task(worker.run_once(block_ms=10))
    for _ in range(20):  # meanwhile another worker looks for dead workers' deliveries
        await asyncio.sleep(0.05)
        assert await requeue_stale_sends(sessionmaker, utcnow()) == 0
    await sending
    assert fake_fcm.state.delivered_counts() == {token: 1 for token in tokens}
    await pipeline.drain(other)
    assert fake_fcm.state.delivered_counts() == {token: 1 for token in tokens}


async def test_log_sink_without_credentials_and_expiry(
    client: ApiClient, pipeline: Pipeline, log_senders: Senders, sessionmaker, test_settings
) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(build_senders(test_settings).push, LogPushSender)
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    await subscriber(client, at=offset(100), categories=["dining"], devices=2)
    url = f"/v1/merchants/{merchant_id}/flash-offers"
    first = (await client.post(url, json=offer_body(shop_id), headers=owner.headers)).json()
    await pipeline.drain(pipeline.consumer(log_senders))
    offer = (await client.get(f"/v1/flash-offers/{first['id']}", headers=owner.headers)).json()
    assert (offer["sent"], offer["failed"], offer["status"]) == (2, 0, "completed")

    # an offer whose batches are only picked up after it expired is not sent any more
    await subscriber(client, at=offset(100), categories=["dining"], devices=1)
    second = (await client.post(url, json=offer_body(shop_id), headers=owner.headers)).json()
    async with sessionmaker.begin() as session:
        await session.execute(
            text("UPDATE flash_offers SET expires_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": uuid.UUID(second["id"])},
        )
    await pipeline.drain(pipeline.consumer(log_senders))
    rows = await pipeline.deliveries(second["id"])
    assert [(row["status"], row["error"]) for row in rows] == [("failed", "expired")]


def test_a_lost_answer_is_retried_not_given_up() -> None:
    """A read timeout may hide an accepted message: it is sent again (same identity), like a
    crash mid-send; a request that never left is retried as well."""
    lost = _classify(exceptions.DeadlineExceededError("timed out", cause=httpx.ReadTimeout("t")))
    assert (lost.outcome, lost.error) == (Outcome.RETRY, "outcome_unknown:ReadTimeout")
    never_left = _classify(exceptions.UnavailableError("down", cause=httpx.ConnectError("c")))
    assert (never_left.outcome, never_left.error) == (Outcome.RETRY, "not_sent:ConnectError")
