"""An order's state moves and what follows them: the move itself (checked against
orders.states, applied by one conditional UPDATE), the columns set on payment, what a paid
order sets off (its coupon redeemed, the customer record told) and what an order that will
not complete gives back (its coupon, its points, its payment closed).

Invariant: a move applies exactly once; a lost race is refused (409) with the order's real
state, read again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import payment_records
from core.i18n import localised
from core.lean import Connection
from coupons import service as coupons
from customers import service as customers
from memberships import service as memberships
from orders import states
from orders.models import Order
from orders.repository import OrderRepository
from orders.repository.orders import PaidOrder
from orders.service.errors import ORDER_STATUS, OrderTransitionInvalid


def transition_refused(order: Order, to: str) -> OrderTransitionInvalid:
    was, becomes = ORDER_STATUS.say(order.status), ORDER_STATUS.say(to)
    return OrderTransitionInvalid(
        localised(
            f"订单{was}，不能改为{becomes}", f"The order is {was}; it cannot become {becomes}"
        ),
        extra={"order_status": order.status, "to": to},
    )


async def move(
    session: AsyncSession, order: Order, *, to: str, values: dict[str, object] | None = None
) -> Order:
    """Apply a legal move exactly once, or refuse (409) with the order's real state."""
    if not states.can_move(order.status, to):
        raise transition_refused(order, to)
    repo = OrderRepository(session)
    moved = await repo.transition(order.id, from_=order.status, to=to, values=values or {})
    if moved is None:  # someone else moved it first: report what it is now
        current = await repo.get(order.id)
        assert current is not None
        raise transition_refused(current, to)
    return moved


def paid_values(order: Order, now: datetime) -> dict[str, object]:
    """The columns set when an order becomes paid: its validity starts then."""
    until = now + timedelta(days=order.valid_days) if order.valid_days is not None else None
    return {"paid_at": now, "usable_until": until}


async def after_payment(session: AsyncSession, order: Order | PaidOrder, *, now: datetime) -> None:
    """The order was paid: its coupon is redeemed, the customer record learns of it."""
    if order.coupon_id is not None:
        redemption_id = await coupons.redeem_order_coupon(
            session,
            coupon_id=order.coupon_id,
            order_id=order.id,
            shop_id=order.shop_id,
            order_amount=order.subtotal,
            discount=order.coupon_discount,
            currency=order.currency,
            now=now,
        )
        if redemption_id is not None:
            order.redemption_id = redemption_id
            await OrderRepository(session).set_values(order.id, {"redemption_id": redemption_id})
    await record_paid(session, order, now=now)


async def record_paid(
    db: AsyncSession | Connection, order: Order | PaidOrder, *, now: datetime
) -> None:
    """The customer record learns of the payment (on a session's or a lean connection); the
    callback's one-statement path records the same (`paid_activity`)."""
    await customers.record_activity(
        db,
        merchant_id=order.merchant_id,
        user_id=order.user_id,
        kind="order_paid",
        at=now,
        visit=False,
        currency=order.currency,
        reference_id=order.id,
    )


def paid_activity(now: datetime) -> dict[str, Any]:
    """`record_paid`'s record as bound values of a statement that takes the order's merchant,
    user, currency and id from its own rows (customers.recorded_from)."""
    return customers.recorded_params(source="order_paid", at=now, spend=0, visit=False)


async def release_holds(session: AsyncSession, order: Order, *, reason: str) -> None:
    """The order will not complete: its coupon and points go back to the customer."""
    if order.coupon_id is not None:
        await coupons.release_order_coupon(session, coupon_id=order.coupon_id, order_id=order.id)
    if order.points_entry_id is not None:
        await memberships.return_order_points(
            session, entry_id=order.points_entry_id, note=f"order {reason}"
        )


async def close_payment(session: AsyncSession, order: Order, *, now: datetime) -> None:
    """An unpaid order closed: its payment is closed too (at the provider after the commit)."""
    if order.provider_reference is not None:
        await payment_records.request_close(session, reference=order.provider_reference, now=now)
