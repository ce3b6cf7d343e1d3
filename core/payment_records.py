"""Durable payments: one row per payment (orders, top-ups, count-card purchases), the outbox of
provider calls that must follow a commit (refunds, closes), and the log of every callback.

Invariants:
- A payment is created (provider called, row inserted) in the transaction that creates the
  thing it pays for; its state moves only by conditional UPDATEs:
  pending → succeeded | failed | closed, and failed | closed → succeeded (money that arrived
  late is recorded as it is, then refunded by the owner). A callback that moves nothing is a
  replay, a duplicate or out of order: it is logged and changes nothing.
- A callback is applied only when its amount and currency equal the payment's.
- `refunded` never passes `amount` (CHECK and a conditional UPDATE): a refund is requested by
  inserting a `payment_calls` row with its own `refund_no` (the provider's idempotency key,
  WeChat Pay's `out_refund_no`) in the transaction that decided it. The sender leases the row,
  commits, calls the provider, then records the answer: a worker that dies anywhere leaves a
  row that is sent again with the same `refund_no`, which the provider refunds once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.errors import DomainError
from core.ids import new_id
from core.lean import Connection, Statement, driver_connection
from core.models import Base, IdMixin, TimestampMixin
from core.money import Money
from core.payments import (
    CallbackEvent,
    CallbackRejected,
    Checkout,
    PaymentAmountMismatch,
    PaymentInstructions,
    PaymentIntent,
    PaymentMethodUnsupported,
    PaymentProvider,
    PaymentProviderFailed,
    PaymentReferenceUnknown,
    PaymentSignatureInvalid,
    ProviderError,
    fast_handler_for,
    handler_for,
    payment_provider,
    payment_reference,
)
from core.settings import Settings
from core.timezones import utcnow

log = structlog.get_logger("corner.payments")

PAYMENT_KINDS = ("order", "topup", "count_pass")
PAYMENT_STATUSES = ("pending", "succeeded", "failed", "closed")
CALL_STATUSES = ("pending", "sent", "succeeded", "failed")


class Payment(IdMixin, TimestampMixin, Base):
    __tablename__ = "payments"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID]  # the order, top-up or count pass paid for
    provider: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # out_trade_no
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_transaction_id: Mapped[str | None] = mapped_column(String(64))
    instructions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_query_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('order', 'topup', 'count_pass')", name="kind_known"),
        CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'closed')", name="status_known"
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded >= 0 AND refunded <= amount", name="refunded_within_amount"),
        CheckConstraint("refunded = 0 OR status = 'succeeded'", name="refunds_follow_payment"),
        Index("ix_payments_subject", "subject_id"),
        # the reconciliation job's scan: pending payments only
        Index("ix_payments_pending", "next_query_at", postgresql_where=text("status = 'pending'")),
    )


class PaymentCall(IdMixin, TimestampMixin, Base):
    """Outbox: a provider call decided in a committed transaction (refund, close)."""

    __tablename__ = "payment_calls"

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    refund_no: Mapped[str | None] = mapped_column(String(64), unique=True)  # out_refund_no
    amount: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('refund', 'close')", name="kind_known"),
        CheckConstraint(
            "status IN ('pending', 'sent', 'succeeded', 'failed')", name="status_known"
        ),
        CheckConstraint(
            "(kind = 'refund') = (refund_no IS NOT NULL AND amount > 0)", name="refund_has_amount"
        ),
        Index(
            "ix_payment_calls_due", "next_attempt_at", postgresql_where=text("status = 'pending'")
        ),
        Index("ix_payment_calls_payment", "payment_id"),
    )


class PaymentEvent(Base):
    """Every callback and query answer, applied or not (the audit trail of refusals)."""

    __tablename__ = "payment_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_payment_events_reference", "reference", "created_at"),)


# -- creating payments ------------------------------------------------------------------------

DEFAULT_METHODS = {"fake": "page", "wechatpay": "native", "alipay": "precreate"}


async def start_payment(
    session: AsyncSession,
    checkout: Checkout,
    *,
    kind: str,
    subject_id: uuid.UUID,
    merchant_id: uuid.UUID,
    prefix: str,
    amount: int,
    currency: str,
    description: str,
) -> PaymentIntent:
    """Ask the provider for a payment and record it (in the caller's transaction: if that
    rolls back, the provider's unpaid order is closed by the reconciliation job's query)."""
    provider, request, now = checkout.provider, checkout.request, checkout.now
    expires_at = checkout.expires_at
    method = (request.method if request else None) or DEFAULT_METHODS.get(provider.name, "page")
    methods: tuple[str, ...] = getattr(provider, "methods", ())
    if method not in methods:
        raise PaymentMethodUnsupported(
            f"{provider.name} offers {', '.join(methods)}", loc=["body", "payment", "method"]
        )
    openid = request.openid if request else None
    if method == "jsapi" and not openid:
        raise PaymentMethodUnsupported(
            "JSAPI payments need the payer's openid", loc=["body", "payment", "openid"]
        )
    reference = payment_reference(prefix, subject_id)
    try:
        intent = await provider.create_payment(
            reference=reference,
            amount=amount,
            currency=currency,
            description=description[:127],
            method=method,
            openid=openid,
            expires_at=expires_at,
        )
    except ProviderError as exc:
        log.warning("payment_create_failed", provider=provider.name, error=str(exc))
        raise PaymentProviderFailed(str(exc), extra={"provider_code": exc.code}) from exc
    session.add(
        Payment(
            merchant_id=merchant_id,
            kind=kind,
            subject_id=subject_id,
            provider=provider.name,
            method=method,
            reference=intent.reference,
            amount=amount,
            currency=currency,
            status="pending",
            instructions=intent.instructions(),
            expires_at=expires_at,
            next_query_at=min(
                expires_at, now + timedelta(minutes=checkout.settings.payment_query_minutes)
            ),
        )
    )
    await session.flush()
    return intent


async def payment_of(session: AsyncSession, reference: str) -> Payment | None:
    stmt = select(Payment).where(Payment.reference == reference)
    return (
        await session.execute(stmt, execution_options={"populate_existing": True})
    ).scalar_one_or_none()


class PaymentView(BaseModel):
    """A payment as its merchant's staff see it (the counter polls it after showing the QR)."""

    reference: str = Field(description="The provider's out_trade_no")
    provider: str
    method: str
    kind: Literal["order", "topup", "count_pass"]
    subject_id: uuid.UUID = Field(description="The order, top-up or count pass paid for")
    status: Literal["pending", "succeeded", "failed", "closed"]
    amount: Money
    refunded: Money
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    closed_at: datetime | None
    payment: PaymentInstructions = Field(description="What the customer was given to pay")


