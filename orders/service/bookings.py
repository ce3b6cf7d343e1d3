"""Bookings of bookable offerings: book, reschedule, cancel and the staff's bookings board
(arrived, completed, no-show). Beside: booking_slots.py (rules, free slots), booking_lists.py
(the lists), booking_views.py (what holder and staff see), reminders.py (the outbox).

Capacity is the database's: a slot row carries `capacity` and `booked`, and a booking takes
its seats with one conditional `UPDATE … SET booked = booked + n WHERE booked + n <=
capacity` (a CHECK backs it). Concurrent bookings of the last seat serialise on the row: one
wins, the others find it full. A reschedule touches its two slots in id order, so two
reschedules crossing each other cannot deadlock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import localised
from core.settings import Settings
from core.timezones import zone
from customers import schemas as customer_schemas
from customers import service as customers
from merchants import schemas as merchant_schemas
from orders import schemas, slots, states
from orders.models import Booking, BookingReminder
from orders.repository import BookingRepository, ReminderRepository
from orders.service.booking_slots import bookable, booking_rule, periods_of
from orders.service.booking_views import (
    booking_schema,
    sees_phones,
    shaped,
    staff_role,
)
from orders.service.errors import (
    BookingCancelled,
    BookingCustomerAmbiguous,
    BookingCustomerStaffOnly,
    BookingNotFound,
    BookingNotStarted,
    BookingStatusStaffOnly,
    BookingTransitionInvalid,
    BookingUpdateMixed,
    SlotFull,
    SlotInPast,
    SlotInvalid,
)


async def _slot_for(
    session: AsyncSession,
    *,
    settings: Settings,
    shop: merchant_schemas.Shop,
    offering: merchant_schemas.Offering,
    starts_at: datetime,
    now: datetime,
) -> tuple[uuid.UUID, datetime, datetime]:
    rule = await booking_rule(session, settings=settings, offering_id=offering.id)
    start = starts_at.astimezone(UTC)
    if start <= now:
        raise SlotInPast(loc=["body", "starts_at"])
    if not slots.is_slot_start(periods_of(shop), start, rule.slot_minutes, zone(shop.timezone)):
        raise SlotInvalid(
            localised(
                f"该服务的时段为营业时间内每 {rule.slot_minutes} 分钟一个",
                f"Slots of this offering last {rule.slot_minutes} minutes within opening hours",
            ),
            loc=["body", "starts_at"],
        )
    end = start + timedelta(minutes=rule.slot_minutes)
    slot_id = await BookingRepository(session).ensure_slot(
        merchant_id=offering.merchant_id,
        shop_id=shop.id,
        offering_id=offering.id,
        starts_at=start,
        ends_at=end,
        capacity=rule.capacity,
    )
    return slot_id, start, end


def _reminder_body(offering_name: str, shop_name: str, start: datetime, timezone: str) -> str:
    local = start.astimezone(zone(timezone))
    return f"{shop_name} · {offering_name} · {local:%Y-%m-%d %H:%M}"


def _remind_at(settings: Settings, start: datetime, now: datetime) -> datetime:
    return max(now, start - timedelta(minutes=settings.booking_reminder_minutes))


async def _named_customer(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    caller_id: uuid.UUID,
    data: schemas.BookingCreate,
    now: datetime,
) -> tuple[customer_schemas.KnownCustomer | None, str | None]:
    """The customer staff book for (`customer_id`, or `phone`: a walk-in customer made when the
    merchant does not know the phone) and the caller's role; (None, role) when none is named."""
    named = data.customer_id is not None or data.phone is not None
    if data.customer_id is not None and data.phone is not None:
        raise BookingCustomerAmbiguous()
    role = await staff_role(session, merchant_id, caller_id) if named else None
    if not named:
        return None, None
    if role is None:
        raise BookingCustomerStaffOnly()
    if data.customer_id is not None:
        customer = await customers.known_customer(
            session, merchant_id=merchant_id, customer_id=data.customer_id
        )
    else:
        assert data.phone is not None
        customer = await customers.customer_for_phone(
            session, merchant_id=merchant_id, phone=data.phone, name=data.customer_name, now=now
        )
    return customer, role


async def book(
    session: AsyncSession,
    *,
    settings: Settings,
    shop_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.BookingCreate,
    now: datetime,
) -> schemas.Booking:
    """The caller books for themselves, or staff book for a customer they name."""
    shop, offering = await bookable(session, shop_id=shop_id, offering_id=data.offering_id)
    customer, role = await _named_customer(
        session, merchant_id=offering.merchant_id, caller_id=user_id, data=data, now=now
    )
    slot_id, start, end = await _slot_for(
        session, settings=settings, shop=shop, offering=offering, starts_at=data.starts_at, now=now
    )
    holder = customer.user_id if customer is not None else user_id
    repo = BookingRepository(session)
    if not await repo.take(slot_id, data.party_size):
        raise SlotFull()
    booking = await repo.add(
        Booking(
            merchant_id=offering.merchant_id,
            shop_id=shop.id,
            offering_id=offering.id,
            user_id=holder,
            customer_id=customer.id if customer is not None else None,
            booked_by=user_id if customer is not None else None,
            slot_id=slot_id,
            starts_at=start,
            ends_at=end,
            party_size=data.party_size,
            status="booked",
            note=data.note,
        )
    )
    if holder is not None:
        # the reminder is written with the booking (outbox): a job marks it due, push sends
        # it (a walk-in customer without the app has no device to remind)
        await ReminderRepository(session).add(
            BookingReminder(
                merchant_id=offering.merchant_id,
                booking_id=booking.id,
                user_id=holder,
                remind_at=_remind_at(settings, start, now),
                status="pending",
                title=offering.name,
                body=_reminder_body(offering.name, shop.name, start, shop.timezone),
            )
        )
    booking.customer_id = await customers.record_activity(
        session,
        merchant_id=offering.merchant_id,
        user_id=holder,
        customer_id=customer.id if customer is not None else None,
        kind="booking",
        at=now,
        visit=False,
        reference_id=booking.id,
    )
    await session.flush()
    await session.refresh(booking)
    if customer is None:
        return booking_schema(booking, offering.name, shop.timezone)
    return booking_schema(
        booking, offering.name, shop.timezone, customer, mask=not sees_phones(role)
    )


