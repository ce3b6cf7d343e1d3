"""Background jobs of payments: the outbox sender (refunds, closes) and the reconciliation
of payments whose callback is late (core.payment_records)."""

from __future__ import annotations

from core import payment_records
from core.jobs import JobContext, job
from core.timezones import utcnow


@job("payment_calls", interval_seconds=2)
async def send_payment_calls(ctx: JobContext) -> int:
    """Refunds and closes decided in committed transactions, sent to their providers."""
    return await payment_records.send_due_calls(ctx.sessionmaker, ctx.settings)


@job("payment_reconcile", interval_seconds=60)
async def reconcile_payments(ctx: JobContext) -> int:
    """Pending payments past the query delay: asked at the provider, applied or closed."""
    return await payment_records.reconcile_pending(ctx.sessionmaker, ctx.settings, now=utcnow())
