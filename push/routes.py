from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Query, Response, status

from accounts.permissions import AnyStaff, CurrentUser, ManagerStaff
from core.database import SessionDep
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from core.settings import SettingsDep
from core.timezones import utcnow
from geo.schemas import Crs
from push import schemas, service
from push.auth import FlashOfferStaff

router = APIRouter(prefix="/v1", tags=["push"])


@router.post("/me/devices", status_code=status.HTTP_201_CREATED, response_model=schemas.Device)
async def register_device(
    data: schemas.DeviceCreate, principal: CurrentUser, session: SessionDep
) -> schemas.Device:
    return await service.register_device(session, user_id=principal.user_id, data=data)


@router.delete("/me/devices", status_code=status.HTTP_204_NO_CONTENT)
async def remove_device(
    data: schemas.DeviceDelete, principal: CurrentUser, session: SessionDep
) -> Response:
    await service.remove_device(session, user_id=principal.user_id, token=data.token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/subscriptions", response_model=schemas.Subscription)
async def get_subscription(principal: CurrentUser, session: SessionDep) -> schemas.Subscription:
    return await service.get_subscription(session, user_id=principal.user_id)


@router.put("/me/subscriptions", response_model=schemas.Subscription)
async def put_subscription(
    data: schemas.SubscriptionUpdate, principal: CurrentUser, session: SessionDep
) -> schemas.Subscription:
    return await service.put_subscription(
        session, user_id=principal.user_id, data=data, now=utcnow()
    )


@router.post("/me/subscriptions/merchants/{merchant_id}", response_model=schemas.Subscription)
async def follow_merchant(
    merchant_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Subscription:
    return await service.follow_merchant(
        session, user_id=principal.user_id, merchant_id=merchant_id, now=utcnow()
    )


@router.delete("/me/subscriptions/merchants/{merchant_id}", response_model=schemas.Subscription)
async def unfollow_merchant(
    merchant_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Subscription:
    return await service.unfollow_merchant(
        session, user_id=principal.user_id, merchant_id=merchant_id
    )


@router.post(
    "/me/locations",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.LocationPingAccepted,
)
async def record_location(
    data: schemas.LocationPingCreate,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.LocationPingAccepted:
    return await service.record_ping(
        session,
        user_id=principal.user_id,
        data=data,
        now=utcnow(),
        retention=timedelta(days=settings.push_location_retention_days),
    )


@router.delete("/me/locations", response_model=schemas.LocationsForgotten)
async def forget_locations(
    principal: CurrentUser, session: SessionDep
) -> schemas.LocationsForgotten:
    return await service.forget_locations(session, user_id=principal.user_id)


@router.get("/me/activity-areas", response_model=schemas.ActivityAreas)
async def activity_areas(
    principal: CurrentUser, session: SessionDep, crs: Crs = Query("wgs84")
) -> schemas.ActivityAreas:
    return await service.list_activity_areas(session, user_id=principal.user_id, crs=crs)


@router.post(
    "/merchants/{merchant_id}/flash-offers",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.FlashOfferAccepted,
)
async def create_flash_offer(
    merchant_id: uuid.UUID,
    data: schemas.FlashOfferCreate,
    staff: ManagerStaff,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.FlashOfferAccepted:
    return await service.create_flash_offer(
        session,
        merchant_id=staff.merchant_id,
        created_by=staff.user_id,
        data=data,
        now=utcnow(),
        settings=settings,
    )


@router.get("/flash-offers/{flash_offer_id}", response_model=schemas.FlashOffer)
async def get_flash_offer(
    flash_offer_id: uuid.UUID, staff: FlashOfferStaff, session: SessionDep
) -> schemas.FlashOffer:
    return await service.describe_offer(session, offer_id=flash_offer_id, now=utcnow())


@router.get("/me/offers", response_model=schemas.ReceivedOfferPage)
async def my_offers(
    principal: CurrentUser,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.ReceivedOfferPage:
    """Flash offers delivered to the caller, newest first: unread, read or expired, with the
    campaign they promote and whether the caller already claimed it."""
    return await service.received_offers(
        session, user_id=principal.user_id, limit=limit, cursor=cursor, now=utcnow()
    )


@router.post("/me/offers/{flash_offer_id}/read", status_code=status.HTTP_204_NO_CONTENT)
async def read_offer(
    flash_offer_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> Response:
    """Mark a received offer read (idempotent); 404 for an offer the caller did not get."""
    await service.mark_opened(
        session, offer_id=flash_offer_id, user_id=principal.user_id, now=utcnow()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/flash-offers/{flash_offer_id}/opened", response_model=schemas.Opened)
async def offer_opened(
    flash_offer_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Opened:
    return await service.mark_opened(
        session, offer_id=flash_offer_id, user_id=principal.user_id, now=utcnow()
    )


@router.get("/merchants/{merchant_id}/birthday-rule", response_model=schemas.BirthdayRule)
async def get_birthday_rule(
    merchant_id: uuid.UUID, staff: AnyStaff, session: SessionDep
) -> schemas.BirthdayRule:
    """The merchant's birthday greeting (defaults, disabled, until first set)."""
    return await service.get_birthday_rule(session, merchant_id=staff.merchant_id)


@router.put("/merchants/{merchant_id}/birthday-rule", response_model=schemas.BirthdayRule)
async def put_birthday_rule(
    merchant_id: uuid.UUID,
    data: schemas.BirthdayRuleUpdate,
    staff: ManagerStaff,
    session: SessionDep,
) -> schemas.BirthdayRule:
    """Set the birthday greeting: `days_before` each customer's birthday (merchant's timezone)
    the job `push_birthday_greetings` issues a coupon of `campaign_id` and sends `message`
    (`{name}` is the customer's name) by `channel`, once a year per customer."""
    return await service.put_birthday_rule(
        session, merchant_id=staff.merchant_id, user_id=staff.user_id, data=data, now=utcnow()
    )


@router.get(
    "/merchants/{merchant_id}/birthday-greetings",
    response_model=Page[schemas.BirthdayGreeting],
)
async def list_birthday_greetings(
    merchant_id: uuid.UUID,
    staff: AnyStaff,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[schemas.BirthdayGreeting]:
    """The birthday greetings made for the merchant's customers, latest first."""
    return await service.list_birthday_greetings(
        session, merchant_id=staff.merchant_id, cursor=cursor, limit=limit
    )
