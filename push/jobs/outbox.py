"""From the outbox to the transports: dispatcher, Redis stream consumers, retries.

Path of a message: the offer's transaction writes deliveries + outbox batches -> the
dispatcher job moves due batches to a Redis stream (`XADD`, then commits) -> `corner worker`
consumers read the stream in a consumer group, claim the batch's deliveries in a committed
conditional UPDATE (queued/retry -> sending, `attempts + 1`, a lease), send, record the
outcome (only now `sent`), and only then `XACK`.

What is guaranteed when a worker dies at any point (SIGKILL included):
- nothing is lost: a stream entry not acknowledged is taken over by another consumer
  (`XAUTOCLAIM` after `push_reclaim_idle_seconds`); deliveries claimed by the dead worker
  keep their lease only as long as it was renewed (a live sender renews every third of
  `push_send_lease_seconds`), then any consumer puts push deliveries back to `retry` and
  their batch back in the outbox, and they are sent again until FCM answers (or the offer
  expires / attempts run out: failed);
- nothing recorded is sent again: a delivery is claimed by one worker at a time (the
  conditional UPDATE), a duplicate or taken-over stream entry finds nothing left to claim,
  and a worker's writes are fenced by the `attempts` it claimed, so a stalled worker cannot
  overwrite what a later claimer recorded;
- for the deliveries in flight at the moment of the crash (FCM may have accepted them, the
  answer was lost) the send is at-least-once: FCM's HTTP v1 API has no idempotency key, so no
  sender can make it exactly-once. The resend carries the same identity (Android `tag`, APNs
  `apns-collapse-id`, web `tag`, `data.delivery_id`, see senders.py), so the device replaces
  the notification it may already show: the user sees the offer once, and the app can drop a
  repeated data message by `delivery_id`. Duplicates at FCM are bounded by what was in flight
  (at most `push_consumer_concurrency` batches of one worker);
- JPush has an idempotency key, `cid`, which JPush itself issues: before a JPush delivery is
  first pushed, its cid is fetched (`GET /v3/push/cid`) and stored on the delivery in a
  committed, claim-fenced UPDATE; every resend carries the stored cid and JPush answers it
  with the first push's result without pushing again (exactly once at JPush, within the
  day a cid lives, which outlasts any flash offer). No cid (JPush or the database down): no
  push, the delivery is retried later;
- SMS has no such identity: an SMS in doubt is failed `outcome_unknown`, never sent twice;
- a stopping worker (SIGTERM, task cancellation) finishes the batches it is sending first.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts import service as accounts_service
from core.settings import Settings
from core.timezones import utcnow
from push import repository
from push.repository.outbox import ClaimedDelivery
from push.service.devices import forget_dead_devices
from push.service.senders import (
    FCM_MAX_TOKENS_PER_CALL,
    DedupIdIssuer,
    OfferMessage,
    Outcome,
    Senders,
    SendResult,
    sms_of,
    sms_outcome,
)

log = structlog.get_logger("corner.push")

GROUP = "senders"
MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0


def backoff_seconds(
    attempt: int,
    retry_after: float | None,
    rng: random.Random,
    base: float = BACKOFF_BASE_SECONDS,
) -> float:
    """Exponential backoff with jitter (half fixed, half random), never below Retry-After."""
    ceiling = min(BACKOFF_MAX_SECONDS, base * 2 ** max(0, attempt - 1))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)


async def dispatch_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    *,
    stream: str,
    now: datetime,
    limit: int = 500,
) -> int:
    """Move due outbox batches to the stream. XADD happens before the commit: a crash in
    between re-sends the entry later, which the consumers' claim makes harmless."""
    async with sessionmaker.begin() as session:
        ids = await repository.OutboxRepository(session).take_due_outbox(now=now, limit=limit)
        if ids:
            pipe = redis.pipeline(transaction=False)
            for outbox_id in ids:
                pipe.xadd(stream, {"outbox_id": str(outbox_id)})
            await pipe.execute()
    return len(ids)


