"""The order as the API shows it (`order_schema`, the package's mapper) and `view`, which
reads its items first.

The payment instructions are shown only while the order waits for payment and the intent is
at hand; afterwards only the provider and its reference.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.money import Money
from core.payments import PaymentIntent, instructions_schema
from orders import codes, schemas
from orders.models import Order, OrderItem
from orders.repository import OrderRepository


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
