"""Refunds of paid, unconsumed orders: by the merchant (manager up, whatever the terms), by the
buyer when the order's refund terms allow it, and automatically when an order sold
`anytime` (随时退, 过期退) reaches the end of its validity unused.

Invariants:
- A refund is the move paid → refunded, one conditional `UPDATE orders … WHERE status = 'paid'`:
  of a refund racing a counter consume, another refund or the expiry job, exactly one wins;
  the losers are refused with the order as it now is (or skipped, for the job).
- The money goes back through `core.payment_records`' outbox: the refund is decided (a
  `payment_calls` row with its own refund number, `payments.refunded` raised under a CHECK)
  in the transaction that moved the order, and sent to the provider after the commit. A
  refund is therefore never sent twice, and never lost.
- The terms are the order's snapshot (`orders.refund_policy`, `usable_until`), not the
  offering's current ones: changing an offering does not change what was sold.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import payment_records
from core.errors import Forbidden
from core.i18n import localised
from coupons import service as coupons
from memberships import service as memberships
from orders import schemas
from orders.models import Order
from orders.repository import OrderRepository
from orders.service.errors import OrderNotFound, RefundNotAllowed
from orders.service.moves import move
from orders.service.orders import access_order
from orders.service.views import view


async def _give_back(
    session: AsyncSession, order: Order, *, by: uuid.UUID | None, now: datetime
) -> None:
    """The order just moved to refunded: money (after the commit), coupon and points go back."""
    if order.total > 0 and order.provider_reference is not None:
        refund_no = await payment_records.request_refund(
            session,
            reference=order.provider_reference,
            amount=order.total,
            reason=f"order {order.code}",
        )
        order.refund_reference = refund_no
        await OrderRepository(session).set_values(order.id, {"refund_reference": refund_no})
    if order.redemption_id is not None:
        await coupons.reverse_order_redemption(
            session, redemption_id=order.redemption_id, order_id=order.id, by=by, now=now
        )
    if order.points_entry_id is not None:
        await memberships.return_order_points(
            session, entry_id=order.points_entry_id, note="order refunded"
        )


async def refund_order(
    session: AsyncSession,
    *,
    order_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> schemas.Order:
    """A manager refunds a paid order that was not consumed, whatever its refund terms."""
    access = await access_order(session, order_id=order_id, user_id=user_id)
    if access.staff_role is None:
        raise Forbidden("Refunds are made by the merchant")
    if access.staff_role not in ("manager", "owner"):
        raise Forbidden("This needs the manager role or higher")
    order = await move(
        session, access.order, to="refunded", values={"refunded_at": now, "refunded_by": user_id}
    )
    await _give_back(session, order, by=user_id, now=now)
    return await view(session, order)


def holder_refusal(order: Order, now: datetime) -> RefundNotAllowed | None:
    """Why the buyer may not refund this paid order now (None: they may)."""
    if order.refund_policy == "none":
        return RefundNotAllowed(
            localised(
                "该订单不支持自助退款，请联系商家",
                "This order cannot be refunded on request; ask the shop",
            ),
            extra={"refund_policy": order.refund_policy},
        )
    expired = order.usable_until is not None and order.usable_until <= now
    if order.refund_policy == "before_expiry" and expired:
        assert order.usable_until is not None
        until = order.usable_until.isoformat(timespec="minutes")
        return RefundNotAllowed(
            localised(
                f"该订单过期不退，有效期至 {until}",
                f"This order could be refunded only while valid (until {until})",
            ),
            extra={
                "refund_policy": order.refund_policy,
                "usable_until": order.usable_until.isoformat(),
            },
        )
    return None


async def refund_by_holder(
    session: AsyncSession, *, order_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> schemas.Order:
    """The buyer refunds their own paid, unconsumed order when its terms allow it."""
    order = await OrderRepository(session).get(order_id)
    if order is None or order.user_id != user_id:
        raise OrderNotFound()
    if order.status == "paid":
        refusal = holder_refusal(order, now)
        if refusal is not None:
            raise refusal
    # not paid (consumed, refunded, …), or consumed meanwhile: `move` refuses with the state
    order = await move(
        session, order, to="refunded", values={"refunded_at": now, "refunded_by": user_id}
    )
    await _give_back(session, order, by=user_id, now=now)
    return await view(session, order)


async def refund_expired_orders(session: AsyncSession, *, now: datetime, limit: int = 200) -> int:
    """Paid orders sold `anytime` whose validity ended unused are refunded (过期退); rows
    another worker holds are skipped, each order moves at most once."""
    repo = OrderRepository(session)
    refunded = 0
    for order_id in await repo.due_for_expiry_refund(now, limit):
        order = await repo.transition(
            order_id, from_="paid", to="refunded", values={"refunded_at": now}
        )
        if order is None:  # consumed or refunded since it was listed
            continue
        await _give_back(session, order, by=None, now=now)
        refunded += 1
    return refunded
