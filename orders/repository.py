"""Every query of the orders package (orders, bookings, reminders, statements)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import (
    Booking,
    BookingReminder,
    BookingRule,
    BookingSlot,
    Order,
    OrderItem,
    SettlementStatement,
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
        self, order_id: uuid.UUID, *, from_: str, to: str, values: dict[str, Any]
    ) -> Order | None:
        """The one way an order changes state: only if it is still in `from_`."""
        stmt = (
            update(Order)
            .where(Order.id == order_id, Order.status == from_)
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


@dataclass(frozen=True)
class PeriodTotals:
    collected: int
    orders_paid: int
    refunded: int
    orders_refunded: int
    consumed: int
    orders_consumed: int
    fees: int


@dataclass(frozen=True)
class ConsumedLine:
    order_id: uuid.UUID
    code: str
    shop_id: uuid.UUID | None
    consumed_at: datetime
    total: int


class SettlementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def totals(
        self,
        merchant_id: uuid.UUID,
        *,
        currency: str,
        start: datetime,
        end: datetime,
        fee_bps: int,
    ) -> PeriodTotals:
        def within(column: Any) -> Any:
            return and_(column >= start, column < end)

        # fee per order rounded half up: floor((total * bps * 2 + 10000) / 20000) — the same
        # rule as orders.fees.fee_of, summed by the database (the CSV recomputes it per line)
        fee = (Order.total * fee_bps * 2 + 10_000) // 20_000
        stmt = select(
            func.coalesce(func.sum(Order.total).filter(within(Order.paid_at)), 0),
            func.count().filter(within(Order.paid_at)),
            func.coalesce(func.sum(Order.total).filter(within(Order.refunded_at)), 0),
            func.count().filter(within(Order.refunded_at)),
            func.coalesce(func.sum(Order.total).filter(within(Order.consumed_at)), 0),
            func.count().filter(within(Order.consumed_at)),
            func.coalesce(func.sum(fee).filter(within(Order.consumed_at)), 0),
        ).where(
            Order.merchant_id == merchant_id,
            Order.currency == currency,
            # only orders touched in the period matter; the three indexes answer these
            (within(Order.paid_at) | within(Order.refunded_at) | within(Order.consumed_at)),
        )
        row = (await self.session.execute(stmt)).one()
        return PeriodTotals(*(int(v) for v in row))

    async def consumed_lines(
        self, merchant_id: uuid.UUID, *, currency: str, start: datetime, end: datetime
    ) -> list[ConsumedLine]:
        stmt = (
            select(Order.id, Order.code, Order.consumed_shop_id, Order.consumed_at, Order.total)
            .where(
                Order.merchant_id == merchant_id,
                Order.currency == currency,
                Order.consumed_at >= start,
                Order.consumed_at < end,
            )
            .order_by(Order.consumed_at, Order.id)
        )
        return [
            ConsumedLine(order_id, code, shop_id, at, total)
            for order_id, code, shop_id, at, total in await self.session.execute(stmt)
            if at is not None
        ]

    async def get(
        self, merchant_id: uuid.UUID, period: str, currency: str
    ) -> SettlementStatement | None:
        stmt = (
            select(SettlementStatement)
            .where(
                SettlementStatement.merchant_id == merchant_id,
                SettlementStatement.period == period,
                SettlementStatement.currency == currency,
            )
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def upsert_unless_closed(self, values: dict[str, Any]) -> SettlementStatement | None:
        """Write the statement; a closed one is never touched again (None then)."""
        stmt = insert(SettlementStatement).values(**values)
        changing = {
            k: stmt.excluded[k]
            for k in values
            if k not in ("id", "merchant_id", "period", "currency")
        }
        upsert = stmt.on_conflict_do_update(
            index_elements=["merchant_id", "period", "currency"],
            set_=changing,
            where=SettlementStatement.status == "open",
        ).returning(SettlementStatement)
        result = await self.session.execute(upsert.execution_options(populate_existing=True))
        return result.scalar_one_or_none()


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
        include_cancelled: bool = False,
    ) -> list[Booking]:
        stmt = select(Booking).where(
            Booking.merchant_id == merchant_id,
            Booking.starts_at >= start,
            Booking.starts_at < end,
        )
        if shop_id is not None:
            stmt = stmt.where(Booking.shop_id == shop_id)
        if not include_cancelled:
            stmt = stmt.where(Booking.status == "booked")
        return list(
            (await self.session.execute(stmt.order_by(Booking.starts_at, Booking.id))).scalars()
        )

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


@dataclass(frozen=True)
class OrderDayLine:
    staff_user_id: uuid.UUID | None
    currency: str
    count: int
    total: int


async def order_day_lines(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID | None,
    start: datetime,
    end: datetime,
    refunded: bool,
) -> list[OrderDayLine]:
    """Orders consumed (or `refunded`) in [start, end), by the staff member who did it —
    the same instants the settlement statement counts by."""
    at = Order.refunded_at if refunded else Order.consumed_at
    who = Order.refunded_by if refunded else Order.consumed_by
    where_shop = Order.shop_id if refunded else Order.consumed_shop_id
    stmt = (
        select(who, Order.currency, func.count(), func.coalesce(func.sum(Order.total), 0))
        .where(Order.merchant_id == merchant_id, at >= start, at < end)
        .group_by(who, Order.currency)
    )
    if shop_id is not None:
        stmt = stmt.where(where_shop == shop_id)
    return [OrderDayLine(r[0], r[1], int(r[2]), int(r[3])) for r in await session.execute(stmt)]
