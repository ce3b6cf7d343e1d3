"""Order queries: the order and its items, payment and consume transitions, the lists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import (
    Order,
    OrderItem,
)


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, order: Order, items: list[OrderItem]) -> Order:
        self.session.add(order)
        await self.session.flush()
        self.session.add_all(items)
        await self.session.flush()
        return order

    async def get(self, order_id: uuid.UUID) -> Order | None:
        return await self.session.get(Order, order_id, populate_existing=True)

    async def by_code(self, code: str) -> Order | None:
        stmt = select(Order).where(Order.code == code).execution_options(populate_existing=True)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_reference(self, reference: str) -> Order | None:
        stmt = (
            select(Order)
            .where(Order.provider_reference == reference)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def code_taken(self, code: str) -> bool:
        stmt = select(func.count()).where(Order.code == code)
        return bool((await self.session.execute(stmt)).scalar_one())

    async def items(self, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[OrderItem]]:
        found: dict[uuid.UUID, list[OrderItem]] = {i: [] for i in order_ids}
        if not order_ids:
            return found
        stmt = (
            select(OrderItem)
            .where(OrderItem.order_id.in_(order_ids))
            .order_by(OrderItem.order_id, OrderItem.position)
        )
        for item in (await self.session.execute(stmt)).scalars():
            found[item.order_id].append(item)
        return found

    async def transition(
        self,
        order_id: uuid.UUID,
        *,
        from_: str,
        to: str,
        values: dict[str, Any],
        usable_at: datetime | None = None,
    ) -> Order | None:
        """The one way an order changes state: only if it is still in `from_` (and, given
        `usable_at`, only if its validity has not ended by then)."""
        conditions = [Order.id == order_id, Order.status == from_]
        if usable_at is not None:
            conditions.append(or_(Order.usable_until.is_(None), Order.usable_until > usable_at))
        stmt = (
            update(Order)
            .where(*conditions)
            .values(status=to, updated_at=func.now(), **values)
            .returning(Order)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def claim_late_refund(self, order_id: uuid.UUID) -> bool:
        """A payment arrived for an order already closed: claim the right to refund it, once."""
        stmt = (
            update(Order)
            .where(
                Order.id == order_id,
                Order.status.in_(("expired", "cancelled")),
                Order.refund_reference.is_(None),
            )
            .values(refund_reference="pending")
            .returning(Order.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def set_values(self, order_id: uuid.UUID, values: dict[str, Any]) -> None:
        # the caller sets the same values on its object: nothing in the session to expire
        await self.session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def of_user(
        self, user_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Order]:
        stmt = select(Order).where(Order.user_id == user_id)
        if after is not None:
            stmt = stmt.where(tuple_(Order.created_at, Order.id) < tuple_(*after))
        stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())

    async def due_for_expiry(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Unpaid orders past their deadline; rows another worker holds are skipped."""
        stmt = (
            select(Order.id)
            .where(Order.status == "pending_payment", Order.expires_at <= now)
            .order_by(Order.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def due_for_expiry_refund(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Paid orders sold `anytime` whose validity has ended; held rows are skipped."""
        stmt = (
            select(Order.id)
            .where(
                Order.status == "paid",
                Order.refund_policy == "anytime",
                Order.usable_until <= now,
            )
            .order_by(Order.usable_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def consumed_by_user_at_shop(
        self, order_id: uuid.UUID, *, user_id: uuid.UUID, shop_id: uuid.UUID
    ) -> bool:
        stmt = select(func.count()).where(
            Order.id == order_id,
            Order.user_id == user_id,
            Order.status == "consumed",
            Order.consumed_shop_id == shop_id,
        )
        return bool((await self.session.execute(stmt)).scalar_one())
