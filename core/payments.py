"""The payment provider interface (orders, card top-ups, count-card purchases), the local fake
provider, and the dispatch of verified provider callbacks to the package that owns the payment.

A provider (the fake one here, WeChat Pay in core/providers/wechatpay.py, …) creates a payment
for a reference (WeChat Pay's `out_trade_no`: at most 32 characters of `[0-9A-Za-z_-]`, so every
reference is built by `payment_reference`), later calls us back with the outcome (signed),
answers queries, closes unpaid payments and refunds with an idempotency key of ours
(`refund_no`, WeChat Pay's `out_refund_no`): the same key twice refunds once.

Invariants of the callback path (`dispatch_callback`):
- nothing changes unless the provider's signature verifies and the payment it names is ours,
  for the same amount and currency (`core.payment_records` keeps every payment);
- a payment's state moves only by conditional UPDATEs, so a replayed, duplicated or
  out-of-order callback changes nothing; every refusal and every no-op is logged (structlog and
  the `payment_events` table, committed with the answer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import orjson
from fastapi import Depends, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from core.errors import DomainError, InvalidInput, NotFound
from core.idempotency import Idempotent, IdempotentWrite
from core.settings import Settings, SettingsDep
from core.timezones import utcnow

if TYPE_CHECKING:
    from core.lean import Connection

SIGNATURE_HEADER = "X-Payment-Signature"
PROVIDERS = ("fake", "wechatpay", "alipay")
PaymentMethod = Literal["native", "jsapi", "app", "precreate", "page"]


def payment_reference(prefix: str, subject_id: uuid.UUID) -> str:
    """A provider-safe reference: prefix + the id in 26 lowercase base32 characters (WeChat
    Pay's out_trade_no allows 6–32 of [0-9A-Za-z_-|*]; Alipay's 64)."""
    return prefix + base64.b32encode(subject_id.bytes).decode().rstrip("=").lower()


class CallbackRejected(Exception):
    """The callback is not authentic, too old, or not readable."""


class ProviderError(Exception):
    """The provider refused or could not be reached; `retryable` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool = True, code: str | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.code = code


