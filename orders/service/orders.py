"""Reading orders (the holder and the merchant's staff; anyone else gets the order's 404),
the holder's cancel, the expiry of unpaid orders, the order's QR and the verified-review check.
Placing: orders.service.placing; refunds: orders.service.refunds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from core.errors import Forbidden
from core.pagination import decode_cursor, encode_cursor
from core.settings import Settings
from orders import codes, schemas
from orders.models import Order
from orders.repository import OrderRepository
from orders.service.errors import OrderNotFound
from orders.service.moves import close_payment, move, release_holds
from orders.service.views import order_schema, view


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
