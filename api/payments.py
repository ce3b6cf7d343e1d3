"""The payment providers' callback: one route for every kind of payment (card top-ups,
count-card purchases, orders) and every provider (`fake`, `wechatpay`, `alipay`); the
reference names the owner. The common case (the payment moves, the owner has a fast handler)
is applied on a plain pool connection; anything else is rolled back and applied through the
session (core.payment_records.dispatch_callback, which verifies again and logs every refusal
and no-op). And a payment's state for the merchant's staff (`GET /v1/payments/{reference}`,
polled by the counter after it shows a QR).

Answers are what each provider expects: WeChat Pay 204 / `{"code":"FAIL","message"}`, the
fake provider the owner's view or problem+json. A refused callback is answered, not raised,
so that its `payment_events` row commits with the answer.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Request, Response

from accounts.permissions import StaffContext, staff_of
from core import payment_records
from core.database import SessionDep, get_sessionmaker
from core.errors import problem
from core.lean import WritePool
from core.payments import (
    CallbackRejected,
    PaymentProvider,
    PaymentProviderDep,
    PaymentReferenceUnknown,
    named_provider,
)
from core.query import DirectRoute
from core.settings import Settings
from core.timezones import utcnow
from memberships.schemas import CountPass, Topup
from orders.schemas import Order

router = APIRouter(prefix="/v1", tags=["payments"])

Reference = Annotated[str, Path(max_length=64, description="The payment's reference")]
# staff of the merchant paid; anyone else gets the payment's own 404 (existence does not leak)
payment_staff = staff_of(
    "reference", payment_records.merchant_of_payment, PaymentReferenceUnknown, kind=Reference
)
PaymentStaff = Annotated[StaffContext, payment_staff("clerk")]


async def serve_payment_callback(request: Request) -> Response:
    """The callback on the lean path (core.query.DirectRoute: no dependency solving, the
    view serialised only when the provider's answer carries it). The transaction commits
    before the answer is sent: a provider told "accepted" can never see the effect undone."""
    settings: Settings = request.app.state.settings
    provider = await named_provider(request.path_params["provider_name"], settings)
    body = await request.body()
    # the fake provider answers with the owner's view; WeChat Pay and Alipay with a fixed text
    view = provider.answer(None) is None
    if not view and await _applied_fast(request, provider, body):
        answer = provider.answer(None)
        assert answer is not None
        return Response(answer.body, status_code=answer.status, media_type=answer.media_type)
    async with get_sessionmaker(request).begin() as session:
        result = await payment_records.dispatch_callback(
            session, provider=provider, body=body, headers=request.headers, now=utcnow(),
            view=view,
        )  # fmt: skip
    answer = provider.answer(result.error)
    if answer is not None:
        status = result.error.status if result.error is not None else answer.status
        return Response(answer.body, status_code=status, media_type=answer.media_type)
    if result.error is not None:
        error = result.error
        return problem(error.status, error.code, error.title, error.detail,
                       extra=error.extra, title_zh=error.title_zh)  # fmt: skip
    content = None if result.view is None else result.view.model_dump(mode="json", by_alias=True)
    return Response(orjson.dumps(content), media_type="application/json")


async def _applied_fast(request: Request, provider: PaymentProvider, body: bytes) -> bool:
    """The common case (a payment that moves, an owner with a fast handler) on a connection
    of the lean write pool (core.lean), in one statement that commits on its own before the
    answer (all of it or nothing: payment_records.apply_fast). Anything else wrote nothing
    and goes the session's way (which verifies again and logs why nothing moved)."""
    now = utcnow()
    try:
        event = provider.parse_callback(body, request.headers, now)
    except CallbackRejected:
        return False
    pool: WritePool = request.app.state.writes
    # no transaction block: BEGIN and COMMIT would be two more round trips around the one
    # statement, which is atomic by itself
    async with pool.acquire() as connection:
        return await payment_records.apply_fast(connection, provider=provider, event=event, now=now)


async def payment_callback(provider: PaymentProviderDep) -> Topup | CountPass | Order | None:
    """Called by the payment provider (signed); replays are answered without effect."""
    raise RuntimeError("served by serve_payment_callback")  # documents the route only


def add_callback_route(app_router: APIRouter) -> None:
    """The callback on the app's own router (matched before the included routers, once:
    FastAPI's matching through every included router cost ~2 ms of CPU per callback)."""
    route = DirectRoute(
        router.prefix + "/payments/{provider_name}/callback",
        payment_callback,
        methods=["POST"],
        response_model=Topup | CountPass | Order | None,
        tags=["payments"],
        generate_unique_id_function=app_router.generate_unique_id_function,
    )
    route.serve = serve_payment_callback
    app_router.routes.append(route)


@router.get("/payments/{reference}", response_model=payment_records.PaymentView)
async def get_payment(
    reference: str, staff: PaymentStaff, session: SessionDep
) -> payment_records.PaymentView:
    """A payment's state for the merchant's staff: the counter shows the QR of a top-up, a
    count card or an order, then polls this until `status` is no longer `pending`."""
    return await payment_records.get_payment(session, reference=reference)
