"""Booking queries: rules, slots, bookings and their reminders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import DateTime, Uuid, and_, bindparam, func, not_, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.lean import Connection, Statement
from orders.models import (
    Booking,
    BookingReminder,
    BookingRule,
    BookingSlot,
)


@dataclass(frozen=True)
class SlotRows:
    """Booking rules (offering id -> slot minutes, capacity) and slot rows (offering id,
    start -> capacity, booked) of several offerings."""

    rules: dict[uuid.UUID, tuple[int, int]]
    taken: dict[tuple[uuid.UUID, datetime], tuple[int, int]]


@cache
def _rules_and_slots_statement() -> Statement:
    """One row: the offerings' rules and their slot rows in [start, end) as two JSON arrays
    (one statement whatever the number of offerings: the shop page)."""
    ids = bindparam("offering_ids", type_=ARRAY(Uuid))
    r, s = BookingRule.__table__.c, BookingSlot.__table__.c
    rules = select(
        func.json_agg(func.json_build_array(r.offering_id, r.slot_minutes, r.capacity))
    ).where(r.offering_id == func.any(ids))
    taken = select(
        func.json_agg(func.json_build_array(s.offering_id, s.starts_at, s.capacity, s.booked))
    ).where(
        s.offering_id == func.any(ids),
        s.starts_at >= bindparam("start", type_=DateTime(timezone=True)),
        s.starts_at < bindparam("end", type_=DateTime(timezone=True)),
    )
    return Statement(select(rules.scalar_subquery(), taken.scalar_subquery()))


async def rules_and_slots(
    connection: Connection, offering_ids: list[uuid.UUID], start: datetime, end: datetime
) -> SlotRows:
    row = await _rules_and_slots_statement().one(
        connection, {"offering_ids": offering_ids, "start": start, "end": end}
    )
    rules, taken = row if row is not None else (None, None)
    return SlotRows(
        {uuid.UUID(o): (minutes, capacity) for o, minutes, capacity in rules or ()},
        {
            (uuid.UUID(o), datetime.fromisoformat(at)): (capacity, booked)
            for o, at, capacity, booked in taken or ()
        },
    )


class BookingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rule(self, offering_id: uuid.UUID) -> BookingRule | None:
        return await self.session.get(BookingRule, offering_id, populate_existing=True)

    async def put_rule(
        self, *, offering_id: uuid.UUID, merchant_id: uuid.UUID, slot_minutes: int, capacity: int
    ) -> None:
        stmt = insert(BookingRule).values(
            offering_id=offering_id,
            merchant_id=merchant_id,
            slot_minutes=slot_minutes,
            capacity=capacity,
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[BookingRule.offering_id],
                set_={"slot_minutes": slot_minutes, "capacity": capacity, "updated_at": func.now()},
            )
        )

    async def ensure_slot(
        self,
        *,
        merchant_id: uuid.UUID,
        shop_id: uuid.UUID,
        offering_id: uuid.UUID,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int,
    ) -> uuid.UUID:
        """The slot's row, created by the first booking (concurrent first bookings: one row)."""
        inserted = await self.session.execute(
            insert(BookingSlot)
            .values(
                merchant_id=merchant_id,
                shop_id=shop_id,
                offering_id=offering_id,
                starts_at=starts_at,
                ends_at=ends_at,
                capacity=capacity,
                booked=0,
            )
            .on_conflict_do_nothing(index_elements=["offering_id", "starts_at"])
            .returning(BookingSlot.id)
        )
        slot_id = inserted.scalar_one_or_none()
        if slot_id is not None:
            return slot_id
        stmt = select(BookingSlot.id).where(
            BookingSlot.offering_id == offering_id, BookingSlot.starts_at == starts_at
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def take(self, slot_id: uuid.UUID, seats: int) -> bool:
        """Book `seats` of the slot if they fit: one conditional UPDATE (row-locked)."""
        stmt = (
            update(BookingSlot)
            .where(BookingSlot.id == slot_id, BookingSlot.booked + seats <= BookingSlot.capacity)
            .values(booked=BookingSlot.booked + seats)
            .returning(BookingSlot.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def give_back(self, slot_id: uuid.UUID, seats: int) -> None:
        await self.session.execute(
            update(BookingSlot)
            .where(BookingSlot.id == slot_id)
            .values(booked=BookingSlot.booked - seats)
        )

    async def slots_between(
        self, offering_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[BookingSlot]:
        stmt = select(BookingSlot).where(
            BookingSlot.offering_id == offering_id,
            BookingSlot.starts_at >= start,
            BookingSlot.starts_at < end,
        )
        return list((await self.session.execute(stmt)).scalars())

    async def add(self, booking: Booking) -> Booking:
        self.session.add(booking)
        await self.session.flush()
        return booking

    async def get(self, booking_id: uuid.UUID, *, lock: bool = False) -> Booking | None:
        stmt = (
            select(Booking)
            .where(Booking.id == booking_id)
            .execution_options(populate_existing=True)
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_merchant_between(
        self,
        merchant_id: uuid.UUID,
        start: datetime,
        end: datetime,
        *,
        shop_id: uuid.UUID | None = None,
        statuses: list[str] | None = None,
    ) -> list[Booking]:
        """The merchant's bookings starting in [start, end) of these statuses (default
        booked only), earliest first."""
        stmt = select(Booking).where(
            Booking.merchant_id == merchant_id,
            Booking.starts_at >= start,
            Booking.starts_at < end,
        )
        if shop_id is not None:
            stmt = stmt.where(Booking.shop_id == shop_id)
        stmt = stmt.where(Booking.status.in_(statuses or ["booked"]))
        return list(
            (await self.session.execute(stmt.order_by(Booking.starts_at, Booking.id))).scalars()
        )

    async def of_user(
        self,
        user_id: uuid.UUID,
        *,
        upcoming: bool,
        now: datetime,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Booking]:
        """The user's upcoming bookings (booked, not ended at `now`) soonest first, or all the
        others (past or cancelled) latest first; limit+1 rows after the keyset `after`."""
        is_upcoming = and_(Booking.status == "booked", Booking.ends_at > now)
        stmt = select(Booking).where(Booking.user_id == user_id)
        if upcoming:
            stmt = stmt.where(is_upcoming)
            if after is not None:
                stmt = stmt.where(tuple_(Booking.starts_at, Booking.id) > tuple_(*after))
            stmt = stmt.order_by(Booking.starts_at, Booking.id)
        else:
            stmt = stmt.where(not_(is_upcoming))
            if after is not None:
                stmt = stmt.where(tuple_(Booking.starts_at, Booking.id) < tuple_(*after))
            stmt = stmt.order_by(Booking.starts_at.desc(), Booking.id.desc())
        return list((await self.session.execute(stmt.limit(limit + 1))).scalars())

    async def of_user_at_shop(
        self, user_id: uuid.UUID, shop_id: uuid.UUID, *, limit: int
    ) -> list[Booking]:
        stmt = (
            select(Booking)
            .where(Booking.user_id == user_id, Booking.shop_id == shop_id)
            .order_by(Booking.starts_at.desc(), Booking.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def of_shop_between(
        self, shop_id: uuid.UUID, merchant_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[Booking]:
        stmt = (
            select(Booking)
            .where(
                Booking.merchant_id == merchant_id,
                Booking.shop_id == shop_id,
                Booking.starts_at >= start,
                Booking.starts_at < end,
            )
            .order_by(Booking.starts_at, Booking.id)
        )
        return list((await self.session.execute(stmt)).scalars())


class ReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, reminder: BookingReminder) -> None:
        self.session.add(reminder)
        await self.session.flush()

    async def reschedule(self, booking_id: uuid.UUID, remind_at: datetime, body: str) -> None:
        # a reminder already due or sent for the old time is not repeated: a new one is queued
        await self.session.execute(
            update(BookingReminder)
            .where(BookingReminder.booking_id == booking_id)
            .values(status="pending", remind_at=remind_at, body=body, due_at=None, sent_at=None)
        )

    async def cancel(self, booking_id: uuid.UUID) -> None:
        await self.session.execute(
            update(BookingReminder)
            .where(
                BookingReminder.booking_id == booking_id,
                BookingReminder.status.in_(("pending", "due")),
            )
            .values(status="cancelled")
        )

    async def mark_due(self, now: datetime, limit: int) -> int:
        picked = (
            select(BookingReminder.id)
            .where(BookingReminder.status == "pending", BookingReminder.remind_at <= now)
            .order_by(BookingReminder.remind_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(BookingReminder)
            .where(BookingReminder.id.in_(picked))
            .values(status="due", due_at=now)
            .returning(BookingReminder.id)
        )
        return len(result.all())

    async def lock_due(self, limit: int) -> list[tuple[BookingReminder, datetime]]:
        """Due reminders with their booking's start, locked until the caller's commit (other
        senders skip them)."""
        stmt = (
            select(BookingReminder, Booking.starts_at)
            .join(Booking, Booking.id == BookingReminder.booking_id)
            .where(BookingReminder.status == "due")
            .order_by(BookingReminder.due_at)
            .limit(limit)
            .with_for_update(of=BookingReminder, skip_locked=True)
        )
        return [(r, starts) for r, starts in (await self.session.execute(stmt)).all()]

    async def finish_due(
        self, reminder_ids: list[uuid.UUID], status: str, now: datetime | None
    ) -> None:
        await self.session.execute(
            update(BookingReminder)
            .where(BookingReminder.id.in_(reminder_ids), BookingReminder.status == "due")
            .values(status=status, sent_at=now)
        )

    async def of_booking(self, booking_id: uuid.UUID) -> BookingReminder | None:
        stmt = select(BookingReminder).where(BookingReminder.booking_id == booking_id)
        return (
            await self.session.execute(stmt.execution_options(populate_existing=True))
        ).scalar_one_or_none()
