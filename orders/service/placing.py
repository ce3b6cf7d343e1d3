"""Placing orders: the price snapshot, the coupon reserved, the card's discount and points,
the refund terms (the strictest line's) and the payment started.

Pricing, in this order: the lines' sum (subtotal) → the coupon (its minimum spend is checked
against the subtotal) → the card tier's discount on what is left (rounded down, as at the
counter) → points spent as money. `total` is what the customer pays; a CHECK keeps the
arithmetic exact in the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from core import payment_records
from core.i18n import localised
from core.ids import new_id
from core.money import Money, format_money
from core.payments import Checkout
from coupons import service as coupons
from memberships import service as memberships
from merchants import service as merchants
from orders import codes, schemas
from orders.models import Order, OrderItem
from orders.repository import OrderRepository
from orders.service.errors import CurrencyMismatch, OfferingNotOnShop, PointsExceedTotal
from orders.service.moves import after_payment, move, paid_values
from orders.service.views import order_schema

log = structlog.get_logger("corner.orders")
REFERENCE_PREFIX = "ord_"


def reference_of(order_id: uuid.UUID) -> str:
    return REFERENCE_PREFIX + order_id.hex


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
