"""Payment callbacks for orders (dispatched by core.payments on the `ord_` reference prefix).

A success moves the order pending_payment → paid with one conditional UPDATE: of concurrent or
replayed deliveries exactly one applies it (coupon redeemed, customer record updated); the
others answer the order as it is. A failure cancels the order and releases its holds. Money
that arrives for an order already expired or cancelled is refunded at once (once).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from core import payment_records
from core.lean import Connection
from core.payments import CallbackEvent, PaymentProvider
from customers import service as customers
from orders import schemas
from orders.repository import OrderRepository
from orders.repository.orders import pay_order_fast
from orders.service.errors import OrderNotFound
from orders.service.moves import after_payment, paid_activity, release_holds
from orders.service.views import view as order_view

log = structlog.get_logger("corner.orders")


async def apply_payment_event(
    session: AsyncSession,
    provider: PaymentProvider,
    event: CallbackEvent,
    now: datetime,
    *,
    view: bool = True,
) -> schemas.Order | None:
    repo = OrderRepository(session)
    if event.status == "succeeded":
        # the hot path: one conditional UPDATE finds and pays the order (no read before it)
        paid = await repo.pay(event.reference, provider=provider.name, now=now)
        if paid is not None:
            await after_payment(session, paid, now=now)
            return await _view_of(repo, paid.id) if view else None
    order = await repo.by_reference(event.reference)
    if order is None or order.provider != provider.name:
        raise OrderNotFound()
    if event.status == "succeeded":  # paid already, or closed before the money came
        if await repo.claim_late_refund(order.id):
            refund_no = await payment_records.request_refund(
                session,
                reference=event.reference,
                amount=order.total,
                reason="order closed before payment",
            )
            await repo.set_values(order.id, {"refund_reference": refund_no})
            order.refund_reference = refund_no
            log.warning("late_payment_refunded", order_id=str(order.id), status=order.status)
        return await order_view(session, order)
    # the provider closed it (an expired payment) or the customer's payment failed
    to = "expired" if event.status == "closed" else "cancelled"
    cancelled = await repo.transition(
        order.id, from_="pending_payment", to=to, values={"closed_at": now}
    )
    if cancelled is not None:
        await release_holds(session, cancelled, reason="payment failed")
        return await order_view(session, cancelled)
    return await _view_of(repo, order.id)


async def apply_payment_fast(
    connection: Connection, provider: PaymentProvider, event: CallbackEvent, now: datetime
) -> str | None:
    """The common case on a plain connection, in one statement: the payment moves, the order
    waiting for it is paid and the customer record learns of it (as `record_paid`). An order
    with a coupon (its redemption runs on the ORM), or one not waiting any more (late
    payments, replays): None, nothing written, the full handler. Returns the state the
    payment left."""
    if event.status != "succeeded":
        return None
    params = {**payment_records.move_params(provider, event, now), **paid_activity(now)}
    return await pay_order_fast(connection, params, recorded_from=customers.recorded_from)


async def _view_of(repo: OrderRepository, order_id: uuid.UUID) -> schemas.Order:
    current = await repo.get(order_id)
    assert current is not None
    return await order_view(repo.session, current)
