"""Applying what a provider says: a verified callback or query answer moves a payment (or one
of its refunds) exactly once, and every event is logged, applied or not.

Invariants:
- a payment's state moves only by conditional UPDATEs (`MOVES_FROM`): pending → succeeded |
  failed | closed, and failed | closed → succeeded (money that arrived late is recorded as it
  is, then refunded by the owner); a callback that moves nothing is a replay, a duplicate or
  out of order: it is logged and changes nothing;
- a callback is applied only when its amount and currency equal the payment's;
- the owner (order, top-up, count pass) applies its side through its registered handler with
  conditional UPDATEs of its own, a no-op on replays.
The common case runs on a plain connection in one round trip (`apply_fast`); everything else
goes through the session (`apply_event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError
from core.i18n import localised
from core.ids import new_id
from core.lean import Connection, Statement, connection_of
from core.money import format_money
from core.payment_records.models import Payment, PaymentCall, PaymentEvent
from core.payment_records.records import payment_of
from core.payments import (
    CallbackEvent,
    CallbackRejected,
    PaymentAmountMismatch,
    PaymentProvider,
    PaymentReferenceUnknown,
    PaymentSignatureInvalid,
    fast_handler_for,
    handler_for,
)

log = structlog.get_logger("corner.payments")


@dataclass(frozen=True)
class CallbackResult:
    view: BaseModel | None = None
    error: DomainError | None = None


async def log_event(
    session: AsyncSession, provider: str, reference: str | None, outcome: str, **detail: Any
) -> None:
    level = "info" if outcome in ("applied", "refund_applied") else "warning"
    getattr(log, level)("payment_callback", provider=provider, reference=reference,
                        outcome=outcome, **detail)  # fmt: skip
    session.add(PaymentEvent(provider=provider, reference=reference, outcome=outcome,
                             detail=detail))  # fmt: skip
    await session.flush()


async def dispatch_callback(
    session: AsyncSession,
    *,
    provider: PaymentProvider,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    view: bool = True,
) -> CallbackResult:
    """Verify a provider's callback once, then apply it (or log why not). Refusals are
    returned, not raised, so that their log row commits with the answer."""
    try:
        event = provider.parse_callback(body, headers, now)
    except CallbackRejected as exc:
        await log_event(session, provider.name, None, "rejected", reason=str(exc))
        return CallbackResult(
            error=PaymentSignatureInvalid(
                localised("支付通知未通过验证", f"The notification was rejected: {exc}")
            )
        )
    return await apply_event(session, provider=provider, event=event, now=now, view=view)


def _mismatch(payment: Payment, event: CallbackEvent) -> str | None:
    if event.amount is not None and event.amount != payment.amount:
        given, held = (format_money(a, payment.currency) for a in (event.amount, payment.amount))
        return f"The amount {given} differs from the payment's {held}"
    if event.currency is not None and event.currency != payment.currency:
        return f"The currency {event.currency} differs from the payment's {payment.currency}"
    return None


# the states a payment may move from, by what the provider says (anything else: still pending)
MOVES_FROM = {"succeeded": ("pending", "failed", "closed"), "failed": ("pending",),
              "closed": ("pending",)}  # fmt: skip


@cache
def _move_statement() -> Statement:
    """The hot path of a callback in one round trip: move the payment named by the provider
    if it is (still, re-checked under the row lock the UPDATE takes) in a state it may leave
    and the amount and currency match, and log the `applied` event with the move. No row:
    not moved (unknown, mismatch or nothing to do)."""
    return Statement(
        text(
            """
            WITH old AS (
                -- the state before (for the log); the UPDATE re-checks the row's current
                -- state itself (a concurrent mover makes it wait, then it finds nothing)
                SELECT id, status FROM payments
                WHERE reference = CAST(:p_reference AS text)
                  AND provider = CAST(:p_provider AS text)
            ), moved AS (
                UPDATE payments AS p SET
                    status = CAST(:p_to AS text),
                    updated_at = now(),
                    paid_at = CASE WHEN CAST(:p_to AS text) = 'succeeded'
                        THEN CAST(:p_now AS timestamptz) ELSE p.paid_at END,
                    provider_transaction_id = CASE WHEN CAST(:p_to AS text) = 'succeeded'
                        THEN CAST(:p_transaction_id AS text) ELSE p.provider_transaction_id END,
                    closed_at = CASE WHEN CAST(:p_to AS text) = 'succeeded'
                        THEN p.closed_at ELSE CAST(:p_now AS timestamptz) END
                FROM old
                WHERE p.id = old.id AND p.status = ANY(CAST(:p_from AS text[]))
                  AND (CAST(:p_amount AS bigint) IS NULL OR p.amount = CAST(:p_amount AS bigint))
                  AND (CAST(:p_currency AS text) IS NULL
                       OR p.currency = CAST(:p_currency AS text))
                RETURNING old.status AS was
            ), logged AS (
                INSERT INTO payment_events (id, provider, reference, outcome, detail)
                SELECT CAST(:p_event_id AS uuid), CAST(:p_provider AS text),
                       CAST(:p_reference AS text), 'applied',
                       jsonb_build_object('status', CAST(:p_to AS text), 'was', moved.was)
                FROM moved
            )
            SELECT was FROM moved
            """
        )
    )


async def _move(
    connection: Connection, *, provider: PaymentProvider, event: CallbackEvent, now: datetime
) -> bool:
    """The payment named by a verified event moved (and its `applied` event is written)."""
    moved = await _move_statement().one(
        connection,
        {"p_reference": event.reference, "p_provider": provider.name, "p_to": event.status,
         "p_from": list(MOVES_FROM[event.status]), "p_now": now,
         "p_transaction_id": event.transaction_id, "p_amount": event.amount,
         "p_currency": event.currency, "p_event_id": new_id()},
    )  # fmt: skip
    if moved is not None:
        log.info("payment_callback", provider=provider.name, reference=event.reference,
                 outcome="applied", status=event.status, was=moved[0])  # fmt: skip
    return moved is not None


async def apply_fast(
    connection: Connection, *, provider: PaymentProvider, event: CallbackEvent, now: datetime
) -> bool:
    """The common case of a verified event on a plain connection (core.lean): a payment that
    moves and an owner whose fast handler applies its side. False: not the common case
    (refunds, replays, refusals, an owner that needs its full handler); the caller must roll
    the connection's transaction back and apply the event through `apply_event`."""
    fast = fast_handler_for(event.reference)
    if fast is None or event.refund_no is not None or event.status not in MOVES_FROM:
        return False
    if not await _move(connection, provider=provider, event=event, now=now):
        return False
    return await fast(connection, provider, event, now)


