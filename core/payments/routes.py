"""Route helpers of payments: `PaymentProviderDep` (the provider a path names, else 404) and
`StartsPayment` (a write that starts a payment: the provider the body chose, else the body's
422, then the write through `Idempotent`, answered with 201; a retry with the same key replays
the first answer and never starts a second payment).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, status
from pydantic import BaseModel
from starlette.responses import Response

from core.i18n import localised
from core.idempotency import Idempotent, IdempotentWrite
from core.payments.errors import PaymentProviderUnavailable, PaymentProviderUnknown
from core.payments.interface import PaymentProvider
from core.payments.registry import payment_provider
from core.payments.schemas import PaymentRequest
from core.settings import Settings, SettingsDep
from core.timezones import utcnow


def chosen_provider(settings: Settings, request: PaymentRequest | None) -> PaymentProvider:
    """The provider the customer chose in the body (the fake one when they chose none),
    configured; one that this server has no credentials for is the body's 422."""
    name = request.provider if request is not None else "fake"
    provider = payment_provider(settings, name)
    if provider is None:
        raise PaymentProviderUnavailable(
            localised(f"本服务未配置支付方式 {name}", f"{name} is not configured on this server"),
            loc=["body", "payment", "provider"],
        )
    return provider


async def named_provider(provider_name: str, settings: SettingsDep) -> PaymentProvider:
    """The provider a path names (`/v1/payments/{provider_name}/...`); unknown or not
    configured here: 404 `payment_provider_unknown`."""
    provider = payment_provider(settings, provider_name)
    if provider is None:
        raise PaymentProviderUnknown()
    return provider


# `provider: PaymentProviderDep` in a route whose path has `{provider_name}`
PaymentProviderDep = Annotated[PaymentProvider, Depends(named_provider)]


@dataclass(frozen=True)
class Checkout:
    """What a write that starts a payment needs besides its own data: the provider the
    customer chose (configured), how they pay, the settings and the time of the request."""

    settings: Settings
    provider: PaymentProvider
    request: PaymentRequest | None
    now: datetime

    @property
    def expires_at(self) -> datetime:
        """Unpaid by then: closed (the order expires, the top-up or purchase fails)."""
        return self.now + timedelta(minutes=self.settings.order_payment_minutes)


class PaymentStart:
    """A write that starts a payment (an order, a top-up, a count-card purchase): the
    provider the body's `payment` chose, then the write through `Idempotent` (a retry with
    the same key replays the first answer, it never starts a second payment)."""

    def __init__(self, settings: Settings, idempotent: IdempotentWrite) -> None:
        self.settings = settings
        self.idempotent = idempotent

    async def __call__(
        self,
        scope: str,
        data: BaseModel,
        call: Callable[[Checkout], Awaitable[BaseModel]],
    ) -> Response:
        """Answer `call(checkout)`'s result with 201 (or the stored answer of a retry)."""
        request: PaymentRequest | None = getattr(data, "payment", None)
        checkout = Checkout(
            self.settings, chosen_provider(self.settings, request), request, utcnow()
        )
        return await self.idempotent(
            scope, data, lambda: call(checkout), status_code=status.HTTP_201_CREATED
        )


async def payment_start(settings: SettingsDep, idempotent: Idempotent) -> PaymentStart:
    return PaymentStart(settings, idempotent)


# `pay: StartsPayment` in a route, then
# `return await pay(f"order:{user}:{shop}", data, lambda checkout: service.x(session, checkout))`
StartsPayment = Annotated[PaymentStart, Depends(payment_start)]
