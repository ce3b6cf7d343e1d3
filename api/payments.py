"""The payment providers' callback: one route for every kind of payment (card top-ups,
count-card purchases, orders). The signature is checked once here; the reference names the
owner (core.payments)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from core.database import SessionDep
from core.payments import (
    SIGNATURE_HEADER,
    PaymentProviderUnknown,
    dispatch_callback,
    payment_provider,
)
from core.settings import SettingsDep
from core.timezones import utcnow
from memberships.schemas import CountPass, Topup
from orders.schemas import Order

router = APIRouter(prefix="/v1", tags=["payments"])


@router.post("/payments/{provider_name}/callback", response_model=Topup | CountPass | Order)
async def payment_callback(
    provider_name: str, request: Request, session: SessionDep, settings: SettingsDep
) -> BaseModel:
    """Called by the payment provider (signed); replays are answered without effect."""
    provider = payment_provider(settings, provider_name)
    if provider is None:
        raise PaymentProviderUnknown()
    return await dispatch_callback(
        session,
        provider=provider,
        body=await request.body(),
        signature=request.headers.get(SIGNATURE_HEADER),
        now=utcnow(),
    )
