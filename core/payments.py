"""The payment provider interface (card top-ups, orders), a local fake provider, and the
dispatch of signed provider callbacks to the package that owns the payment.

A real provider (WeChat Pay, Alipay, UnionPay) implements `PaymentProvider`: it creates a
payment for a reference, later calls us back with the outcome (signed), and can refund. The
fake provider answers immediately with a local "pay URL" and accepts callbacks signed with an
HMAC key derived from the server's signing keys; tests and the dev console sign with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

import orjson
from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, NotFound
from core.settings import Settings, SettingsDep

SIGNATURE_HEADER = "X-Payment-Signature"


class CallbackRejected(Exception):
    """The callback is not authentic or not readable."""


@dataclass(frozen=True)
class PaymentIntent:
    provider: str
    reference: str
    pay_url: str | None


@dataclass(frozen=True)
class CallbackEvent:
    reference: str
    status: str  # "succeeded" | "failed"


class PaymentProvider(Protocol):
    name: str

    async def create_payment(
        self, *, reference: str, amount: int, currency: str, description: str
    ) -> PaymentIntent: ...

    def parse_callback(self, body: bytes, signature: str | None) -> CallbackEvent: ...

    async def refund(self, *, amount: int, currency: str, reason: str) -> str: ...


class FakePaymentProvider:
    """Local stand-in: payments stay pending until someone posts a signed callback."""

    name = "fake"

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        # a key of its own per signing key, so a QR token can never pass as a callback
        self._keys = [
            (kid, hmac.new(key, b"payment-callback:fake", hashlib.sha256).digest())
            for kid, key in keys
        ]

    async def create_payment(
        self, *, reference: str, amount: int, currency: str, description: str
    ) -> PaymentIntent:
        return PaymentIntent(self.name, reference, f"/fake-pay/{reference}")

    def sign_callback(self, body: bytes) -> str:
        kid, key = self._keys[0]
        return f"{kid}={hmac.new(key, body, hashlib.sha256).hexdigest()}"

    def parse_callback(self, body: bytes, signature: str | None) -> CallbackEvent:
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
            event = CallbackEvent(str(payload["reference"]), str(payload["status"]))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise CallbackRejected("unreadable body") from exc
        if event.status not in ("succeeded", "failed"):
            raise CallbackRejected("unknown status")
        return event

    async def refund(self, *, amount: int, currency: str, reason: str) -> str:
        return "fake-refund-" + secrets.token_hex(8)


def payment_provider(settings: Settings, name: str = "fake") -> PaymentProvider | None:
    """The provider registered under `name` (only the fake one ships for now)."""
    if name == FakePaymentProvider.name:
        return FakePaymentProvider(settings.signing_keys())
    return None


async def default_payment_provider(settings: SettingsDep) -> PaymentProvider:
    """The provider new payments go through (routes: `provider: PaymentProviderDep`)."""
    provider = payment_provider(settings)
    if provider is None:  # the fake provider is always registered
        raise RuntimeError("no default payment provider")
    return provider


PaymentProviderDep = Annotated[PaymentProvider, Depends(default_payment_provider)]


class PaymentSignatureInvalid(DomainError):
    status, code = 401, "payment_signature_invalid"
    title, title_zh = "The payment callback signature is not valid", "支付回调签名无效"


class PaymentProviderUnknown(NotFound):
    code, title, title_zh = "payment_provider_unknown", "Unknown payment provider", "未知支付渠道"


class PaymentReferenceUnknown(NotFound):
    code, title, title_zh = "payment_not_found", "No payment has this reference", "支付记录不存在"


# (session, provider, verified event, now) -> the owner's view of the paid thing
CallbackHandler = Callable[
    [AsyncSession, PaymentProvider, CallbackEvent, datetime], Awaitable[BaseModel]
]
_HANDLERS: dict[str, CallbackHandler] = {}


def register_callback_handler(prefix: str, handler: CallbackHandler) -> None:
    """Route callbacks whose reference starts with `prefix` to `handler` (the longest prefix
    wins; "" is the fallback). Packages register in api/wiring.py; registering again replaces."""
    _HANDLERS[prefix] = handler


def _handler_for(reference: str) -> CallbackHandler | None:
    matches = [p for p in _HANDLERS if reference.startswith(p)]
    return _HANDLERS[max(matches, key=len)] if matches else None


async def dispatch_callback(
    session: AsyncSession,
    *,
    provider: PaymentProvider,
    body: bytes,
    signature: str | None,
    now: datetime,
) -> BaseModel:
    """Verify a provider's callback once, then let the owner of the reference apply it
    (exactly once: each owner uses a conditional UPDATE, so a replay changes nothing)."""
    try:
        event = provider.parse_callback(body, signature)
    except CallbackRejected as exc:
        raise PaymentSignatureInvalid(str(exc)) from exc
    handler = _handler_for(event.reference)
    if handler is None:
        raise PaymentReferenceUnknown()
    return await handler(session, provider, event, now)