@dataclass(frozen=True)
class PaymentIntent:
    provider: str
    reference: str
    pay_url: str | None = None
    code_url: str | None = None
    prepay_id: str | None = None
    jsapi: dict[str, str] | None = None
    app: dict[str, str] | None = None

    def instructions(self) -> dict[str, Any]:
        """What the client needs to pay (stored with the payment, answered as `payment`)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class CallbackEvent:
    """A verified statement of the provider about one payment (or one of its refunds)."""

    reference: str
    status: str  # "succeeded" | "failed" | "pending" | "closed" | "refunded" | "refund_failed"
    amount: int | None = None  # what the provider says was paid (None: the fake's short form)
    currency: str | None = None
    transaction_id: str | None = None
    refund_no: str | None = None  # refund notifications: our out_refund_no
    checks: dict[str, str] = field(default_factory=dict)  # other fields to match (mchid, appid)


@dataclass(frozen=True)
class RefundResult:
    refund_no: str
    provider_refund_id: str | None
    status: str  # "succeeded" | "processing"


@dataclass(frozen=True)
class CallbackAnswer:
    status: int
    body: bytes
    media_type: str | None


class PaymentProvider(Protocol):
    name: str

    async def create_payment(
        self,
        *,
        reference: str,
        amount: int,
        currency: str,
        description: str,
        method: str,
        openid: str | None,
        expires_at: datetime | None,
    ) -> PaymentIntent: ...

    def parse_callback(
        self, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> CallbackEvent: ...

    def answer(self, error: DomainError | None) -> CallbackAnswer | None:
        """The answer the provider expects (the status is the error's when refused); None:
        answer with the owner's view or problem+json (the fake provider)."""
        ...

    async def query(self, *, reference: str) -> CallbackEvent | None: ...

    async def close(self, *, reference: str) -> None: ...

    async def refund(
        self,
        *,
        reference: str,
        refund_no: str,
        amount: int,
        total: int,
        currency: str,
        reason: str,
    ) -> RefundResult: ...


class FakePaymentProvider:
    """Local stand-in: payments stay pending until someone posts a signed callback
    `{"reference", "status", "amount"?, "currency"?}`; refunds succeed at once, keyed by our
    refund number (as a real provider's idempotency would)."""

    name = "fake"
    methods = ("native", "page")

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        # refund number -> (payment reference, amount): what a real provider would have paid
        # back, so tests can check that a refund reached the provider (and only once)
        self.refunds: dict[str, tuple[str, int]] = {}
        # a key of its own per signing key, so a QR token can never pass as a callback
        self._keys = [
            (kid, hmac.new(key, b"payment-callback:fake", hashlib.sha256).digest())
            for kid, key in keys
        ]

    async def create_payment(
        self,
        *,
        reference: str,
        amount: int,
        currency: str,
        description: str,
        method: str = "page",
        openid: str | None = None,
        expires_at: datetime | None = None,
    ) -> PaymentIntent:
        return PaymentIntent(self.name, reference, pay_url=f"/fake-pay/{reference}")

    def sign_callback(self, body: bytes) -> str:
        kid, key = self._keys[0]
        return f"{kid}={hmac.new(key, body, hashlib.sha256).hexdigest()}"

    def parse_callback(
        self, body: bytes, headers: Mapping[str, str], now: datetime | None = None
    ) -> CallbackEvent:
        signature = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower())
        if not signature or "=" not in signature:
            raise CallbackRejected("missing signature")
        kid, _, given = signature.partition("=")
        key = dict(self._keys).get(kid)
        if key is None:
            raise CallbackRejected("unknown key id")
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            raise CallbackRejected("bad signature")
        try:
            payload: Any = orjson.loads(body)
            amount = payload.get("amount")
            event = CallbackEvent(
                str(payload["reference"]),
                str(payload["status"]),
                amount=int(amount) if amount is not None else None,
                currency=payload.get("currency"),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CallbackRejected("unreadable body") from exc
        if event.status not in ("succeeded", "failed"):
            raise CallbackRejected("unknown status")
        return event

    def answer(self, error: DomainError | None) -> CallbackAnswer | None:
        return None

    async def query(self, *, reference: str) -> CallbackEvent | None:
        return None  # the fake knows only what is posted to it

    async def close(self, *, reference: str) -> None:
        return None

    async def refund(
        self,
        *,
        reference: str,
        refund_no: str,
        amount: int,
        total: int,
        currency: str,
        reason: str,
    ) -> RefundResult:
        self.refunds.setdefault(refund_no, (reference, amount))
        return RefundResult(refund_no, "fake-" + refund_no, "succeeded")


_PROVIDERS: dict[tuple[int, str], PaymentProvider] = {}
# name -> factory(settings) returning the configured provider or None (not configured);
# core/providers/* register themselves (imported by providers_for in api/wiring.py)
PROVIDER_FACTORIES: dict[str, Callable[[Settings], PaymentProvider | None]] = {
    "fake": lambda settings: FakePaymentProvider(settings.signing_keys()),
}


def payment_provider(settings: Settings, name: str = "fake") -> PaymentProvider | None:
    """The provider registered under `name`, configured from settings (one per process and
    settings object: the real SDKs load keys and keep HTTP connections)."""
    key = (id(settings), name)
    provider = _PROVIDERS.get(key)
    if provider is None:
        import core.providers  # noqa: F401  (registers the real providers' factories)

        factory = PROVIDER_FACTORIES.get(name)
        provider = factory(settings) if factory is not None else None
        if provider is not None:
            _PROVIDERS[key] = provider
    return provider


class PaymentRequest(BaseModel):
    """How the customer wants to pay (SPEC §13). Without it: the fake provider."""

    model_config = ConfigDict(extra="forbid")
    provider: Literal["fake", "wechatpay", "alipay"] = "fake"
    method: PaymentMethod | None = Field(
        default=None, description="native (QR) by default for WeChat Pay, precreate for Alipay"
    )
    openid: str | None = Field(
        default=None, min_length=1, max_length=128, description="JSAPI: the payer's openid"
    )


class PaymentInstructions(BaseModel):
    """What the client needs to pay: `code_url` is the QR to show at the counter."""

    provider: str
    reference: str
    pay_url: str | None = None
    code_url: str | None = None
    prepay_id: str | None = None
    jsapi: dict[str, str] | None = Field(
        default=None, description="JSAPI: the parameters of wx.requestPayment, signed"
    )
    app: dict[str, str] | None = Field(
        default=None, description="App: the parameters of the WeChat SDK's PayReq, signed"
    )


def instructions_schema(intent: PaymentIntent) -> PaymentInstructions:
    return PaymentInstructions(**intent.instructions())


class PaymentSignatureInvalid(DomainError):
    status, code = 401, "payment_signature_invalid"
    title, title_zh = "The payment callback signature is not valid", "支付回调签名无效"


class PaymentAmountMismatch(DomainError):
    status, code = 409, "payment_amount_mismatch"
    title, title_zh = "The callback does not match the payment", "支付回调与支付记录不符"


class PaymentProviderUnknown(NotFound):
    code, title, title_zh = "payment_provider_unknown", "Unknown payment provider", "未知支付渠道"


class PaymentProviderUnavailable(InvalidInput):
    code = "payment_provider_unavailable"
    title, title_zh = "This payment provider is not available", "该支付渠道不可用"


class PaymentMethodUnsupported(InvalidInput):
    code = "payment_method_unsupported"
    title, title_zh = "The provider does not offer this payment method", "该支付渠道不支持此方式"


class PaymentReferenceUnknown(NotFound):
    code, title, title_zh = "payment_not_found", "No payment has this reference", "支付记录不存在"


class PaymentProviderFailed(DomainError):
    status, code = 502, "payment_provider_failed"
    title, title_zh = "The payment provider did not accept the payment", "支付渠道下单失败"


class CallbackHandler(Protocol):
    """The owner's side of a verified event: (session, provider, event, now) -> the owner's
    view of the paid thing, or None when `view` is false (the provider's answer has no body:
    the owner need not read it back)."""

    def __call__(
        self,
        session: AsyncSession,
        provider: PaymentProvider,
        event: CallbackEvent,
        now: datetime,
        *,
        view: bool = True,
    ) -> Awaitable[BaseModel | None]: ...


# The owner's side of the common case on a plain connection (core.lean): True when applied;
# False when this event needs the owner's full handler (the caller rolls back and retries it
# through the session: nothing written on the connection survives)
FastCallbackHandler = Callable[
    ["Connection", PaymentProvider, CallbackEvent, datetime], Awaitable[bool]
]
_HANDLERS: dict[str, CallbackHandler] = {}
_FAST_HANDLERS: dict[str, FastCallbackHandler | None] = {}


def register_callback_handler(
    prefix: str, handler: CallbackHandler, *, fast: FastCallbackHandler | None = None
) -> None:
    """Route callbacks whose reference starts with `prefix` to `handler` (the longest prefix
    wins; "" is the fallback), and their common case to `fast` when given. Packages register
    in api/wiring.py; registering again replaces."""
    _HANDLERS[prefix] = handler
    _FAST_HANDLERS[prefix] = fast


def _prefix_of(reference: str) -> str | None:
    matches = [p for p in _HANDLERS if reference.startswith(p)]
    return max(matches, key=len) if matches else None


def handler_for(reference: str) -> CallbackHandler | None:
    prefix = _prefix_of(reference)
    return _HANDLERS[prefix] if prefix is not None else None


def fast_handler_for(reference: str) -> FastCallbackHandler | None:
    prefix = _prefix_of(reference)
    return _FAST_HANDLERS.get(prefix) if prefix is not None else None


# -- route helpers ------------------------------------------------------------------------------


def chosen_provider(settings: Settings, request: PaymentRequest | None) -> PaymentProvider:
    """The provider the customer chose in the body (the fake one when they chose none),
    configured; one that this server has no credentials for is the body's 422."""
    name = request.provider if request is not None else "fake"
    provider = payment_provider(settings, name)
    if provider is None:
        raise PaymentProviderUnavailable(
            f"{name} is not configured on this server", loc=["body", "payment", "provider"]
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