def payment_schema(payment: Payment) -> PaymentView:
    return PaymentView(
        reference=payment.reference,
        provider=payment.provider,
        method=payment.method,
        kind=payment.kind,  # type: ignore[arg-type]  # CHECK kind_known
        subject_id=payment.subject_id,
        status=payment.status,  # type: ignore[arg-type]  # CHECK status_known
        amount=Money.of(payment.amount, payment.currency),
        refunded=Money.of(payment.refunded, payment.currency),
        created_at=payment.created_at,
        expires_at=payment.expires_at,
        paid_at=payment.paid_at,
        closed_at=payment.closed_at,
        payment=PaymentInstructions(
            **{"provider": payment.provider, "reference": payment.reference} | payment.instructions
        ),
    )


async def merchant_of_payment(session: AsyncSession, *, reference: str) -> uuid.UUID:
    """The merchant paid (for `accounts.permissions.staff_of`); unknown: payment_not_found."""
    merchant_id = (
        await session.execute(select(Payment.merchant_id).where(Payment.reference == reference))
    ).scalar_one_or_none()
    if merchant_id is None:
        raise PaymentReferenceUnknown()
    return merchant_id


async def get_payment(session: AsyncSession, *, reference: str) -> PaymentView:
    payment = await payment_of(session, reference)
    if payment is None:
        raise PaymentReferenceUnknown()
    return payment_schema(payment)


