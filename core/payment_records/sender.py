"""The outbox sender: sends due refunds and closes to their providers, one by one.

Each call is leased in its own committed transaction before the provider hears of it, then
its answer is recorded in another: a sender that dies anywhere leaves a row whose lease runs
out and which is sent again with the same `refund_no`, which the provider refunds once.
Retryable failures back off exponentially (at most an hour) up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.payment_records.models import Payment, PaymentCall
from core.payments import PaymentProvider, ProviderError, payment_provider
from core.settings import Settings
from core.timezones import utcnow

log = structlog.get_logger("corner.payments")

MAX_ATTEMPTS = 12


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class LeasedCall:
    id: uuid.UUID
    kind: str
    refund_no: str | None
    amount: int | None
    reason: str
    attempts: int
    provider: str
    reference: str
    total: int
    currency: str


async def lease_due_call(
    session: AsyncSession, *, now: datetime, lease_seconds: float
) -> LeasedCall | None:
    """Take one due call for `lease_seconds` (a dead sender's lease runs out; its call is then
    taken again and sent with the same refund number)."""
    due = (
        select(PaymentCall.id)
        .where(
            PaymentCall.status == "pending",
            PaymentCall.next_attempt_at <= now,
            or_(PaymentCall.leased_until.is_(None), PaymentCall.leased_until < now),
        )
        .order_by(PaymentCall.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            update(PaymentCall)
            .where(PaymentCall.id == due)
            .values(
                leased_until=now + timedelta(seconds=lease_seconds),
                attempts=PaymentCall.attempts + 1,
            )
            .returning(PaymentCall)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    payment = await session.get(Payment, row.payment_id)
    assert payment is not None
    return LeasedCall(
        row.id,
        row.kind,
        row.refund_no,
        row.amount,
        row.reason,
        row.attempts,
        payment.provider,
        payment.reference,
        payment.amount,
        payment.currency,
    )


async def _finish(session: AsyncSession, call_id: uuid.UUID, **values: Any) -> None:
    await session.execute(
        update(PaymentCall)
        .where(PaymentCall.id == call_id, PaymentCall.status == "pending")
        .values(leased_until=None, updated_at=func.now(), **values)
    )


async def send_call(provider: PaymentProvider, call: LeasedCall) -> dict[str, Any]:
    """Make the provider call; the values to record (raises ProviderError)."""
    if call.kind == "close":
        await provider.close(reference=call.reference)
        return {"status": "succeeded"}
    assert call.refund_no is not None and call.amount is not None
    result = await provider.refund(
        reference=call.reference,
        refund_no=call.refund_no,
        amount=call.amount,
        total=call.total,
        currency=call.currency,
        reason=call.reason,
    )
    return {
        "status": "succeeded" if result.status == "succeeded" else "sent",
        "provider_refund_id": result.provider_refund_id,
    }


async def send_due_calls(
    sessionmaker: Any, settings: Settings, *, clock: Callable[[], datetime] = utcnow
) -> int:
    """Send due calls one by one until none is due; each is leased in its own committed
    transaction before the provider hears of it."""
    sent = 0
    while True:
        now = clock()
        async with sessionmaker.begin() as session:
            call = await lease_due_call(
                session, now=now, lease_seconds=settings.payment_call_lease_seconds
            )
        if call is None:
            return sent
        provider = payment_provider(settings, call.provider)
        try:
            if provider is None:
                raise ProviderError(f"{call.provider} is not configured")
            values = await send_call(provider, call)
        except ProviderError as exc:
            give_up = not exc.retryable or call.attempts >= MAX_ATTEMPTS
            log.warning("payment_call_failed", call_id=str(call.id), kind=call.kind,
                        reference=call.reference, error=str(exc), give_up=give_up)  # fmt: skip
            async with sessionmaker.begin() as session:
                if give_up:
                    await _finish(session, call.id, status="failed", last_error=str(exc),
                                  done_at=now)  # fmt: skip
                else:
                    await _finish(session, call.id, last_error=str(exc),
                                  next_attempt_at=now + _backoff(call.attempts))  # fmt: skip
            continue
        async with sessionmaker.begin() as session:
            done_at = now if values["status"] == "succeeded" else None
            await _finish(session, call.id, done_at=done_at, **values)
        log.info("payment_call_sent", call_id=str(call.id), kind=call.kind,
                 reference=call.reference, status=values["status"])  # fmt: skip
        sent += 1