async def requeue_stale_sends(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Put deliveries of dead workers (lease expired) back to be sent; see the module doc."""
    async with sessionmaker.begin() as session:
        count, batches = await repository.OutboxRepository(session).requeue_stale_sending(
            now=now, max_attempts=MAX_ATTEMPTS
        )
        for batch in batches:
            await repository.OutboxRepository(session).reschedule_batch(
                offer_id=batch.offer_id, channel=batch.channel, batch_no=batch.batch_no
            )
    if count:
        log.warning("push_stale_sends_requeued", deliveries=count, batches=len(batches))
    return count


@dataclass
class _Batch:
    message: OfferMessage
    channel: str
    offer_id: uuid.UUID
    batch_no: int
    claimed: list[ClaimedDelivery]
    phones: dict[uuid.UUID, str | None]
    sign_name: str | None = None  # the merchant's SMS signature (None: the platform's)


class Consumer:
    """One stream consumer (one per worker process); sends up to `concurrency` batches at once."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: Redis,
        settings: Settings,
        senders: Senders,
        *,
        name: str | None = None,
        rng: random.Random | None = None,
        backoff_base_seconds: float = BACKOFF_BASE_SECONDS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.redis = redis
        self.senders = senders
        self.stream = settings.push_queue_stream
        self.concurrency = max(1, settings.push_consumer_concurrency)
        self.reclaim_idle_ms = settings.push_reclaim_idle_seconds * 1000
        self.lease = timedelta(seconds=settings.push_send_lease_seconds)
        self._next_recovery = 0.0
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.rng = rng or random.Random()
        self.backoff_base_seconds = backoff_base_seconds
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        # Redis 7 creates consumers lazily; registering makes live workers visible (XINFO)
        await self.redis.xgroup_createconsumer(self.stream, GROUP, self.name)
        self._group_ready = True

    async def run_once(self, block_ms: int = 1000) -> int:
        """Take over stale entries or read new ones, and process them; returns batches done."""
        await self._ensure_group()
        await self._recover_stale_sends()
        _, entries, *_ = await self.redis.xautoclaim(
            self.stream,
            GROUP,
            self.name,
            min_idle_time=self.reclaim_idle_ms,
            start_id="0-0",
            count=self.concurrency,
        )
        if not entries:
            response = await self.redis.xreadgroup(
                GROUP, self.name, {self.stream: ">"}, count=self.concurrency, block=block_ms
            )
            entries = response[0][1] if response else []  # type: ignore[index]
        tasks = [
            asyncio.create_task(self._handle(entry_id, fields)) for entry_id, fields in entries
        ]
        if not tasks:
            return 0
        try:
            done = await asyncio.shield(asyncio.gather(*tasks))
        except asyncio.CancelledError:
            # stopping: let the batches in flight finish and be recorded, then stop
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return sum(done)

    async def _recover_stale_sends(self) -> None:
        """Every third of a lease, requeue what dead workers left `sending` (cheap: a partial
        index holds only the rows being sent)."""
        clock = time.monotonic()
        if clock < self._next_recovery:
            return
        self._next_recovery = clock + self.lease.total_seconds() / 3
        try:
            await requeue_stale_sends(self.sessionmaker, utcnow())
        except Exception:  # retried next time; sending goes on meanwhile
            log.exception("push_requeue_failed")

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> int:
        if fields and b"outbox_id" in fields:
            try:
                await self.process(int(fields[b"outbox_id"]))
            except Exception:  # left unacknowledged: another consumer takes it over later
                log.exception("push_batch_failed", entry=entry_id)
                return 0
        await self.redis.xack(self.stream, GROUP, entry_id)
        await self.redis.xdel(self.stream, entry_id)
        return 1

    async def process(self, outbox_id: int) -> None:
        now = utcnow()
        batch = await self._claim(outbox_id, now)
        if batch is None or not batch.claimed:
            return
        claims = [(d.id, d.attempts) for d in batch.claimed]
        keeper = asyncio.create_task(self._keep_lease(claims))
        try:
            if batch.channel == "push":
                results = await self._send_push(batch, now)
            else:
                results = await self._send_sms(batch)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        await self._record(batch, results, utcnow())

    async def _keep_lease(self, claims: list[repository.Claim]) -> None:
        """Renew the lease of the claimed deliveries while they are being sent, so a slow
        send is never mistaken for a dead worker's (which would send it twice)."""
        every = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            try:
                async with self.sessionmaker.begin() as session:
                    await repository.OutboxRepository(session).renew_leases(
                        claims=claims, lease_until=utcnow() + self.lease
                    )
            except Exception:  # the next tick tries again; the fence keeps records right
                log.exception("push_lease_renewal_failed")

    async def _claim(self, outbox_id: int, now: datetime) -> _Batch | None:
        async with self.sessionmaker.begin() as session:
            entry = await repository.OutboxRepository(session).get_outbox(outbox_id)
            if entry is None:
                return None
            offer = await repository.OfferRepository(session).get_offer(entry.offer_id)
            if offer is None:
                return None
            if now >= offer.expires_at:
                await repository.OutboxRepository(session).expire_undelivered(
                    offer_id=offer.id, batch_no=entry.batch_no
                )
                return None
            claimed = await repository.OutboxRepository(session).claim_batch(
                offer_id=offer.id,
                batch_no=entry.batch_no,
                now=now,
                lease_until=now + self.lease,
            )
            phones: dict[uuid.UUID, str | None] = {}
            sign_name = None
            if entry.channel == "sms":
                for delivery in claimed:
                    phones[delivery.user_id] = await _phone_of(session, delivery.user_id)
                merchant = await accounts_service.get_merchant(
                    session, merchant_id=offer.merchant_id
                )
                sign_name = merchant.sms_sign_name
            message = OfferMessage(
                offer_id=offer.id,
                merchant_id=offer.merchant_id,
                shop_id=offer.shop_id,
                campaign_id=offer.campaign_id,
                title=offer.title,
                body=offer.body,
                expires_at=offer.expires_at,
            )
        # committed: these deliveries are this consumer's alone from here on
        return _Batch(message, entry.channel, offer.id, entry.batch_no, claimed, phones, sign_name)

    async def _send_push(self, batch: _Batch, now: datetime) -> list[SendResult]:
        results: list[SendResult] = [SendResult(Outcome.FAILED, "device_removed")] * len(
            batch.claimed
        )
        # each device through its own provider (FCM, JPush), the same caps and leases for all
        by_provider: dict[str, list[int]] = defaultdict(list)
        for i, delivery in enumerate(batch.claimed):
            if delivery.token:
                by_provider[delivery.provider or "fcm"].append(i)
        for provider, with_token in by_provider.items():
            sender = self.senders.for_provider(provider)
            for start in range(0, len(with_token), FCM_MAX_TOKENS_PER_CALL):
                chunk = with_token[start : start + FCM_MAX_TOKENS_PER_CALL]
                dedup_ids: list[str] | None = None
                if isinstance(sender, DedupIdIssuer):
                    stored = await self._dedup_ids(sender, [batch.claimed[i] for i in chunk])
                    for i in chunk:  # no stored key, no push: sent later with one
                        if batch.claimed[i].id not in stored:
                            results[i] = SendResult(Outcome.RETRY, "dedup_id_unavailable")
                    chunk = [i for i in chunk if batch.claimed[i].id in stored]
                    dedup_ids = [stored[batch.claimed[i].id] for i in chunk]
                if not chunk:
                    continue
                tokens = [batch.claimed[i].token or "" for i in chunk]
                keys = [str(batch.claimed[i].id) for i in chunk]
                try:
                    answers = await sender.send(batch.message, tokens, now, keys, dedup_ids)
                except Exception as exc:  # the transport failed as a whole: retry the chunk
                    log.warning("push_send_failed", provider=provider, error=str(exc))
                    answers = [SendResult(Outcome.RETRY, "transport_error") for _ in chunk]
                for i, answer in zip(chunk, answers, strict=True):
                    results[i] = answer
        return results

    async def _dedup_ids(
        self, sender: DedupIdIssuer, deliveries: list[ClaimedDelivery]
    ) -> dict[int, str]:
        """Each delivery's provider-issued dedup key (JPush cid), stored and committed before
        anything is pushed: the one a previous attempt stored, else a fresh one from the
        provider. A delivery whose key could not be fetched or stored is left out (not pushed
        now, retried later), so a push never goes out with a key a resend would not repeat."""
        known = {d.id: d.jpush_cid for d in deliveries if d.jpush_cid}
        missing = [d for d in deliveries if not d.jpush_cid]
        if not missing:
            return known
        try:
            fresh = await sender.issue_dedup_ids(len(missing))
            async with self.sessionmaker.begin() as session:
                stored = await repository.OutboxRepository(session).store_dedup_ids(
                    ids={(d.id, d.attempts): key for d, key in zip(missing, fresh, strict=True)}
                )
        except Exception as exc:  # provider or database down: these wait for the retry
            log.warning("push_dedup_ids_unavailable", deliveries=len(missing), error=str(exc))
            return known
        return known | stored

    async def _send_sms(self, batch: _Batch) -> list[SendResult]:
        results: list[SendResult] = []
        for delivery in batch.claimed:
            phone = batch.phones.get(delivery.user_id)
            if not phone:
                results.append(SendResult(Outcome.FAILED, "no_phone"))
                continue
            try:
                answer = await self.senders.sms.send(sms_of(batch.message, phone, batch.sign_name))
                results.append(sms_outcome(answer))
            except Exception as exc:
                log.warning("sms_send_failed", error=str(exc))
                results.append(SendResult(Outcome.RETRY, "transport_error"))
        return results

    async def _record(self, batch: _Batch, results: list[SendResult], now: datetime) -> None:
        sent: list[repository.Claim] = []
        failed: dict[str, list[repository.Claim]] = defaultdict(list)
        retries: dict[str, dict[repository.Claim, datetime]] = defaultdict(dict)
        dead_devices: list[uuid.UUID] = []
        for delivery, result in zip(batch.claimed, results, strict=True):
            error = result.error or result.outcome.value
            claim = (delivery.id, delivery.attempts)
            if result.outcome is Outcome.SENT:
                sent.append(claim)
            elif result.outcome is Outcome.UNREGISTERED:
                failed[error].append(claim)
                if delivery.device_id is not None:
                    dead_devices.append(delivery.device_id)
            elif result.outcome is Outcome.RETRY and delivery.attempts < MAX_ATTEMPTS:
                when = now + timedelta(
                    seconds=backoff_seconds(
                        delivery.attempts, result.retry_after, self.rng, self.backoff_base_seconds
                    )
                )
                if when < batch.message.expires_at:
                    retries[error][claim] = when
                else:
                    failed["expired"].append(claim)
            else:
                failed[error].append(claim)
        async with self.sessionmaker.begin() as session:
            await repository.OutboxRepository(session).finish_deliveries(
                claims=sent, status="sent", now=now
            )
            for error, claims in failed.items():
                await repository.OutboxRepository(session).finish_deliveries(
                    claims=claims, status="failed", now=now, error=error[:200]
                )
            for error, retry_at in retries.items():
                await repository.OutboxRepository(session).schedule_retries(
                    retry_at=retry_at, error=error
                )
            await forget_dead_devices(session, device_ids=dead_devices)
            # unfinished deliveries come back through the outbox, so retries survive restarts
            await repository.OutboxRepository(session).reschedule_batch(
                offer_id=batch.offer_id, channel=batch.channel, batch_no=batch.batch_no
            )
        due = [when for group in retries.values() for when in group.values()]
        log.info(
            "push_batch_done",
            offer_id=str(batch.offer_id),
            sent=len(sent),
            failed=sum(len(v) for v in failed.values()),
            retry=len(due),
        )


async def _phone_of(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    try:
        return (await accounts_service.get_user(session, user_id=user_id)).phone
    except accounts_service.UserNotFound:
        return None