async def apply_event(
    session: AsyncSession,
    *,
    provider: PaymentProvider,
    event: CallbackEvent,
    now: datetime,
    view: bool = True,
) -> CallbackResult:
    """Apply a verified event (callback or query answer) exactly once; `view`: whether the
    answer needs the owner's view of the paid thing (the fake provider's does)."""
    if event.refund_no is not None:
        return await _apply_refund_event(session, provider=provider, event=event, now=now)
    from_ = MOVES_FROM.get(event.status)
    moved = from_ is not None and await _move(
        await connection_of(session), provider=provider, event=event, now=now
    )
    if not moved:  # say why (these paths are rare: refusals, replays, still pending)
        payment = await payment_of(session, event.reference)
        if payment is None or payment.provider != provider.name:
            await log_event(session, provider.name, event.reference, "unknown_reference")
            return CallbackResult(error=PaymentReferenceUnknown())
        mismatch = _mismatch(payment, event)
        if mismatch is not None:
            await log_event(session, provider.name, event.reference, "mismatch",
                            reason=mismatch, amount=event.amount,
                            currency=event.currency)  # fmt: skip
            return CallbackResult(
                error=PaymentAmountMismatch(
                    localised("支付通知的金额或币种与支付记录不符", mismatch)
                )
            )
        if from_ is None:  # still pending at the provider: nothing to do
            return CallbackResult()
        await log_event(session, provider.name, event.reference, "no_change",
                        status=event.status, current=payment.status)  # fmt: skip
    handler = handler_for(event.reference)
    if handler is None:
        return CallbackResult(error=PaymentReferenceUnknown())
    # owners apply their side with conditional UPDATEs of their own: a no-op on replays
    return CallbackResult(view=await handler(session, provider, event, now, view=view))


async def _apply_refund_event(
    session: AsyncSession, *, provider: PaymentProvider, event: CallbackEvent, now: datetime
) -> CallbackResult:
    call = (
        await session.execute(
            select(PaymentCall, Payment)
            .join(Payment, Payment.id == PaymentCall.payment_id)
            .where(PaymentCall.refund_no == event.refund_no)
        )
    ).one_or_none()
    if call is None or call[1].provider != provider.name or call[1].reference != event.reference:
        await log_event(session, provider.name, event.reference, "unknown_refund",
                        refund_no=event.refund_no)  # fmt: skip
        return CallbackResult(error=PaymentReferenceUnknown())
    refund, payment = call
    if event.amount is not None and event.amount != refund.amount:
        given, held = (
            format_money(a or 0, payment.currency) for a in (event.amount, refund.amount)
        )
        reason = f"The refund amount {given} differs from {held}"
        await log_event(session, provider.name, event.reference, "mismatch", reason=reason,
                        refund_no=event.refund_no)  # fmt: skip
        return CallbackResult(
            error=PaymentAmountMismatch(localised("退款通知的金额与退款记录不符", reason))
        )
    to = "succeeded" if event.status == "refunded" else "failed"
    moved = (
        await session.execute(
            update(PaymentCall)
            .where(PaymentCall.id == refund.id, PaymentCall.status.in_(("pending", "sent")))
            .values(status=to, done_at=now, leased_until=None, updated_at=func.now())
            .returning(PaymentCall.id)
        )
    ).scalar_one_or_none()
    outcome = "refund_applied" if moved else "no_change"
    await log_event(session, provider.name, event.reference, outcome, refund_no=event.refund_no,
                    status=to)  # fmt: skip
    if moved and to == "failed":  # money did not go back: a person must look at it
        log.error("refund_failed", reference=payment.reference, refund_no=event.refund_no)
    return CallbackResult()
