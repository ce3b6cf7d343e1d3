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
The common case runs on a plain connection in one statement, the payment's move and the owner's
side together (`apply_fast`); everything else goes through the session (`apply_event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    DateTime,
    String,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
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


def _bound(name: str, type_: Any) -> Any:
    # typed in the SQL itself (the dialect renders `$n::TYPE`): asyncpg has PostgreSQL infer
    # each parameter's type, and one only compared with NULL or passed to jsonb_build_object
    # has none to infer
    return bindparam(name, type_=type_)


@cache
def locked_payment() -> Any:
    """CTE `payment` (id, status, subject_id): the payment a verified event names
    (`move_params`) if it may move (its state in `p_from`; its amount and currency the
    event's, each unchecked when the event has none), locked FOR UPDATE. The lock re-checks
    the row's newest version: of concurrent movers the second waits, then finds nothing."""
    p = Payment.__table__.c
    amount, currency = _bound("p_amount", BigInteger), _bound("p_currency", String)
    return (
        select(p.id, p.status, p.subject_id)
        .where(
            p.reference == _bound("p_reference", String),
            p.provider == _bound("p_provider", String),
            p.status == any_(_bound("p_from", ARRAY(String))),
            or_(amount.is_(None), p.amount == amount),
            or_(currency.is_(None), p.currency == currency),
        )
        .with_for_update(of=Payment.__table__)
        .cte("payment")
    )


def moved_payment(payment: Any, owner: Any | None = None) -> tuple[Any, Any]:
    """CTEs `moved` (the locked `payment` moved to `p_to`; returns `was`, the state it left,
    and `subject_id`) and `applied` (its `applied` event). With `owner`, a CTE of the owner's
    row locked for its own conditional update in the same statement, the payment moves only
    when that row was found: the owner's side and the payment's move happen together or not
    at all (the owner's UPDATE joins `moved`)."""
    table_ = Payment.__table__
    p = table_.c
    to = _bound("p_to", String)
    now = _bound("p_now", DateTime(timezone=True))
    succeeded = to == "succeeded"
    stmt = update(table_).where(  # type: ignore[arg-type]
        p.id == payment.c.id, p.status == any_(_bound("p_from", ARRAY(String)))
    )
    if owner is not None:
        stmt = stmt.where(owner.c.id == payment.c.subject_id)
    moved = (
        stmt.values(
            status=to,
            updated_at=func.now(),
            paid_at=case((succeeded, now), else_=p.paid_at),
            provider_transaction_id=case(
                (succeeded, _bound("p_transaction_id", String)), else_=p.provider_transaction_id
            ),
            closed_at=case((succeeded, p.closed_at), else_=now),
        )
        .returning(payment.c.status.label("was"), p.subject_id)
        .cte("moved")
    )
    e = PaymentEvent.__table__.c
    applied = (
        insert(PaymentEvent.__table__)  # type: ignore[arg-type]
        .from_select(
            ["id", "provider", "reference", "outcome", "detail"],
            select(
                _bound("p_event_id", e.id.type), _bound("p_provider", String),
                _bound("p_reference", String), literal("applied", String),
                func.jsonb_build_object("status", to, "was", moved.c.was),
            ),
        )
        .returning(e.id)
        .cte("applied")
    )  # fmt: skip
    return moved, applied


def move_params(provider: PaymentProvider, event: CallbackEvent, now: datetime) -> dict[str, Any]:
    """The values of `locked_payment` and `moved_payment` for a verified event."""
    return {"p_reference": event.reference, "p_provider": provider.name, "p_to": event.status,
            "p_from": list(MOVES_FROM[event.status]), "p_now": now,
            "p_transaction_id": event.transaction_id, "p_amount": event.amount,
            "p_currency": event.currency, "p_event_id": new_id()}  # fmt: skip


@cache
def _move_statement() -> Statement:
    """A payment's move without its owner (the session path; the owner's handler follows):
    one round trip. No row: not moved (unknown, mismatch or nothing to do)."""
    moved, applied = moved_payment(locked_payment())
    logged = select(func.count()).select_from(applied).scalar_subquery()
    return Statement(select(moved.c.was, logged.label("logged")))


async def _move(
    connection: Connection, *, provider: PaymentProvider, event: CallbackEvent, now: datetime
) -> bool:
    """The payment named by a verified event moved (and its `applied` event is written)."""
    moved = await _move_statement().one(connection, move_params(provider, event, now))
    if moved is not None:
        _log_applied(provider, event, moved[0])
    return moved is not None


def _log_applied(provider: PaymentProvider, event: CallbackEvent, was: str) -> None:
    log.info("payment_callback", provider=provider.name, reference=event.reference,
             outcome="applied", status=event.status, was=was)  # fmt: skip


async def apply_fast(
    connection: Connection, *, provider: PaymentProvider, event: CallbackEvent, now: datetime
) -> bool:
    """The common case of a verified event on a plain connection (core.lean): a payment that
    moves and an owner whose fast handler applies its side, both in the handler's one
    statement (`locked_payment` + `moved_payment` + the owner's CTEs), so it needs no
    transaction of its own: all of it happened or none. False: not the common case (refunds,
    replays, refusals, an owner that needs its full handler): nothing was written; the caller
    applies the event through `apply_event`."""
    fast = fast_handler_for(event.reference)
    if fast is None or event.refund_no is not None or event.status not in MOVES_FROM:
        return False
    was = await fast(connection, provider, event, now)
    if was is None:
        return False
    _log_applied(provider, event, was)
    return True


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
