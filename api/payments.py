"""The payment providers' callback: one route for every kind of payment (card top-ups,
count-card purchases, orders) and every provider (`fake`, `wechatpay`, `alipay`). The
signature is checked once (core.payment_records); the reference names the owner.

Answers are what each provider expects: WeChat Pay 204 / `{"code":"FAIL","message"}`, the
fake provider the owner's view or problem+json. A refused callback is answered, not raised,
so that its `payment_events` row commits with the answer.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from core.database import SessionDep
from core.errors import problem
from core.payment_records import dispatch_callback
from core.payments import PaymentProviderDep
from core.timezones import utcnow
from memberships.schemas import CountPass, Topup
from orders.schemas import Order

router = APIRouter(prefix="/v1", tags=["payments"])


@router.post(
    "/payments/{provider_name}/callback",
    response_model=Topup | CountPass | Order | None,
)
async def payment_callback(
    provider: PaymentProviderDep, request: Request, session: SessionDep
) -> BaseModel | Response | None:
    """Called by the payment provider (signed); replays are answered without effect."""
    result = await dispatch_callback(
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
