"""Lists of bookings: a shop's day (the staff's bookings board, or the caller's own there), the
caller's bookings (upcoming soonest first, then the past latest first, on a cursor that keeps
the first page's `now`) and the merchant's day."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import aware_time_value, decode_cursor_as, encode_cursor, uuid_value
from core.timezones import zone
from merchants import service as merchants
from orders import schemas
from orders.models import Booking
from orders.repository import BookingRepository
from orders.service.booking_slots import day_bounds
from orders.service.booking_views import booking_schema, named, staff_role


async def shop_bookings(
    session: AsyncSession,
    *,
    shop_id: uuid.UUID,
    user_id: uuid.UUID,
    day: date | None,
    status: str | None = None,
    now: datetime,
) -> schemas.Page[schemas.Booking]:
    """Staff: the shop's bookings of a day (today by default), every status unless one is
    asked, with the customers' names (the bookings board); others: their own there."""
    shop = await merchants.get_shop(session, shop_id=shop_id)
    repo = BookingRepository(session)
    role = await staff_role(session, shop.merchant_id, user_id)
    if role is not None:
        local_day = day or now.astimezone(zone(shop.timezone)).date()
        start, end = day_bounds(local_day, shop.timezone)
        rows = await repo.of_shop_between(shop.id, shop.merchant_id, start, end)
        items = await named(session, rows, shop.timezone, merchant_id=shop.merchant_id, role=role)
    else:
        rows = await repo.of_user_at_shop(user_id, shop.id, limit=100)
        if day is not None:
            start, end = day_bounds(day, shop.timezone)
            rows = [r for r in rows if start <= r.starts_at < end]
        items = await named(session, rows, shop.timezone)
    if status is not None:
        items = [b for b in items if b.status == status]
    return schemas.Page[schemas.Booking](items=items)


def _optional_time(raw: object) -> datetime | None:
    return None if raw is None else aware_time_value(raw)


def _optional_id(raw: object) -> uuid.UUID | None:
    return None if raw is None else uuid_value(raw)


async def my_bookings(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int, cursor: str | None, now: datetime
) -> schemas.Page[schemas.Booking]:
    """The caller's bookings: upcoming ones soonest first, then the rest latest first.

    The cursor carries the first page's `now`, so a booking that ends while the client pages
    does not move from the upcoming part to the past part (seen twice or never)."""
    position = decode_cursor_as(
        cursor,
        {"n": aware_time_value, "s": int, "t": _optional_time, "id": _optional_id},
    )
    at = position["n"] if position else now
    part = position["s"] if position else 0
    after = (position["t"], position["id"]) if position and position["t"] else None
    repo = BookingRepository(session)
    rows: list[Booking] = []
    next_position: dict[str, object] | None = None
    if part == 0:
        upcoming = await repo.of_user(user_id, upcoming=True, now=at, after=after, limit=limit)
        rows = upcoming[:limit]
        if len(upcoming) > limit:
            next_position = {"s": 0, "t": rows[-1].starts_at, "id": rows[-1].id}
        after = None
    if next_position is None and part in (0, 1):
        room = limit - len(rows)
        rest = await repo.of_user(user_id, upcoming=False, now=at, after=after, limit=room)
        rows += rest[:room]
        if len(rest) > room:
            last = rest[room - 1] if room else None  # None: the past part from its start
            next_position = {
                "s": 1,
                "t": last.starts_at if last else None,
                "id": last.id if last else None,
            }
    labels = await merchants.offering_labels(session, offering_ids=[r.offering_id for r in rows])
    items = [booking_schema(r, *labels.get(r.offering_id, ("", "UTC"))) for r in rows]
    next_cursor = encode_cursor({"n": at.isoformat(), **next_position}) if next_position else None
    return schemas.Page[schemas.Booking](items=items, next_cursor=next_cursor)


async def merchant_day(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    timezone: str,
    day: date,
    shop_id: uuid.UUID | None,
    status: str | None = None,
    role: str | None = None,
) -> schemas.Page[schemas.Booking]:
    """The day's bookings of the merchant (its local day), earliest first: all but the
    cancelled ones, or those of the `status` asked."""
    if shop_id is not None:
        await merchants.require_shop_of_merchant(session, merchant_id=merchant_id, shop_id=shop_id)
    start, end = day_bounds(day, timezone)
    rows = await BookingRepository(session).of_merchant_between(
        merchant_id,
        start,
        end,
        shop_id=shop_id,
        statuses=[status] if status else ["booked", "arrived", "completed", "no_show"],
    )
    items = await named(session, rows, timezone, merchant_id=merchant_id, role=role)
    return schemas.Page[schemas.Booking](items=items)
