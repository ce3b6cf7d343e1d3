"""Queries for customers staff add themselves and their linking to an app account."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from customers.models import Customer


class WalkInRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def with_phone(
        self, merchant_id: uuid.UUID, phone: str, *, lock: bool = False
    ) -> list[Customer]:
        """The merchant's customers with this phone (an app customer first, then walk-ins)."""
        stmt = (
            select(Customer)
            .where(Customer.merchant_id == merchant_id, Customer.phone == phone)
            .order_by(Customer.user_id.is_(None), Customer.id)
        )
        if lock:
            stmt = stmt.with_for_update()
        return list((await self.session.execute(stmt)).scalars())

    async def insert(self, values: dict[str, Any]) -> Customer | None:
        """A new record, or None when a concurrent insert took this (merchant, phone) or
        (merchant, user) first (the unique indexes decide)."""
        stmt = insert(Customer).values(**values).on_conflict_do_nothing().returning(Customer)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def link_phone(self, user_id: uuid.UUID, phone: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Every unlinked record with this phone (at any merchant) now belongs to the user:
        (merchant id, customer id) of each. The user is new, so no merchant has another
        record of them to collide with."""
        stmt = (
            update(Customer)
            .where(Customer.phone == phone, Customer.user_id.is_(None))
            .values(user_id=user_id)
            .returning(Customer.merchant_id, Customer.id)
            .execution_options(synchronize_session=False)
        )
        return [(r[0], r[1]) for r in await self.session.execute(stmt)]