async def _access(
    session: AsyncSession, *, booking_id: uuid.UUID, user_id: uuid.UUID, lock: bool = False
) -> tuple[Booking, bool, str | None]:
    booking = await BookingRepository(session).get(booking_id, lock=lock)
    if booking is None:
        raise BookingNotFound()
    holder = booking.user_id == user_id
    role = await staff_role(session, booking.merchant_id, user_id)
    if not holder and role is None:
        raise BookingNotFound()
    return booking, holder, role


async def get_booking(
    session: AsyncSession, *, booking_id: uuid.UUID, user_id: uuid.UUID
) -> schemas.Booking:
    booking, _, role = await _access(session, booking_id=booking_id, user_id=user_id)
    return await shaped(session, booking, role)


async def update_booking(
    session: AsyncSession,
    *,
    settings: Settings,
    booking_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.BookingUpdate,
    now: datetime,
) -> schemas.Booking:
    """Reschedule (the holder or staff) and/or change the party size or note; or (staff)
    set the board status."""
    if data.status is not None:
        if data.model_fields_set - {"status"}:
            raise BookingUpdateMixed()
        return await set_board_status(
            session, booking_id=booking_id, user_id=user_id, to=data.status, now=now
        )
    booking, _, role = await _access(session, booking_id=booking_id, user_id=user_id, lock=True)
    _require_booked(booking, "booked")
    shop, offering = await bookable(
        session, shop_id=booking.shop_id, offering_id=booking.offering_id
    )
    repo = BookingRepository(session)
    new_slot, start, end = booking.slot_id, booking.starts_at, booking.ends_at
    if data.starts_at is not None:
        new_slot, start, end = await _slot_for(
            session,
            settings=settings,
            shop=shop,
            offering=offering,
            starts_at=data.starts_at,
            now=now,
        )
    party = data.party_size if data.party_size is not None else booking.party_size
    deltas: dict[uuid.UUID, int] = {booking.slot_id: -booking.party_size}
    deltas[new_slot] = deltas.get(new_slot, 0) + party
    for slot_id in sorted(deltas):  # id order: crossing reschedules cannot deadlock
        delta = deltas[slot_id]
        if delta > 0 and not await repo.take(slot_id, delta):
            raise SlotFull()
        if delta < 0:
            await repo.give_back(slot_id, -delta)
    moved = start != booking.starts_at
    booking.slot_id, booking.starts_at, booking.ends_at, booking.party_size = (
        new_slot,
        start,
        end,
        party,
    )
    if "note" in data.model_fields_set:
        booking.note = data.note
    booking.updated_at = now
    await session.flush()
    if moved:
        await ReminderRepository(session).reschedule(
            booking.id,
            _remind_at(settings, start, now),
            _reminder_body(offering.name, shop.name, start, shop.timezone),
        )
    return await shaped(session, booking, role)


def _require_booked(booking: Booking, to: str) -> None:
    if booking.status == "cancelled":
        raise BookingCancelled()
    if booking.status != "booked":
        raise BookingTransitionInvalid(booking.status, to)


async def set_board_status(
    session: AsyncSession,
    *,
    booking_id: uuid.UUID,
    user_id: uuid.UUID,
    to: str,
    now: datetime,
) -> schemas.Booking:
    """Staff move a booking on the board (states.BOOKING_TRANSITIONS). The row is locked and
    read afresh first, so of two staff setting conflicting statuses at once the second sees
    the first's move and is refused (409), never overwrites it."""
    booking, _, role = await _access(session, booking_id=booking_id, user_id=user_id, lock=True)
    if role is None:
        raise BookingStatusStaffOnly()
    if not states.booking_can_move(booking.status, to):
        raise BookingTransitionInvalid(booking.status, to)
    if to == "no_show" and now < booking.starts_at:
        raise BookingNotStarted()
    booking.status, booking.updated_at = to, now
    if to == "arrived":
        booking.arrived_at = now
    elif to == "completed":
        booking.completed_at = now
    else:
        booking.no_show_at = now
        await customers.record_no_show(
            session,
            merchant_id=booking.merchant_id,
            customer_id=booking.customer_id,
            user_id=booking.user_id,
            booking_id=booking.id,
            at=booking.starts_at,
        )
    await session.flush()
    # a reminder not sent yet has nothing left to remind of
    await ReminderRepository(session).cancel(booking.id)
    return await shaped(session, booking, role)


async def cancel_booking(
    session: AsyncSession, *, booking_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> schemas.Booking:
    booking, _, role = await _access(session, booking_id=booking_id, user_id=user_id, lock=True)
    _require_booked(booking, "cancelled")
    await BookingRepository(session).give_back(booking.slot_id, booking.party_size)
    booking.status, booking.cancelled_at, booking.updated_at = "cancelled", now, now
    await session.flush()
    await ReminderRepository(session).cancel(booking.id)
    return await shaped(session, booking, role)
