"""Reconciliation: payments still pending after their query delay are asked at the provider.

The batch is claimed (its next query time pushed on, rows skipped when locked) in one
committed transaction, so two workers never ask about the same payment at once; each answer
is applied in its own transaction like a callback, and an unpaid payment past its deadline is
closed here and at the provider, its owner told that it failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update

from core.payment_records.callbacks import apply_event, log_event
from core.payment_records.models import Payment
from core.payment_records.outbox import request_close
from core.payments import CallbackEvent, ProviderError, handler_for, payment_provider
from core.settings import Settings

log = structlog.get_logger("corner.payments")


async def reconcile_pending(sessionmaker: Any, settings: Settings, *, now: datetime) -> int:
    """Payments still pending after their deadline (a lost callback, a customer who never
    paid): ask the provider. Paid → applied as a callback; unpaid and past the deadline →
    closed here and at the provider, and the owner told it failed."""
    async with sessionmaker.begin() as session:
        rows = (
            await session.execute(
                update(Payment)
                .where(
                    Payment.id.in_(
                        select(Payment.id)
                        .where(Payment.status == "pending", Payment.next_query_at <= now)
                        .order_by(Payment.next_query_at)
                        .limit(100)
                        .with_for_update(skip_locked=True)
                    )
                )
                .values(next_query_at=now + timedelta(minutes=settings.payment_query_minutes))
                .returning(Payment.reference, Payment.provider, Payment.expires_at)
                .execution_options(synchronize_session=False)
            )
        ).all()
    done = 0
    for reference, provider_name, expires_at in rows:
        provider = payment_provider(settings, provider_name)
        if provider is None:
            continue
        try:
            event = await provider.query(reference=reference)
        except ProviderError as exc:
            log.warning("payment_query_failed", reference=reference, error=str(exc))
            continue
        async with sessionmaker.begin() as session:
            if event is not None and event.status in ("succeeded", "failed", "closed"):
                await apply_event(session, provider=provider, event=event, now=now, view=False)
                done += 1
            elif expires_at is not None and expires_at <= now:
                if await request_close(session, reference=reference, now=now):
                    handler = handler_for(reference)
                    if handler is not None:
                        await handler(
                            session, provider, CallbackEvent(reference, "closed"), now, view=False
                        )
                    await log_event(session, provider.name, reference, "closed_unpaid")
                    done += 1
    return done
