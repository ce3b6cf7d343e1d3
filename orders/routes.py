from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from accounts import service as accounts
from accounts.permissions import (
    AnyStaff,
    CurrentUser,
    ManagerStaff,
    SettingsDep,
    staff_context,
)
from accounts.service import MerchantNotFound
from core.database import SessionDep
from core.idempotency import IdempotencyKey, run_idempotent
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from core.payment_records import require_provider
from core.timezones import utcnow, zone
from merchants import schemas as merchant_schemas
from merchants import service as merchants
from orders import codes, schemas, service

router = APIRouter(prefix="/v1", tags=["orders"])

PNG = {"content": {"image/png": {}}, "description": "PNG image"}
PeriodParam = Annotated[
    str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (default: now)")
]
CurrencyParam = Annotated[str, Query(pattern=r"^[A-Z]{3}$")]


# -- orders --------------------------------------------------------------------------------


@router.post(
    "/shops/{shop_id}/orders", status_code=status.HTTP_201_CREATED, response_model=schemas.Order
)
async def create_order(
    shop_id: uuid.UUID,
    data: schemas.OrderCreate,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    provider = require_provider(settings, data.payment)

    async def run() -> schemas.Order:
        return await service.create_order(
            session,
            settings=settings,
            provider=provider,
            shop_id=shop_id,
            user_id=principal.user_id,
            data=data,
            now=utcnow(),
        )

    return await run_idempotent(
        session,
        key=idempotency_key,
        scope=f"order:{principal.user_id}:{shop_id}",
        payload=data.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED,
        run=run,
    )


@router.get("/me/orders", response_model=schemas.Page[schemas.Order])
async def my_orders(
    principal: CurrentUser,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> schemas.Page[schemas.Order]:
    return await service.my_orders(session, user_id=principal.user_id, cursor=cursor, limit=limit)


@router.get("/orders/{order_id}", response_model=schemas.Order)
async def get_order(
    order_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Order:
    return await service.get_order(session, order_id=order_id, user_id=principal.user_id)


@router.get("/orders/{order_id}/qr.png", response_class=Response, responses={200: PNG})
async def order_qr(
    order_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    size: Annotated[int, Query(ge=64, le=1024, description="Approximate width in pixels")] = 256,
) -> Response:
    payload = await service.order_qr_payload(
        session, settings=settings, order_id=order_id, user_id=principal.user_id
    )
    return Response(
        codes.qr_png(payload, size),
        media_type="image/png",
        headers={"Cache-Control": "private, no-store"},
    )


@router.post("/orders/{order_id}/cancel", response_model=schemas.Order)
async def cancel_order(
    order_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> schemas.Order:
    return await service.cancel_order(
        session, order_id=order_id, user_id=principal.user_id, now=utcnow()
    )


@router.post("/orders/{order_id}/refund", response_model=schemas.Order)
async def refund_order(
    order_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def run() -> schemas.Order:
        return await service.refund_order(
            session,
            order_id=order_id,
            user_id=principal.user_id,
            now=utcnow(),
        )

    return await run_idempotent(
        session,
        key=idempotency_key,
        scope=f"order_refund:{principal.user_id}",
        payload={"order_id": str(order_id)},
        status_code=status.HTTP_200_OK,
        run=run,
    )


# -- the counter ---------------------------------------------------------------------------


@router.post(
    "/counter/orders/{order_id}/consume",
    response_model=schemas.Order,
    responses={409: {"description": "order_already_consumed (with consumed_at, shop_id)"}},
)
async def consume_order(
    order_id: uuid.UUID,
    data: schemas.OrderConsume,
    principal: CurrentUser,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def run() -> schemas.Order:
        return await service.consume_order(
            session,
            staff_user_id=principal.user_id,
            order_id=order_id,
            shop_id=data.shop_id,
            now=utcnow(),
        )

    return await run_idempotent(
        session,
        key=idempotency_key,
        scope=f"order_consume:{principal.user_id}",
        payload={"order_id": str(order_id), **data.model_dump(mode="json")},
        status_code=status.HTTP_200_OK,
        run=run,
    )


@router.post("/counter/orders/consume", response_model=schemas.Order)
async def consume_by_code(
    data: schemas.OrderCounterRequest,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Consume by the order's typed code or its signed QR."""

    async def run() -> schemas.Order:
        return await service.consume_by_code(
            session,
            staff_user_id=principal.user_id,
            data=data,
            keys=settings.signing_keys(),
            now=utcnow(),
        )

    return await run_idempotent(
        session,
        key=idempotency_key,
        scope=f"order_consume:{principal.user_id}",
        payload=data.model_dump(mode="json"),
        status_code=status.HTTP_200_OK,
        run=run,
    )


@router.post("/counter/orders/lookup", response_model=schemas.OrderLookup)
async def lookup_order(
    data: schemas.OrderCounterRequest,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.OrderLookup:
    """What consuming would do (no side effect); answers `kind: "order"` like the console
    expects from a counter lookup."""
    return await service.lookup_order(
        session, staff_user_id=principal.user_id, data=data, keys=settings.signing_keys()
    )


# -- bookings ------------------------------------------------------------------------------


async def _managed_offering(
    session: SessionDep, principal: CurrentUser, offering_id: uuid.UUID, role: str
) -> merchant_schemas.Offering:
    offering = await merchants.get_offering(session, offering_id=offering_id)
    try:
        await staff_context(session, principal, offering.merchant_id, role)
    except MerchantNotFound as exc:  # a stranger learns nothing more than "not found"
        raise merchants.OfferingNotFound() from exc
    return offering


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
    principal: CurrentUser,
    session: SessionDep,
) -> schemas.BookingRule:
    offering = await _managed_offering(session, principal, offering_id, "manager")
    return await service.put_booking_rule(session, offering=offering, data=data)


@router.get("/shops/{shop_id}/slots", response_model=schemas.SlotList)
async def list_slots(
    shop_id: uuid.UUID,
    offering_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[
        date | None, Query(alias="date", description="Local date (default today)")
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
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def run() -> schemas.Booking:
        return await service.book(
            session,
            settings=settings,
            shop_id=shop_id,
            user_id=principal.user_id,
            data=data,
            now=utcnow(),
        )

    return await run_idempotent(
        session,
        key=idempotency_key,
        scope=f"booking:{principal.user_id}:{shop_id}",
        payload=data.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED,
        run=run,
    )


@router.get("/shops/{shop_id}/bookings", response_model=schemas.Page[schemas.Booking])
async def shop_bookings(
    shop_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    day: Annotated[date | None, Query(alias="date")] = None,
) -> schemas.Page[schemas.Booking]:
    """Staff: the shop's bookings of the day (today by default). Others: their own there."""
    return await service.shop_bookings(
        session, shop_id=shop_id, user_id=principal.user_id, day=day, now=utcnow()
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
        date | None, Query(alias="date", description="Local date (default today)")
    ] = None,
    shop_id: uuid.UUID | None = None,
) -> schemas.Page[schemas.Booking]:
    timezone = await accounts.merchant_timezone(session, merchant_id=staff.merchant_id)
    local_day = day or utcnow().astimezone(zone(timezone)).date()
    return await service.merchant_day(
        session, merchant_id=staff.merchant_id, timezone=timezone, day=local_day, shop_id=shop_id
    )


# -- settlement ----------------------------------------------------------------------------


@router.get("/merchants/{merchant_id}/settlements", response_model=schemas.Statement)
async def settlement(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodParam = None,
    currency: CurrencyParam = "CNY",
) -> schemas.Statement:
    timezone = await accounts.merchant_timezone(session, merchant_id=staff.merchant_id)
    return await service.statement(
        session,
        merchant_id=staff.merchant_id,
        timezone=timezone,
        period=period,
        currency=currency,
        fee_bps=settings.platform_fee_bps,
        now=utcnow(),
    )


@router.get(
    "/merchants/{merchant_id}/settlements.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def settlement_csv(
    merchant_id: uuid.UUID,
    staff: ManagerStaff,
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodParam = None,
    currency: CurrencyParam = "CNY",
) -> Response:
    timezone = await accounts.merchant_timezone(session, merchant_id=staff.merchant_id)
    now = utcnow()
    period = period or now.astimezone(zone(timezone)).strftime("%Y-%m")
    text = await service.statement_csv(
        session,
        merchant_id=staff.merchant_id,
        timezone=timezone,
        period=period,
        currency=currency,
        fee_bps=settings.platform_fee_bps,
        now=now,
    )
    return Response(
        text.encode("utf-8-sig"),  # the BOM lets spreadsheet programs read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="settlement-{period}-{currency}.csv"',
            "Cache-Control": "private, no-store",
        },
    )