# -- callbacks --------------------------------------------------------------------------------


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
        return CallbackResult(error=PaymentSignatureInvalid(str(exc)))
    return await apply_event(session, provider=provider, event=event, now=now, view=view)


def _mismatch(payment: Payment, event: CallbackEvent) -> str | None:
    if event.amount is not None and event.amount != payment.amount:
        return f"amount {event.amount} differs from the payment's {payment.amount}"
    if event.currency is not None and event.currency != payment.currency:
        return f"currency {event.currency} differs from the payment's {payment.currency}"
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
        await driver_connection(session), provider=provider, event=event, now=now
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
            return CallbackResult(error=PaymentAmountMismatch(mismatch))
        if from_ is None:  # still pending at the provider: nothing to do
            return CallbackResult()
        await log_event(session, provider.name, event.reference, "no_change",
                        status=event.status, current=payment.status)  # fmt: skip
    handler = handler_for(event.reference)
    if handler is None:
        return CallbackResult(error=PaymentReferenceUnknown())
    # owners apply their side with conditional UPDATEs of their own: a no-op on replays
    return CallbackResult(view=await handler(session, provider, event, now, view=view))


async def _transition(
    session: AsyncSession,
    payment_id: uuid.UUID,
    *,
    from_: tuple[str, ...],
    to: str,
    values: Mapping[str, Any],
) -> bool:
    stmt = (
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_(from_))
        .values(status=to, updated_at=func.now(), **values)
        .returning(Payment.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


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
        reason = f"refund amount {event.amount} differs from {refund.amount}"
        await log_event(session, provider.name, event.reference, "mismatch", reason=reason,
                        refund_no=event.refund_no)  # fmt: skip
        return CallbackResult(error=PaymentAmountMismatch(reason))
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


# -- refunds and closes (outbox) ---------------------------------------------------------------


async def request_refund(
    session: AsyncSession, *, reference: str, amount: int, reason: str
) -> str | None:
    """Decide a refund of `amount` of a succeeded payment; it is sent after the commit.
    Returns our refund number, or None when the payment cannot refund that much."""
    payment = await payment_of(session, reference)
    if payment is None or amount <= 0:
        return None
    claimed = (
        await session.execute(
            update(Payment)
            .where(
                Payment.id == payment.id,
                Payment.status == "succeeded",
                Payment.refunded + amount <= Payment.amount,
            )
            .values(refunded=Payment.refunded + amount, updated_at=func.now())
            .returning(Payment.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if claimed is None:
        log.warning("refund_not_possible", reference=reference, amount=amount)
        return None
    call_id = new_id()
    refund_no = payment_reference("rf_", call_id)
    session.add(
        PaymentCall(
            id=call_id,
            payment_id=payment.id,
            kind="refund",
            refund_no=refund_no,
            amount=amount,
            reason=reason[:80],
        )
    )
    await session.flush()
    return refund_no


async def refundable(session: AsyncSession, references: list[str]) -> list[tuple[str, int]]:
    """(reference, amount still refundable) of succeeded payments, newest first."""
    if not references:
        return []
    rows = await session.execute(
        select(Payment.reference, Payment.amount - Payment.refunded)
        .where(
            Payment.reference.in_(references),
            Payment.status == "succeeded",
            Payment.refunded < Payment.amount,
        )
        .order_by(Payment.paid_at.desc())
    )
    return [(ref, int(left)) for ref, left in rows]


async def request_close(session: AsyncSession, *, reference: str, now: datetime) -> bool:
    """The payment will not be taken (expired, cancelled): closed here now, at the provider
    after the commit. False if it was no longer pending (paid meanwhile: the callback wins)."""
    payment = await payment_of(session, reference)
    if payment is None:
        return False
    moved = await _transition(
        session, payment.id, from_=("pending",), to="closed", values={"closed_at": now}
    )
    if moved and payment.provider != "fake":
        session.add(PaymentCall(payment_id=payment.id, kind="close", reason="expired"))
        await session.flush()
    return moved


# -- the sender -----------------------------------------------------------------------------------

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


# -- reconciliation ---------------------------------------------------------------------------


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
