"""Queries for customers staff add themselves and their linking to an app account."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from customers.models import Customer

_INSERT_MEMBERS = text(
    """
    INSERT INTO customers (id, merchant_id, user_id, phone, name, birthday, source,
                           first_seen_at, last_activity_at)
    SELECT t.id, :merchant_id, t.user_id, t.phone, t.name, t.birthday, 'member_book', :now, :now
    FROM unnest(CAST(:ids AS uuid[]), CAST(:users AS uuid[]), CAST(:phones AS text[]),
                CAST(:names AS text[]), CAST(:birthdays AS date[]))
         AS t(id, user_id, phone, name, birthday)
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
# a join with the phones, not `phone IN (…1000 parameters)`: a prepared statement's generic
# plan of such a list scans the table comparing each row with every parameter (seconds)
_WITH_PHONES = text(
    """
    SELECT c.id, c.user_id, c.name, c.phone, c.birthday
    FROM unnest(CAST(:phones AS text[])) AS p(phone)
    JOIN customers c ON c.merchant_id = :merchant_id AND c.phone = p.phone
    ORDER BY c.phone, c.user_id IS NULL, c.id
    FOR UPDATE OF c
    """
)
_REFRESH_MEMBERS = text(
    """
    UPDATE customers c
    SET name = coalesce(t.name, c.name), birthday = coalesce(t.birthday, c.birthday),
        updated_at = now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:names AS text[]), CAST(:birthdays AS date[]))
         AS t(id, name, birthday)
    WHERE c.id = t.id
      AND (c.name IS DISTINCT FROM coalesce(t.name, c.name)
           OR c.birthday IS DISTINCT FROM coalesce(t.birthday, c.birthday))
    """
)


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

    async def with_phones(self, merchant_id: uuid.UUID, phones: list[str]) -> list[Any]:
        """(id, user_id, name, phone, birthday) of the merchant's customers with these phones,
        row-locked, an app customer before a walk-in of the same phone."""
        return list(
            await self.session.execute(_WITH_PHONES, {"merchant_id": merchant_id, "phones": phones})
        )

    async def insert_members(
        self,
        merchant_id: uuid.UUID,
        rows: list[tuple[uuid.UUID, uuid.UUID | None, str, str | None, date | None]],
        now: datetime,
    ) -> int:
        """New member-book records (id, user_id, phone, name, birthday) in one statement; how
        many were inserted (a phone or user taken meanwhile is skipped, not an error)."""
        if not rows:
            return 0
        ids, users, phones, names, birthdays = (list(col) for col in zip(*rows, strict=True))
        result = await self.session.execute(_INSERT_MEMBERS, {
            "merchant_id": merchant_id, "ids": ids, "users": users, "phones": phones,
            "names": names, "birthdays": birthdays, "now": now,
        })  # fmt: skip
        return len(result.all())

    async def refresh_members(self, rows: list[tuple[uuid.UUID, str | None, date | None]]) -> None:
        """Name and birthday of existing records, where the book gives one (blank keeps)."""
        if not rows:
            return
        ids, names, birthdays = (list(col) for col in zip(*rows, strict=True))
        await self.session.execute(
            _REFRESH_MEMBERS, {"ids": ids, "names": names, "birthdays": birthdays}
        )

    async def insert(self, values: dict[str, Any]) -> Customer | None:
        """A new record, or None when a concurrent insert took this (merchant, phone) or
        (merchant, user) first (the unique indexes decide)."""
        stmt = insert(Customer).values(**values).on_conflict_do_nothing().returning(Customer)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def link_phone(self, user_id: uuid.UUID, phone: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Every unlinked record with this phone now belongs to the user, at each merchant
        where the user has no record yet (one record per merchant and user): (merchant id,
        customer id) of each."""
        own = Customer.__table__.alias("own")
        stmt = (
            update(Customer)
            .where(
                Customer.phone == phone,
                Customer.user_id.is_(None),
                ~select(own.c.id)
                .where(own.c.merchant_id == Customer.merchant_id, own.c.user_id == user_id)
                .exists(),
            )
            .values(user_id=user_id)
            .returning(Customer.merchant_id, Customer.id)
            .execution_options(synchronize_session=False)
        )
        return [(r[0], r[1]) for r in await self.session.execute(stmt)]
