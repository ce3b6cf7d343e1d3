"""The counter: look an order up by its code or signed QR, and confirm it consumed, exactly once.

Consumption is one conditional `UPDATE orders … WHERE status = 'paid' … RETURNING`: of
concurrent confirmations exactly one finds the order paid; the others wait for its commit,
find it consumed and are told when and where. Points are credited to the order's card and
the customer record is updated in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from core.errors import DomainError
from core.i18n import localised
from core.lean import connection_of
from core.timezones import format_local, utcnow
from customers import service as customers
from memberships import service as memberships
from merchants import service as merchants
from orders import codes, schemas
from orders.models import Order
from orders.repository import OrderRepository
from orders.repository.orders import consume_paid, counter_order, order_items
from orders.service.errors import (
    OrderAlreadyConsumed,
    OrderCodeInvalid,
    OrderNotFound,
    OrderQrInvalid,
    OrderValidityOver,
)
from orders.service.moves import transition_refused
from orders.service.views import order_schema, view


class CounterInput(Protocol):
    """What a counter request carries (coupons' CounterRequest has these too)."""

    code: str | None
    qr: str | None
    shop_id: uuid.UUID


def code_of(data: schemas.OrderCounterRequest, keys: list[tuple[str, bytes]]) -> str:
    """The order code the request designates (pure: a forged QR never reaches the database)."""
    if data.qr is not None:
        code = codes.code_from_qr(data.qr, keys)
        if code is None:
            raise OrderQrInvalid()
        return code
    assert data.code is not None
    code = codes.normalise(data.code)
    if not codes.is_valid(code):
        raise OrderCodeInvalid()
    return code


async def _staff_order(
    session: AsyncSession, *, order: Order | None, staff_user_id: uuid.UUID, shop_id: uuid.UUID
) -> Order:
    # another merchant's order is not found, exactly like one that does not exist
    if order is None:
        raise OrderNotFound()
    role = await accounts.staff_role(session, merchant_id=order.merchant_id, user_id=staff_user_id)
    if role is None:
        raise OrderNotFound()
    if await merchants.foreign_shop_ids(session, merchant_id=order.merchant_id, shop_ids=[shop_id]):
        raise merchants.ShopNotFound()
    return order


def _refusal(order: Order, now: datetime) -> DomainError | None:
    if order.status == "paid":
        if order.usable_until is not None and order.usable_until <= now:
            until = format_local(order.usable_until)
            return OrderValidityOver(
                localised(f"订单有效期至 {until}，已过期", f"This order was valid until {until}"),
                extra={"usable_until": order.usable_until.isoformat()},
            )
        return None
    if order.status == "consumed":
        return _already_consumed(order)
    return transition_refused(order, "consumed")


def _already_consumed(order: Order) -> OrderAlreadyConsumed:
    when = order.consumed_at.isoformat() if order.consumed_at else None
    text = localised("该订单已消费", "This order was already consumed")
    if order.consumed_at is not None:
        at = format_local(order.consumed_at)
        text = localised(f"该订单已于 {at} 消费", f"This order was already consumed at {at}")
    return OrderAlreadyConsumed(
        text,
        extra={
            "consumed_at": when,
            "shop_id": str(order.consumed_shop_id) if order.consumed_shop_id else None,
        },
    )


async def consume_order(
    session: AsyncSession,
    *,
    staff_user_id: uuid.UUID,
    order_id: uuid.UUID,
    shop_id: uuid.UUID,
    now: datetime,
) -> schemas.Order:
    order = await _staff_order(
        session,
        order=await OrderRepository(session).get(order_id),
        staff_user_id=staff_user_id,
        shop_id=shop_id,
    )
    return await _consume(session, order, staff_user_id=staff_user_id, shop_id=shop_id, now=now)


async def _consume(
    session: AsyncSession,
    order: Order,
    *,
    staff_user_id: uuid.UUID,
    shop_id: uuid.UUID,
    now: datetime,
) -> schemas.Order:
    """`order` (found, the caller staff at its merchant, the shop the merchant's: see
    `_staff_order`) paid → consumed exactly once, its points and the customer record."""
    repo = OrderRepository(session)
    # the hot statements run on the session's driver connection (core.lean), in its
    # transaction: compiled once, the orders they return detached
    connection = await connection_of(session)
    consumed = await consume_paid(
        connection, order.id, shop_id=shop_id, staff_user_id=staff_user_id, now=now
    )
    if consumed is None:
        current = await repo.get(order.id)
        assert current is not None
        refusal = _refusal(current, now) or transition_refused(current, "consumed")
        raise refusal
    tier = None
    if consumed.card_id is not None:
        earning = await memberships.credit_order_purchase(
            session,
            card_id=consumed.card_id,
            amount=consumed.subtotal,
            paid=consumed.total,
            shop_id=shop_id,
            staff_user_id=staff_user_id,
            note=f"order {codes.display(consumed.code)}",
            now=now,
        )
        values = {"earn_entry_id": earning.entry_id, "points_earned": earning.points}
        await repo.set_values(consumed.id, values)
        consumed.earn_entry_id, consumed.points_earned = earning.entry_id, earning.points
        tier = earning.tier_code
    await customers.record_activity(
        session,
        merchant_id=consumed.merchant_id,
        user_id=consumed.user_id,
        kind="order_consumed",
        at=now,
        spend=consumed.total,
        currency=consumed.currency,
        reference_id=consumed.id,
        tier=tier,
    )
    return order_schema(consumed, await order_items(connection, consumed.id))


async def consume_by_code(
    session: AsyncSession,
    *,
    staff_user_id: uuid.UUID,
    data: schemas.OrderCounterRequest,
    keys: list[tuple[str, bytes]],
    now: datetime,
) -> schemas.Order:
    code = code_of(data, keys)
    # one statement: the order, the caller's role at its merchant and whether the shop is the
    # merchant's; the checks in `_staff_order`'s order with its errors
    found = await counter_order(
        await connection_of(session),
        code,
        staff_user_id=staff_user_id,
        shop_id=data.shop_id,
        staff_role=accounts.staff_role_expression,
        shop_owned=merchants.shop_of_merchant_sql,
    )
    if found is None or found[1] is None:  # another merchant's order is not found either
        raise OrderNotFound()
    order, _, shop_owned = found
    if not shop_owned:
        raise merchants.ShopNotFound()
    return await _consume(
        session, order, staff_user_id=staff_user_id, shop_id=data.shop_id, now=now
    )


async def lookup_order(
    session: AsyncSession,
    *,
    staff_user_id: uuid.UUID,
    data: schemas.OrderCounterRequest,
    keys: list[tuple[str, bytes]],
    now: datetime,
) -> schemas.OrderLookup:
    """What consuming would do, changing nothing."""
    code = code_of(data, keys)
    order = await _staff_order(
        session,
        order=await OrderRepository(session).by_code(code),
        staff_user_id=staff_user_id,
        shop_id=data.shop_id,
    )
    refusal = _refusal(order, now)
    shown = None
    if refusal is not None:
        title, detail = refusal.texts()  # the reader's language, as in a problem body
        shown = schemas.Refusal(code=refusal.code, title=title, detail=detail, extra=refusal.extra)
    return schemas.OrderLookup(
        consumable=refusal is None,
        refusal=shown,
        order=await view(session, order),
    )


async def counter_lookup(
    session: AsyncSession,
    staff_user_id: uuid.UUID,
    data: CounterInput,
    keys: list[tuple[str, bytes]],
) -> schemas.OrderLookup | None:
    """For the counter's shared lookup (`POST /v1/counter/lookup`): the order lookup when the
    code or QR is an order's, None otherwise (so coupons answers its own refusal)."""
    if data.qr is not None:
        code = codes.code_from_qr(data.qr, keys)
    else:
        typed = codes.normalise(data.code or "")
        code = typed if codes.is_valid(typed) else None
    if code is None:
        return None
    return await lookup_order(
        session,
        staff_user_id=staff_user_id,
        data=schemas.OrderCounterRequest(code=code, shop_id=data.shop_id),
        keys=keys,
        now=utcnow(),  # the shared lookup's handlers take no clock
    )
