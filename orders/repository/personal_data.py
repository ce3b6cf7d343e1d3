"""The orders package's rows about a person: orders (kept, under the pseudonymous user id:
they are the merchants' accounts) and bookings (their free-text note is erased)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import Booking, Order, OrderItem


def export_specs(user_id: uuid.UUID) -> dict[str, Any]:
    return {
        "orders": (Order, Order.user_id == user_id, ()),
        "order_items": (
            OrderItem,
            OrderItem.order_id.in_(select(Order.id).where(Order.user_id == user_id)),
            (),
        ),
        "bookings": (Booking, Booking.user_id == user_id, ()),
    }


async def erase(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(update(Booking).where(Booking.user_id == user_id).values(note=None))
