"""Payment callbacks for orders (dispatched by core.payments on the `ord_` reference prefix).

A success moves the order pending_payment → paid with one conditional UPDATE: of concurrent or
replayed deliveries exactly one applies it (coupon redeemed, customer record updated); the
others answer the order as it is. A failure cancels the order and releases its holds. Money
that arrives for an order already expired or cancelled is refunded at once (once).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from core import payment_records
from core.payments import CallbackEvent, PaymentProvider
from orders import schemas
from orders.repository import OrderRepository
from orders.service.errors import OrderNotFound
from orders.service.orders import after_payment, paid_values, release_holds, view

log = structlog.get_logger("corner.orders")


async def apply_payment_event(
    session: AsyncSession, provider: PaymentProvider, event: CallbackEvent, now: datetime
) -> schemas.Order:
    repo = OrderRepository(session)
    order = await repo.by_reference(event.reference)
    if order is None or order.provider != provider.name:
        raise OrderNotFound()
    if event.status == "succeeded":
        paid = await repo.transition(
            order.id, from_="pending_payment", to="paid", values=paid_values(order, now)
        )
        if paid is not None:
            await after_payment(session, paid, now=now)
            return await view(session, paid)
        current = await repo.get(order.id)
        assert current is not None
        if await repo.claim_late_refund(current.id):
            refund_no = await payment_records.request_refund(
                session,
                reference=event.reference,
                amount=current.total,
                reason="order closed before payment",
            )
            await repo.set_values(current.id, {"refund_reference": refund_no})
            current.refund_reference = refund_no
            log.warning("late_payment_refunded", order_id=str(current.id), status=current.status)
        return await view(session, current)
    # the provider closed it (an expired payment) or the customer's payment failed
    to = "expired" if event.status == "closed" else "cancelled"
    cancelled = await repo.transition(
        order.id, from_="pending_payment", to=to, values={"closed_at": now}
    )
    if cancelled is not None:
        await release_holds(session, cancelled, reason="payment failed")
        return await view(session, cancelled)
    current = await repo.get(order.id)
    assert current is not None
    return await view(session, current)
