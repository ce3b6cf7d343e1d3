"""Slots of bookable offerings: a grid from the shop's opening hours and special hours (in the
merchant's timezone), an offering's booking rule, and the free slots a page shows.

Pure slot arithmetic lives in orders/slots.py; this module reads the shop, the offering and
the slot rows' capacity (the database's: see orders/service/bookings.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.lean import Connection
from core.settings import Settings
from core.timezones import zone
from merchants import schemas as merchant_schemas
from merchants import service as merchants
from orders import schemas, slots
from orders.repository import BookingRepository
from orders.repository.bookings import rules_and_slots
from orders.service.errors import OfferingNotBookable


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants where the merchant's local `day` starts and the next one starts."""
    tz = zone(timezone)
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


async def booking_rule(
    session: AsyncSession, *, settings: Settings, offering_id: uuid.UUID
) -> schemas.BookingRule:
    rule = await BookingRepository(session).rule(offering_id)
    if rule is None:
        return schemas.BookingRule(
            offering_id=offering_id,
            slot_minutes=settings.booking_default_slot_minutes,
            capacity=1,
        )
    return schemas.BookingRule(
        offering_id=offering_id, slot_minutes=rule.slot_minutes, capacity=rule.capacity
    )


async def next_free_slots(
    connection: Connection,
    *,
    settings: Settings,
    shop: merchant_schemas.Shop,
    offering_ids: list[uuid.UUID],
    now: datetime,
    count: int = 3,
    days: int = 7,
) -> dict[uuid.UUID, list[schemas.Slot]]:
    """The next `count` slots with a seat left of each bookable offering, within `days`
    local days from today: one statement whatever the number of offerings (the shop page,
    on its psycopg connection)."""
    if not offering_ids:
        return {}
    tz = zone(shop.timezone)
    today = now.astimezone(tz).date()
    periods = periods_of(shop)
    found_rows = await rules_and_slots(
        connection, offering_ids, now, now + timedelta(days=days + 1)
    )
    taken = found_rows.taken
    found: dict[uuid.UUID, list[schemas.Slot]] = {}
    grids: dict[tuple[int, int], list[datetime]] = {}  # (day, slot minutes): the day's starts
    for offering_id in offering_ids:
        minutes, default_capacity = found_rows.rules.get(
            offering_id, (settings.booking_default_slot_minutes, 1)
        )
        free: list[schemas.Slot] = []
        for offset in range(days):
            grid = grids.get((offset, minutes))
            if grid is None:
                day = today + timedelta(days=offset)
                grid = grids[offset, minutes] = slots.slot_starts(periods, day, minutes, tz)
            for start in grid:
                if start <= now or len(free) >= count:
                    continue
                capacity, booked = taken.get((offering_id, start), (default_capacity, 0))
                if booked < capacity:
                    free.append(
                        schemas.Slot(
                            starts_at=start.astimezone(tz),
                            ends_at=(start + timedelta(minutes=minutes)).astimezone(tz),
                            capacity=capacity,
                            booked=booked,
                            available=capacity - booked,
                        )
                    )
            if len(free) >= count:
                break
        found[offering_id] = free
    return found


async def put_booking_rule(
    session: AsyncSession,
    *,
    offering: merchant_schemas.Offering,
    data: schemas.BookingRuleUpdate,
) -> schemas.BookingRule:
    """A manager sets the slot length and seats per slot (slots already booked keep theirs)."""
    await BookingRepository(session).put_rule(
        offering_id=offering.id,
        merchant_id=offering.merchant_id,
        slot_minutes=data.slot_minutes,
        capacity=data.capacity,
    )
    return schemas.BookingRule(offering_id=offering.id, **data.model_dump())


async def bookable(
    session: AsyncSession, *, shop_id: uuid.UUID, offering_id: uuid.UUID
) -> tuple[merchant_schemas.Shop, merchant_schemas.Offering]:
    offering = await merchants.get_sellable_offering(session, offering_id=offering_id)
    if offering.shop_id != shop_id:
        raise merchants.OfferingNotFound()
    shop = await merchants.require_selling_shop(
        session, merchant_id=offering.merchant_id, shop_id=shop_id
    )
    if not offering.bookable:
        raise OfferingNotBookable()
    return shop, offering


def periods_of(shop: merchant_schemas.Shop) -> slots.PeriodsOn:
    """The shop's periods of a local date, special hours (holidays, changed hours) first."""
    weekly = [p.model_dump() for p in shop.opening_hours]
    special = [s.model_dump(mode="json") for s in shop.special_hours]
    return lambda day: merchants.periods_on(weekly, special, day)


async def list_slots(
    session: AsyncSession,
    *,
    settings: Settings,
    shop_id: uuid.UUID,
    offering_id: uuid.UUID,
    day: date,
) -> schemas.SlotList:
    """The offering's slots on the merchant's local `day`, with what is left of each."""
    shop, offering = await bookable(session, shop_id=shop_id, offering_id=offering_id)
    rule = await booking_rule(session, settings=settings, offering_id=offering.id)
    tz = zone(shop.timezone)
    starts = slots.slot_starts(periods_of(shop), day, rule.slot_minutes, tz)
    taken: dict[datetime, tuple[int, int]] = {}
    if starts:
        rows = await BookingRepository(session).slots_between(
            offering.id, starts[0], starts[-1] + timedelta(seconds=1)
        )
        taken = {r.starts_at.astimezone(UTC): (r.capacity, r.booked) for r in rows}
    items = []
    for start in starts:
        capacity, booked = taken.get(start, (rule.capacity, 0))
        items.append(
            schemas.Slot(
                starts_at=start.astimezone(tz),
                ends_at=(start + timedelta(minutes=rule.slot_minutes)).astimezone(tz),
                capacity=capacity,
                booked=booked,
                available=max(0, capacity - booked),
            )
        )
    return schemas.SlotList(
        offering_id=offering.id,
        date=day,
        timezone=shop.timezone,
        slot_minutes=rule.slot_minutes,
        items=items,
    )
