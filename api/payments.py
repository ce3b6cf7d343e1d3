"""The payment providers' callback: one route for every kind of payment (card top-ups,
count-card purchases, orders) and every provider (`fake`, `wechatpay`, `alipay`). The
signature is checked once (core.payment_records); the reference names the owner. And a
payment's state for the merchant's staff (`GET /v1/payments/{reference}`, polled by the
counter after it shows a QR).

Answers are what each provider expects: WeChat Pay 204 / `{"code":"FAIL","message"}`, the
fake provider the owner's view or problem+json. A refused callback is answered, not raised,
so that its `payment_events` row commits with the answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from accounts.permissions import StaffContext, staff_of
from core import payment_records
from core.database import SessionDep
from core.errors import problem
from core.payments import PaymentProviderDep, PaymentReferenceUnknown
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


@router.post(
    "/payments/{provider_name}/callback",
    response_model=Topup | CountPass | Order | None,
)
async def payment_callback(
    provider: PaymentProviderDep, request: Request, session: SessionDep
) -> BaseModel | Response | None:
    """Called by the payment provider (signed); replays are answered without effect."""
    result = await payment_records.dispatch_callback(
        session, provider=provider, body=await request.body(), headers=request.headers, now=utcnow()
    )
    answer = provider.answer(result.error)
    if answer is not None:
        status = result.error.status if result.error is not None else answer.status
        return Response(answer.body, status_code=status, media_type=answer.media_type)
    if result.error is not None:
        error = result.error
        return problem(error.status, error.code, error.title, error.detail,
                       extra=error.extra, title_zh=error.title_zh)  # fmt: skip
    return result.view


@router.get("/payments/{reference}", response_model=payment_records.PaymentView)
async def get_payment(
    reference: str, staff: PaymentStaff, session: SessionDep
) -> payment_records.PaymentView:
    """A payment's state for the merchant's staff: the counter shows the QR of a top-up, a
    count card or an order, then polls this until `status` is no longer `pending`."""
    return await payment_records.get_payment(session, reference=reference)
