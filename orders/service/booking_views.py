"""Bookings as the API shows them: to their holder without customer fields, to the merchant's
staff with the customer's name and phone (masked for clerks, in full for managers and owners),
times in the shop's timezone."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts
from accounts.schemas import mask_phone
from core.timezones import zone
from customers import schemas as customer_schemas
from customers import service as customers
from merchants import schemas as merchant_schemas
from merchants import service as merchants
from orders import schemas
from orders.models import Booking


async def staff_role(
    session: AsyncSession, merchant_id: uuid.UUID, user_id: uuid.UUID
) -> str | None:
    return await accounts.staff_role(session, merchant_id=merchant_id, user_id=user_id)


def booking_schema(
    booking: Booking,
    offering_name: str,
    timezone: str,
    customer: customer_schemas.KnownCustomer | None = None,
    *,
    mask: bool = True,
) -> schemas.Booking:
    """`customer` (staff views) fills the customer's name and phone, masked for clerks."""
    tz = zone(timezone)
    return schemas.Booking(
        id=booking.id,
        merchant_id=booking.merchant_id,
        shop_id=booking.shop_id,
        offering_id=booking.offering_id,
        offering_name=offering_name,
        user_id=booking.user_id,
        customer_id=booking.customer_id,
        customer_name=customer.name if customer else None,
        customer_phone=(mask_phone(customer.phone) if mask else customer.phone)
        if customer
        else None,
        booked_by=booking.booked_by,
        starts_at=booking.starts_at.astimezone(tz),
        ends_at=booking.ends_at.astimezone(tz),
        party_size=booking.party_size,
        status=booking.status,  # type: ignore[arg-type]
        note=booking.note,
        created_at=booking.created_at,
        cancelled_at=booking.cancelled_at,
        arrived_at=booking.arrived_at,
        completed_at=booking.completed_at,
        no_show_at=booking.no_show_at,
    )


def sees_phones(role: str | None) -> bool:
    """Managers and owners see customers' phones; clerks see them masked."""
    return role in ("manager", "owner")


async def names_of(session: AsyncSession, booking: Booking) -> tuple[str, merchant_schemas.Shop]:
    offering = await merchants.get_offering(session, offering_id=booking.offering_id)
    shop = await merchants.get_shop(session, shop_id=booking.shop_id)
    return offering.name, shop


async def shaped(session: AsyncSession, booking: Booking, role: str | None) -> schemas.Booking:
    """One booking as its holder (no customer fields) or staff (`role`) see it."""
    name, shop = await names_of(session, booking)
    if role is None:
        return booking_schema(booking, name, shop.timezone)
    found = await customers_of(session, booking.merchant_id, [booking])
    return booking_schema(
        booking, name, shop.timezone, found.get(booking.customer_id), mask=not sees_phones(role)
    )


async def customers_of(
    session: AsyncSession, merchant_id: uuid.UUID, rows: list[Booking]
) -> dict[uuid.UUID | None, customer_schemas.KnownCustomer]:
    ids = list({r.customer_id for r in rows if r.customer_id is not None})
    found = await customers.known_customers(session, merchant_id=merchant_id, customer_ids=ids)
    return dict(found.items())


async def named(
    session: AsyncSession,
    rows: list[Booking],
    timezone: str,
    *,
    merchant_id: uuid.UUID | None = None,
    role: str | None = None,
) -> list[schemas.Booking]:
    """Bookings with their offering's name; for staff (`merchant_id` given) with the customer's
    name and phone too (masked for clerks)."""
    labels = await merchants.offering_labels(
        session, offering_ids=list({r.offering_id for r in rows})
    )
    found = await customers_of(session, merchant_id, rows) if merchant_id is not None else {}
    return [
        booking_schema(
            r,
            labels.get(r.offering_id, ("", timezone))[0],
            timezone,
            found.get(r.customer_id),
            mask=not sees_phones(role),
        )
        for r in rows
    ]
