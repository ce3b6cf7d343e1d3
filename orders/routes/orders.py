"""Order routes: create, list, QR, cancel, refund (merchant and buyer), and the counter's
consume and lookup."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from accounts.permissions import CurrentUser, current_principal, request_principal
from core import idempotency
from core.database import SessionDep
from core.idempotency import Idempotent
from core.lean import lean_post, read_request, transaction
from core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from core.payments import StartsPayment
from core.settings import SettingsDep
from core.timezones import utcnow
from orders import codes, schemas, service

router = APIRouter(prefix="/v1", tags=["orders"])


PNG = {"content": {"image/png": {}}, "description": "PNG image"}


@router.post(
    "/shops/{shop_id}/orders", status_code=status.HTTP_201_CREATED, response_model=schemas.Order
)
async def create_order(
    shop_id: uuid.UUID,
    data: schemas.OrderCreate,
    principal: CurrentUser,
    session: SessionDep,
    pay: StartsPayment,
) -> Response:
    return await pay(
        f"order:{principal.user_id}:{shop_id}",
        data,
        lambda checkout: service.create_order(
            session, checkout, shop_id=shop_id, user_id=principal.user_id, data=data
        ),
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
    idempotent: Idempotent,
) -> Response:
    return await idempotent(
        f"order_refund:{principal.user_id}",
        {"order_id": str(order_id)},
        lambda: service.refund_order(
            session,
            order_id=order_id,
            user_id=principal.user_id,
            now=utcnow(),
        ),
    )


@router.post(
    "/me/orders/{order_id}/refund",
    response_model=schemas.Order,
    responses={409: {"description": "refund_not_allowed (the order's terms), or not paid"}},
)
async def refund_my_order(
    order_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    idempotent: Idempotent,
) -> Response:
    """The buyer refunds their own paid, unconsumed order when its `refund_policy` allows it:
    `anytime`, or `before_expiry` while it is usable. The money goes back through the payment
    provider the order was paid with; its coupon and points come back."""
    return await idempotent(
        f"order_refund:{principal.user_id}",
        {"order_id": str(order_id), "by": "holder"},
        lambda: service.refund_by_holder(
            session, order_id=order_id, user_id=principal.user_id, now=utcnow()
        ),
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
    idempotent: Idempotent,
) -> Response:
    return await idempotent(
        f"order_consume:{principal.user_id}",
        {"order_id": str(order_id), **data.model_dump(mode="json")},
        lambda: service.consume_order(
            session,
            staff_user_id=principal.user_id,
            order_id=order_id,
            shop_id=data.shop_id,
            now=utcnow(),
        ),
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
        session,
        staff_user_id=principal.user_id,
        data=data,
        keys=settings.signing_keys(),
        now=utcnow(),
    )


# -- the counter's consumption by code: a lean route (core.lean) on the app's own router ----


async def consume_by_code(request: Request) -> Response:
    """Consume by the order's typed code or its signed QR."""
    principal = await request_principal(request)
    data, key = await read_request(request, schemas.OrderCounterRequest, idempotent=True)
    keys = request.app.state.settings.signing_keys()
    # the lean transaction (asyncpg): consumption, the card's credit included, runs only
    # compiled statements; committed before the response, rolled back by a refusal
    async with transaction(request) as connection:
        return await idempotency.idempotent(
            connection,
            key=key,
            scope=f"order_consume:{principal.user_id}",
            payload=data.model_dump(mode="json"),
            status_code=status.HTTP_200_OK,
            run=lambda: service.consume_by_code(
                connection, staff_user_id=principal.user_id, data=data, keys=keys, now=utcnow()
            ),
        )


def add_lean_routes(app_router: APIRouter) -> None:
    lean_post(
        app_router,
        "/v1/counter/orders/consume",
        consume_by_code,
        body=schemas.OrderCounterRequest,
        idempotent=True,
        response_model=schemas.Order,
        tags=["orders"],
        dependencies=[Depends(current_principal)],
    )
