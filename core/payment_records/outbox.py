"""Refunds and closes decided in the caller's transaction, sent to the provider after the
commit (by the sender, `core.payment_records.sender`).

Invariant: `refunded` never passes `amount` (a CHECK and a conditional UPDATE): a refund is
requested by claiming the amount on the payment and inserting a `payment_calls` row with its
own `refund_no` (the provider's idempotency key, WeChat Pay's `out_refund_no`) in the same
transaction. A close moves a pending payment to `closed` here at once; a payment paid
meanwhile is not closed (the callback wins).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.payment_records.models import Payment, PaymentCall
from core.payment_records.records import payment_of
from core.payments import payment_reference

log = structlog.get_logger("corner.payments")


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
