"""Placing orders (price snapshot, coupon reserved, card discount and points), reading them,
and the holder's cancel and the expiry of unpaid orders (refunds: orders.service.refunds).

Pricing, in this order: the lines' sum (subtotal) → the coupon (its minimum spend is checked
against the subtotal) → the card tier's discount on what is left (rounded down, as at the
counter) → points spent as money. `total` is what the customer pays; a CHECK keeps the
arithmetic exact in the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from core import payment_records
from core.errors import Forbidden
from core.i18n import localised
from core.ids import new_id
from core.lean import Connection
from core.money import Money, format_money
from core.pagination import decode_cursor, encode_cursor
from core.payments import Checkout, PaymentIntent, instructions_schema
from core.settings import Settings
from coupons import service as coupons
from customers import service as customers
from memberships import service as memberships
from merchants import service as merchants
from orders import codes, schemas, states
from orders.models import Order, OrderItem
from orders.repository import OrderRepository
from orders.repository.orders import PaidOrder
from orders.service.errors import (
    CurrencyMismatch,
    OfferingNotOnShop,
    OrderNotFound,
    OrderTransitionInvalid,
    PointsExceedTotal,
)

log = structlog.get_logger("corner.orders")
REFERENCE_PREFIX = "ord_"


def reference_of(order_id: uuid.UUID) -> str:
    return REFERENCE_PREFIX + order_id.hex


def _summary(items: list[OrderItem]) -> str:
    first = items[0]
    name = f"{first.name} ×{first.quantity}" if first.quantity > 1 else first.name
    return name if len(items) == 1 else f"{name} +{len(items) - 1}"


def order_schema(
    order: Order, items: list[OrderItem], intent: PaymentIntent | None = None
) -> schemas.Order:
    cur = order.currency
    coupon = (
        schemas.AppliedCoupon(
            coupon_id=order.coupon_id,
            discount=Money.of(order.coupon_discount, cur),
            redemption_id=order.redemption_id,
        )
        if order.coupon_id is not None
        else None
    )
    card = (
        schemas.AppliedCard(
            card_id=order.card_id,
            discount_percent=order.card_discount_percent,
            discount=Money.of(order.card_discount, cur),
            points_used=order.points_used,
            points_value=Money.of(order.points_value, cur),
            points_earned=order.points_earned,
        )
        if order.card_id is not None
        else None
    )
    payment = (
        instructions_schema(intent)
        if intent is not None and order.status == "pending_payment"
        else schemas.PaymentInstructions(
            provider=order.provider, reference=order.provider_reference
        )
        if order.provider is not None and order.provider_reference is not None
        else None
    )
    return schemas.Order(
        id=order.id,
        merchant_id=order.merchant_id,
        shop_id=order.shop_id,
        user_id=order.user_id,
        code=order.code,
        code_display=codes.display(order.code),
        name=_summary(items) if items else "",
        status=order.status,  # type: ignore[arg-type]
        items=[
            schemas.OrderItem(
                offering_id=i.offering_id,
                name=i.name,
                unit_price=Money.of(i.unit_price, i.currency),
                quantity=i.quantity,
                line_total=Money.of(i.line_total, i.currency),
            )
            for i in items
        ],
        subtotal=Money.of(order.subtotal, cur),
        coupon=coupon,
        card=card,
        discount=Money.of(order.subtotal - order.total, cur),
        total=Money.of(order.total, cur),
        payment=payment,
        expires_at=order.expires_at,
        paid_at=order.paid_at,
        consumed_at=order.consumed_at,
        consumed_shop_id=order.consumed_shop_id,
        refunded_at=order.refunded_at,
        closed_at=order.closed_at,
        refund_policy=order.refund_policy,  # type: ignore[arg-type]
        usable_until=order.usable_until,
        created_at=order.created_at,
    )


async def view(session: AsyncSession, order: Order) -> schemas.Order:
    items = (await OrderRepository(session).items([order.id]))[order.id]
    return order_schema(order, items)


def transition_refused(order: Order, to: str) -> OrderTransitionInvalid:
    return OrderTransitionInvalid(
        f"The order is {order.status}; it cannot become {to}",
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


@dataclass
class _Line:
    offering_id: uuid.UUID
    name: str
    unit_price: int
    quantity: int
    currency: str
    refund_policy: str
    valid_days: int | None


# the order's refund terms are its strictest line's: a buyer is never promised more than
# every item of the order allows
_POLICY_STRICTNESS = {"none": 0, "before_expiry": 1, "anytime": 2}


def _refund_terms(lines: list[_Line]) -> tuple[str, int | None]:
    policy = min((line.refund_policy for line in lines), key=_POLICY_STRICTNESS.__getitem__)
    days = [line.valid_days for line in lines if line.valid_days is not None]
    return policy, min(days) if days else None


def paid_values(order: Order, now: datetime) -> dict[str, object]:
    """The columns set when an order becomes paid: its validity starts then."""
    until = now + timedelta(days=order.valid_days) if order.valid_days is not None else None
    return {"paid_at": now, "usable_until": until}


async def _lines(
    session: AsyncSession, *, shop_id: uuid.UUID, data: schemas.OrderCreate
) -> list[_Line]:
    lines: list[_Line] = []
    for position, item in enumerate(data.items):
        offering = await merchants.get_sellable_offering(session, offering_id=item.offering_id)
        if offering.shop_id != shop_id:
            raise OfferingNotOnShop(
                "The offering is not sold by this shop",
                loc=["body", "items", position, "offering_id"],
            )
        if lines and offering.price.currency != lines[0].currency:
            raise CurrencyMismatch("All items of an order must be in one currency")
        lines.append(
            _Line(
                offering.id,
                offering.name,
                offering.price.amount,
                item.quantity,
                offering.price.currency,
                offering.refund_policy,
                offering.valid_days,
            )
        )
    return lines


async def create_order(
    session: AsyncSession,
    checkout: Checkout,
    *,
    shop_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.OrderCreate,
) -> schemas.Order:
    now = checkout.now
    merchant_id = await merchants.merchant_of_shop(session, shop_id=shop_id)
    await merchants.require_selling_shop(session, merchant_id=merchant_id, shop_id=shop_id)
    lines = await _lines(session, shop_id=shop_id, data=data)
    currency = lines[0].currency
    subtotal = sum(line.unit_price * line.quantity for line in lines)
    order_id = new_id()

    coupon_id, coupon_discount = None, 0
    if data.coupon_code is not None:
        reservation = await coupons.reserve_for_order(
            session,
            code=data.coupon_code,
            user_id=user_id,
            merchant_id=merchant_id,
            shop_id=shop_id,
            order_id=order_id,
            order_amount=Money.of(subtotal, currency),
            now=now,
        )
        if reservation.currency != currency:
            raise CurrencyMismatch(
                localised(
                    f"优惠券币种为 {reservation.currency}",
                    f"The coupon is in {reservation.currency}",
                )
            )
        coupon_id, coupon_discount = reservation.coupon_id, min(reservation.discount, subtotal)
    after_coupon = subtotal - coupon_discount

    card = None
    card_discount = points_value = 0
    if data.card_id is not None:
        card = await memberships.card_for_order(
            session, card_id=data.card_id, user_id=user_id, merchant_id=merchant_id
        )
        if card.currency != currency:
            raise CurrencyMismatch(
                localised(f"会员卡币种为 {card.currency}", f"The card holds {card.currency}")
            )
        after_card, card_discount = card.discounted(after_coupon)
        if data.use_points is not None:
            points_value = card.points_value(data.use_points)
            if points_value > after_card:
                worth, left = (
                    format_money(points_value, currency),
                    format_money(after_card, currency),
                )
                raise PointsExceedTotal(
                    localised(
                        f"{data.use_points} 积分可抵 {worth}，超过订单应付 {left}",
                        f"{data.use_points} points are worth {worth}, more than the {left} due",
                    ),
                    extra={"points_value": {"amount": points_value, "currency": currency}},
                )
    total = after_coupon - card_discount - points_value
    refund_policy, valid_days = _refund_terms(lines)

    repo = OrderRepository(session)
    code = codes.new_code()
    while await repo.code_taken(code):  # 55 random bits: practically never loops
        code = codes.new_code()
    intent = None
    order = Order(
        id=order_id,
        merchant_id=merchant_id,
        shop_id=shop_id,
        user_id=user_id,
        code=code,
        status="pending_payment",
        currency=currency,
        subtotal=subtotal,
        coupon_id=coupon_id,
        coupon_discount=coupon_discount,
        card_id=card.card_id if card else None,
        card_discount_percent=card.discount_percent if card else 0,
        card_discount=card_discount,
        points_used=data.use_points or 0,
        points_value=points_value,
        total=total,
        refund_policy=refund_policy,
        valid_days=valid_days,
        expires_at=checkout.expires_at,
    )
    if total > 0:
        intent = await payment_records.start_payment(
            session,
            checkout,
            kind="order",
            subject_id=order_id,
            merchant_id=merchant_id,
            prefix=REFERENCE_PREFIX,
            amount=total,
            currency=currency,
            description=lines[0].name,
        )
        order.provider, order.provider_reference = checkout.provider.name, intent.reference
    items = [
        OrderItem(
            order_id=order_id,
            merchant_id=merchant_id,
            offering_id=line.offering_id,
            name=line.name,
            unit_price=line.unit_price,
            quantity=line.quantity,
            line_total=line.unit_price * line.quantity,
            currency=currency,
            position=position,
        )
        for position, line in enumerate(lines)
    ]
    await repo.add(order, items)
    if card is not None and data.use_points is not None:
        order.points_entry_id = await memberships.spend_points_for_order(
            session,
            card_id=card.card_id,
            points=data.use_points,
            value=points_value,
            shop_id=shop_id,
            note=f"order {codes.display(code)}",
            rule_version=card.rule_version,
        )
        await session.flush()
    if total == 0:  # nothing to pay (coupon, discount and points cover it): paid at once
        order = await move(session, order, to="paid", values=paid_values(order, now))
        await after_payment(session, order, now=now)
    return order_schema(order, items, intent)


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
    """The customer record learns of the payment (on a session's or a lean connection)."""
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


@dataclass(frozen=True)
class Access:
    order: Order
    holder: bool
    staff_role: str | None


async def access_order(session: AsyncSession, *, order_id: uuid.UUID, user_id: uuid.UUID) -> Access:
    """The holder and the merchant's staff may see an order; anyone else: not found."""
    order = await OrderRepository(session).get(order_id)
    if order is None:
        raise OrderNotFound()
    holder = order.user_id == user_id
    role = await accounts.staff_role(session, merchant_id=order.merchant_id, user_id=user_id)
    if not holder and role is None:
        raise OrderNotFound()
    return Access(order, holder, role)


async def get_order(
    session: AsyncSession, *, order_id: uuid.UUID, user_id: uuid.UUID
) -> schemas.Order:
    access = await access_order(session, order_id=order_id, user_id=user_id)
    return await view(session, access.order)


async def my_orders(
    session: AsyncSession, *, user_id: uuid.UUID, cursor: str | None, limit: int
) -> schemas.Page[schemas.Order]:
    values = decode_cursor(cursor, ("at", "id"))
    after = (datetime.fromisoformat(values["at"]), uuid.UUID(values["id"])) if values else None
    repo = OrderRepository(session)
    rows = await repo.of_user(user_id, after=after, limit=limit)
    page = rows[:limit]
    items = await repo.items([o.id for o in page])
    next_cursor = (
        encode_cursor({"at": page[-1].created_at.isoformat(), "id": str(page[-1].id)})
        if len(rows) > limit
        else None
    )
    return schemas.Page[schemas.Order](
        items=[order_schema(o, items[o.id]) for o in page], next_cursor=next_cursor
    )


async def cancel_order(
    session: AsyncSession, *, order_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> schemas.Order:
    """The holder gives up an unpaid order."""
    access = await access_order(session, order_id=order_id, user_id=user_id)
    if not access.holder:
        raise Forbidden("Only the customer who placed the order can cancel it")
    order = await move(session, access.order, to="cancelled", values={"closed_at": now})
    await release_holds(session, order, reason="cancelled")
    await close_payment(session, order, now=now)
    return await view(session, order)


async def expire_due_orders(session: AsyncSession, *, now: datetime, limit: int = 200) -> int:
    """Close unpaid orders past their deadline, giving back their coupons and points."""
    repo = OrderRepository(session)
    expired = 0
    for order_id in await repo.due_for_expiry(now, limit):
        order = await repo.transition(
            order_id, from_="pending_payment", to="expired", values={"closed_at": now}
        )
        if order is None:
            continue
        await release_holds(session, order, reason="expired")
        await close_payment(session, order, now=now)
        expired += 1
    return expired


async def order_qr_payload(
    session: AsyncSession, *, settings: Settings, order_id: uuid.UUID, user_id: uuid.UUID
) -> str:
    """The signed QR content of the holder's order (anyone else: not found)."""
    access = await access_order(session, order_id=order_id, user_id=user_id)
    if not access.holder:
        raise OrderNotFound()
    return codes.qr_payload(access.order.code, settings.signing_keys())


async def is_own_consumed_order(
    session: AsyncSession, *, order_id: uuid.UUID, user_id: uuid.UUID, shop_id: uuid.UUID
) -> bool:
    """For verified reviews: the user's own order, consumed at that shop."""
    return await OrderRepository(session).consumed_by_user_at_shop(
        order_id, user_id=user_id, shop_id=shop_id
    )
