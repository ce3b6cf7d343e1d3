"""The outbox and deliveries: due batches, claims with leases, results, retries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from push.models import Delivery, OutboxEntry

# ---------------------------------------------------------------- outbox and delivery


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    user_id: uuid.UUID
    device_id: uuid.UUID | None
    token: str | None
    platform: str | None
    attempts: int
    provider: str | None = None  # the device's push provider (fcm, jpush)
    jpush_cid: str | None = None  # JPush's dedup key, once one was stored for it


# A claim is (delivery id, attempts after claiming it): `attempts` grows with every claim, so
# it fences a worker's writes to the deliveries it claimed. A worker whose lease expired and
# whose deliveries another worker claimed again can no longer renew or record them.
Claim = tuple[int, int]

_CLAIMS = "unnest(CAST(:ids AS bigint[]), CAST(:attempts AS smallint[]))"


def _claim_params(claims: list[Claim]) -> dict[str, list[int]]:
    return {"ids": [c[0] for c in claims], "attempts": [c[1] for c in claims]}


@dataclass(frozen=True)
class StaleBatch:
    offer_id: uuid.UUID
    channel: str
    batch_no: int


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take_due_outbox(self, *, now: datetime, limit: int) -> list[int]:
        """Mark due batches dispatched and return them (the caller enqueues, then commits)."""
        rows = await self.session.execute(
            text("""
                UPDATE push_outbox SET status = 'dispatched', dispatched_at = :now
                WHERE id IN (SELECT id FROM push_outbox
                             WHERE status = 'pending' AND due_at <= :now
                             ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED)
                RETURNING id
            """),
            {"now": now, "limit": limit},
        )
        return [r[0] for r in rows]

    async def reschedule_batch(self, *, offer_id: uuid.UUID, channel: str, batch_no: int) -> None:
        """Put the batch back in the outbox for its earliest unfinished delivery (retries), unless
        a pending entry already covers it."""
        await self.session.execute(
            text("""
                INSERT INTO push_outbox (offer_id, channel, batch_no, due_at)
                SELECT :offer_id, :channel, :batch_no, min(next_attempt_at)
                FROM flash_offer_deliveries
                WHERE offer_id = :offer_id AND batch_no = :batch_no
                  AND status IN ('queued', 'retry')
                HAVING count(*) > 0 AND NOT EXISTS (
                  SELECT 1 FROM push_outbox o WHERE o.offer_id = :offer_id
                    AND o.batch_no = :batch_no AND o.status = 'pending')
            """),
            {"offer_id": offer_id, "channel": channel, "batch_no": batch_no},
        )

    async def get_outbox(self, outbox_id: int) -> OutboxEntry | None:
        return await self.session.get(OutboxEntry, outbox_id)

    async def claim_batch(
        self,
        *,
        offer_id: uuid.UUID,
        batch_no: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[ClaimedDelivery]:
        """Move the batch's due deliveries to `sending` (committed by the caller before sending).

        The conditional UPDATE is the exactly-once guard: a duplicate queue entry, a reclaimed
        one or a second worker finds nothing left to claim.
        """
        rows = await self.session.execute(
            text("""
                WITH claimed AS (
                  UPDATE flash_offer_deliveries
                  SET status = 'sending', attempts = attempts + 1, lease_until = :lease_until
                  WHERE offer_id = :offer_id AND batch_no = :batch_no
                    AND status IN ('queued', 'retry') AND next_attempt_at <= :now
                  RETURNING id, user_id, device_id, attempts, jpush_cid
                )
                SELECT c.id, c.user_id, c.device_id, d.token, d.platform, c.attempts, d.provider,
                       c.jpush_cid
                FROM claimed c LEFT JOIN push_devices d ON d.id = c.device_id
                ORDER BY c.id
            """),
            {"offer_id": offer_id, "batch_no": batch_no, "now": now, "lease_until": lease_until},
        )
        return [ClaimedDelivery(*r) for r in rows]

    async def store_dedup_ids(self, *, ids: dict[Claim, str]) -> dict[int, str]:
        """Give claimed deliveries that have none the provider's dedup key (JPush cid), before
        they are pushed; answers the ones stored (delivery id -> key). Fenced like every write
        of a claim: not once another worker claimed the delivery again, and never over a key
        already stored (that one may have reached the provider)."""
        if not ids:
            return {}
        claims = list(ids)
        rows = await self.session.execute(
            text("""
                UPDATE flash_offer_deliveries d SET jpush_cid = c.cid
                FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS smallint[]),
                            CAST(:cids AS varchar[])) AS c(id, attempts, cid)
                WHERE d.id = c.id AND d.attempts = c.attempts AND d.status = 'sending'
                  AND d.jpush_cid IS NULL
                RETURNING d.id, d.jpush_cid
            """),
            _claim_params(claims) | {"cids": list(ids.values())},
        )
        return {r[0]: r[1] for r in rows}

    async def renew_leases(self, *, claims: list[Claim], lease_until: datetime) -> int:
        """Extend the lease of the deliveries this worker still holds (it is alive and sending)."""
        if not claims:
            return 0
        result = await self.session.execute(
            text(f"""
                UPDATE flash_offer_deliveries d SET lease_until = :lease_until
                FROM {_CLAIMS} AS c(id, attempts)
                WHERE d.id = c.id AND d.attempts = c.attempts AND d.status = 'sending'
            """),
            _claim_params(claims) | {"lease_until": lease_until},
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]

    async def finish_deliveries(
        self,
        *,
        claims: list[Claim],
        status: str,
        now: datetime,
        error: str | None = None,
    ) -> int:
        """Record the transport's answer for deliveries this worker claimed.

        Also when their lease expired and they were put back to `retry` meanwhile (a stalled
        worker): the answer is newer than that guess, and recording it spares the resend. Not
        once another worker claimed them again (`attempts` moved on): that worker records.
        """
        if not claims:
            return 0
        result = await self.session.execute(
            text(f"""
                UPDATE flash_offer_deliveries d
                SET status = CAST(:status AS varchar), lease_until = NULL,
                    error = CAST(:error AS text),
                    sent_at = CASE WHEN CAST(:status AS varchar) = 'sent'
                                   THEN CAST(:now AS timestamptz) ELSE d.sent_at END
                FROM {_CLAIMS} AS c(id, attempts)
                WHERE d.id = c.id AND d.attempts = c.attempts AND d.status IN ('sending', 'retry')
            """),
            _claim_params(claims) | {"status": status, "now": now, "error": error},
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]

    async def schedule_retries(self, *, retry_at: dict[Claim, datetime], error: str) -> None:
        if not retry_at:
            return
        claims = list(retry_at)
        await self.session.execute(
            text("""
                UPDATE flash_offer_deliveries d
                SET status = 'retry', next_attempt_at = r.at, lease_until = NULL, error = :error
                FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS smallint[]),
                            CAST(:ats AS timestamptz[])) AS r(id, attempts, at)
                WHERE d.id = r.id AND d.attempts = r.attempts AND d.status IN ('sending', 'retry')
            """),
            _claim_params(claims) | {"ats": list(retry_at.values()), "error": error},
        )

    async def expire_undelivered(self, *, offer_id: uuid.UUID, batch_no: int) -> int:
        stmt = (
            update(Delivery)
            .where(
                Delivery.offer_id == offer_id,
                Delivery.batch_no == batch_no,
                Delivery.status.in_(("queued", "retry")),
            )
            .values(status="failed", error="expired", lease_until=None)
        )
        return (await self.session.execute(stmt)).rowcount  # type: ignore[attr-defined, no-any-return]

    async def requeue_stale_sending(
        self, *, now: datetime, max_attempts: int
    ) -> tuple[int, list[StaleBatch]]:
        """Deliveries whose worker died while sending them (lease expired, not renewed): push
        ones go back to `retry` now, to be sent again with the same identity (FCM accepts it
        twice; the device replaces the first by the second, see push/jobs/outbox.py). SMS
        has no such identity, so an SMS in doubt is failed `outcome_unknown` rather than
        possibly sent twice; so is a push delivery out of attempts. Returns (rows, batches to
        put back in the outbox)."""
        rows = await self.session.execute(
            text("""
                WITH stale AS (
                  SELECT id FROM flash_offer_deliveries
                  WHERE status = 'sending' AND lease_until < :now
                  FOR UPDATE SKIP LOCKED
                )
                UPDATE flash_offer_deliveries d
                SET status = CASE WHEN d.channel = 'push' AND d.attempts < :max_attempts
                                  THEN 'retry' ELSE 'failed' END,
                    error = CASE WHEN d.channel = 'push' AND d.attempts < :max_attempts
                                 THEN 'lease_expired' ELSE 'outcome_unknown' END,
                    next_attempt_at = :now, lease_until = NULL
                FROM stale WHERE d.id = stale.id
                RETURNING d.offer_id, d.channel, d.batch_no, d.status
            """),
            {"now": now, "max_attempts": max_attempts},
        )
        found = rows.all()
        batches = {StaleBatch(o, c, b) for o, c, b, status in found if status == "retry"}
        return len(found), sorted(batches, key=lambda b: (str(b.offer_id), b.batch_no))
