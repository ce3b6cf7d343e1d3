"""The payment provider interface: what a provider does (`PaymentProvider`), what it
answers (`PaymentIntent`, `CallbackEvent`, `RefundResult`, `CallbackAnswer`), how it fails
(`CallbackRejected`: not authentic or unreadable; `ProviderError`: refused or unreachable),
and `payment_reference`, which builds every reference (WeChat Pay's `out_trade_no`: at most 32
characters of `[0-9A-Za-z_-]`).

A provider refunds with an idempotency key of ours (`refund_no`, WeChat Pay's
`out_refund_no`): the same key twice refunds once.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from core.errors import DomainError

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
