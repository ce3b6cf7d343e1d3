"""Booking routes: an offering's booking rule, slots, bookings and the day's schedules."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from accounts import service as accounts
from accounts.permissions import CurrentUser
from core.database import SessionDep
from core.dates import CalendarDate
from core.idempotency import Idempotent
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from core.settings import SettingsDep
from core.timezones import utcnow, zone
from merchants import service as merchants
from merchants.auth import OfferingManager
from orders import schemas, service
from orders.auth import AnyStaff

router = APIRouter(prefix="/v1", tags=["orders"])


@router.get("/offerings/{offering_id}/booking-rule", response_model=schemas.BookingRule)
async def get_booking_rule(
    offering_id: uuid.UUID, session: SessionDep, settings: SettingsDep
) -> schemas.BookingRule:
    offering = await merchants.get_offering(session, offering_id=offering_id)
    return await service.booking_rule(session, settings=settings, offering_id=offering.id)


@router.put("/offerings/{offering_id}/booking-rule", response_model=schemas.BookingRule)
async def put_booking_rule(
    offering_id: uuid.UUID,
    data: schemas.BookingRuleUpdate,
    staff: OfferingManager,
    session: SessionDep,
) -> schemas.BookingRule:
    offering = await merchants.get_offering(session, offering_id=offering_id)
    return await service.put_booking_rule(session, offering=offering, data=data)


@router.get("/shops/{shop_id}/slots", response_model=schemas.SlotList)
async def list_slots(
    shop_id: uuid.UUID,
    offering_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[
        CalendarDate | None, Query(alias="date", description="Local date (default today)")
    ] = None,
) -> schemas.SlotList:
    if day is None:
        shop = await merchants.get_shop(session, shop_id=shop_id)
        day = utcnow().astimezone(zone(shop.timezone)).date()
    return await service.list_slots(
        session, settings=settings, shop_id=shop_id, offering_id=offering_id, day=day
    )


@router.post(
    "/shops/{shop_id}/bookings",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Booking,
)
async def book(
    shop_id: uuid.UUID,
    data: schemas.BookingCreate,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    idempotent: Idempotent,
) -> Response:
    return await idempotent(
        f"booking:{principal.user_id}:{shop_id}",
        data,
        lambda: service.book(
            session,
            settings=settings,
            shop_id=shop_id,
            user_id=principal.user_id,
            data=data,
            now=utcnow(),
        ),
        status_code=status.HTTP_201_CREATED,
    )


@router.get("/me/bookings", response_model=schemas.Page[schemas.Booking])
async def my_bookings(
    principal: CurrentUser,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.Booking]:
    """The caller's bookings at every merchant: upcoming ones soonest first, then past and
    cancelled ones latest first."""
    return await service.my_bookings(
        session, user_id=principal.user_id, limit=limit, cursor=cursor, now=utcnow()
    )


@router.get("/shops/{shop_id}/bookings", response_model=schemas.Page[schemas.Booking])
async def shop_bookings(
    shop_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    day: Annotated[CalendarDate | None, Query(alias="date")] = None,
    status_: Annotated[schemas.BookingStatus | None, Query(alias="status")] = None,
) -> schemas.Page[schemas.Booking]:
    """Staff: the shop's bookings of the day (today by default), every status unless one is
    asked, with the customer's name and phone (the bookings board). Others: their own there."""
    return await service.shop_bookings(
        session,
        shop_id=shop_id,
        user_id=principal.user_id,
        day=day,
        status=status_,
        now=utcnow(),
    )


@router.get("/bookings/{booking_id}", response_model=schemas.Booking)
async def get_booking(
    booking_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Booking:
    return await service.get_booking(session, booking_id=booking_id, user_id=principal.user_id)


@router.patch("/bookings/{booking_id}", response_model=schemas.Booking)
async def update_booking(
    booking_id: uuid.UUID,
    data: schemas.BookingUpdate,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.Booking:
    return await service.update_booking(
        session,
        settings=settings,
        booking_id=booking_id,
        user_id=principal.user_id,
        data=data,
        now=utcnow(),
    )


@router.post("/bookings/{booking_id}/cancel", response_model=schemas.Booking)
async def cancel_booking(
    booking_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Booking:
    return await service.cancel_booking(
        session, booking_id=booking_id, user_id=principal.user_id, now=utcnow()
    )


@router.get("/merchants/{merchant_id}/bookings", response_model=schemas.Page[schemas.Booking])
async def merchant_bookings(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    day: Annotated[
        CalendarDate | None, Query(alias="date", description="Local date (default today)")
    ] = None,
    shop_id: uuid.UUID | None = None,
    status_: Annotated[schemas.BookingStatus | None, Query(alias="status")] = None,
) -> schemas.Page[schemas.Booking]:
    """The merchant's bookings of the local day: all but cancelled ones unless a `status` is
    asked."""
    timezone = await accounts.merchant_timezone(session, merchant_id=staff.merchant_id)
    local_day = day or utcnow().astimezone(zone(timezone)).date()
    return await service.merchant_day(
        session,
        merchant_id=staff.merchant_id,
        timezone=timezone,
        day=local_day,
        shop_id=shop_id,
        status=status_,
        role=staff.role,
    )
