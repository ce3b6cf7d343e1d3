"""The local fake provider: payments stay pending until someone posts a signed callback; refunds
succeed at once, keyed by our refund number (as a real provider's idempotency would).

Its callback key is derived from each signing key for this use only, so a QR token can never
pass as a callback.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from core.errors import DomainError
from core.payments.interface import (
    SIGNATURE_HEADER,
    CallbackAnswer,
    CallbackEvent,
    CallbackRejected,
    PaymentIntent,
    RefundResult,
)


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
