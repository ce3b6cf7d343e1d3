"""Alipay through `python-alipay-sdk` (RSA2): precreate (the QR at the counter), app and page
payments, query, close and refund; the asynchronous notification verified with Alipay's public
key and answered `success`.

- The SDK is synchronous (urllib): its calls run in a thread so the event loop never waits.
  It signs every request with the application's private key and verifies every answer's
  signature with Alipay's public key (AliPayValidationError otherwise).
- Notifications (form-encoded) are verified by the SDK over the sorted parameters without
  `sign`/`sign_type`; `app_id` must be ours; amounts are yuan strings, turned into fen exactly.
- A refund's idempotency key is `out_request_no` (our refund number): Alipay answers a repeated
  one with the refund it already made. Refunds are synchronous at Alipay.
- The gateway is a setting (`CORNER_ALIPAY_GATEWAY`), so tests and `corner dev` use the local
  stand-in (core/standins/alipay.py); the SDK keeps it in a private attribute.
"""

from __future__ import annotations

import asyncio
import urllib.error
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from core.errors import DomainError
from core.payments import (
    PROVIDER_FACTORIES,
    CallbackAnswer,
    CallbackEvent,
    CallbackRejected,
    PaymentIntent,
    ProviderError,
    RefundResult,
)
from core.settings import Settings

CALLBACK_PATH = "/v1/payments/alipay/callback"
TRADE_STATUSES = {
    "TRADE_SUCCESS": "succeeded",
    "TRADE_FINISHED": "succeeded",
    "TRADE_CLOSED": "closed",
}
SUCCESS = "10000"


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def fen(amount: str) -> int:
    value = Decimal(amount) * 100
    if value != value.to_integral_value():
        raise ValueError(f"not a whole number of fen: {amount}")
    return int(value)


class AlipayProvider:
    name = "alipay"
    methods = ("precreate", "app", "page")

    def __init__(self, settings: Settings) -> None:
        # the SDK is imported only where Alipay is configured (it is slow to import)
        from alipay import AliPay
        from alipay.utils import AliPayConfig

        assert settings.alipay_private_key_file and settings.alipay_public_key_file
        self.app_id = str(settings.alipay_app_id)
        self.gateway = settings.alipay_gateway
        self.notify_url = settings.public_base_url.rstrip("/") + CALLBACK_PATH
        self._alipay = AliPay(
            appid=self.app_id,
            app_notify_url=self.notify_url,
            app_private_key_string=settings.alipay_private_key_file.read_text(),
            alipay_public_key_string=settings.alipay_public_key_file.read_text(),
            sign_type="RSA2",
            config=AliPayConfig(timeout=settings.payment_http_timeout_seconds),
        )
        self._alipay._gateway = self.gateway

    async def _call(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """One SDK call in a thread: its verified answer (any code), or ProviderError."""
        from alipay.exceptions import AliPayException, AliPayValidationError

        try:
            return await asyncio.to_thread(call)
        except AliPayValidationError as exc:
            raise ProviderError("Alipay answer signature does not verify") from exc
        except AliPayException as exc:  # an unsigned error answer (bad request signature…)
            raise ProviderError(f"Alipay refused: {exc}", retryable=False) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderError(f"Alipay unreachable: {exc!r}") from exc

    @staticmethod
    def _refused(answer: Mapping[str, Any]) -> ProviderError:
        code = str(answer.get("sub_code") or answer.get("code"))
        retryable = str(answer.get("code")) == "20000"  # service temporarily unavailable
        return ProviderError(f"Alipay {code}: {answer.get('sub_msg')}", retryable=retryable,
                             code=code)  # fmt: skip

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
    ) -> PaymentIntent:
        if currency != "CNY":
            raise ProviderError("Alipay takes CNY only", retryable=False, code="PARAM_ERROR")
        extra = {"time_expire": expires_at.strftime("%Y-%m-%d %H:%M:%S")} if expires_at else {}
        if method == "precreate":
            answer = await self._call(
                lambda: self._alipay.api_alipay_trade_precreate(
                    subject=description, out_trade_no=reference, total_amount=yuan(amount), **extra
                )
            )
            if str(answer.get("code")) != SUCCESS:
                raise self._refused(answer)
            return PaymentIntent(self.name, reference, code_url=str(answer["qr_code"]))
        if method == "app":
            order = self._alipay.api_alipay_trade_app_pay(
                subject=description, out_trade_no=reference, total_amount=yuan(amount), **extra
            )
            return PaymentIntent(self.name, reference, app={"order_string": order})
        signed = self._alipay.api_alipay_trade_page_pay(
            subject=description, out_trade_no=reference, total_amount=yuan(amount), **extra
        )
        return PaymentIntent(self.name, reference, pay_url=f"{self.gateway}?{signed}")

    def parse_callback(
        self, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> CallbackEvent:
        try:
            data = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CallbackRejected("unreadable notification") from exc
        signature = data.pop("sign", None)
        if not signature:
            raise CallbackRejected("missing signature")
        from alipay.exceptions import AliPayException

        try:
            verified = self._alipay.verify(dict(data), signature)
        except (AliPayException, ValueError, TypeError) as exc:
            raise CallbackRejected(f"unverifiable notification: {exc}") from exc
        if not verified:
            raise CallbackRejected("bad signature")
        if data.get("app_id") != self.app_id:
            raise CallbackRejected("app_id is not this application's")
        try:
            reference = data["out_trade_no"]
            if data.get("out_biz_no") and data.get("refund_fee"):  # a refund's notification
                return CallbackEvent(reference, "refunded", refund_no=data["out_biz_no"])
            return CallbackEvent(
                reference,
                TRADE_STATUSES.get(data.get("trade_status", ""), "pending"),
                amount=fen(data["total_amount"]),
                currency="CNY",
                transaction_id=data.get("trade_no"),
            )
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise CallbackRejected("notification incomplete") from exc

    def answer(self, error: DomainError | None) -> CallbackAnswer:
        # Alipay reads only the body: "success" stops its retries, anything else asks again
        if error is None:
            return CallbackAnswer(200, b"success", "text/plain")
        return CallbackAnswer(error.status, b"fail", "text/plain")

    async def query(self, *, reference: str) -> CallbackEvent | None:
        answer = await self._call(
            lambda: self._alipay.api_alipay_trade_query(out_trade_no=reference)
        )
        if str(answer.get("code")) != SUCCESS:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None
            raise self._refused(answer)
        return CallbackEvent(
            reference,
            TRADE_STATUSES.get(str(answer.get("trade_status")), "pending"),
            amount=fen(str(answer["total_amount"])),
            currency="CNY",
            transaction_id=answer.get("trade_no"),
        )

    async def close(self, *, reference: str) -> None:
        answer = await self._call(
            lambda: self._alipay.api_alipay_trade_close(out_trade_no=reference)
        )
        # a trade the customer never opened does not exist at Alipay: nothing to close
        if str(answer.get("code")) != SUCCESS and answer.get("sub_code") != "ACQ.TRADE_NOT_EXIST":
            raise self._refused(answer)

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
        answer = await self._call(
            lambda: self._alipay.api_alipay_trade_refund(
                refund_amount=yuan(amount),
                out_trade_no=reference,
                out_request_no=refund_no,
                refund_reason=reason or "refund",
            )
        )
        if str(answer.get("code")) != SUCCESS:
            raise self._refused(answer)
        return RefundResult(refund_no, answer.get("trade_no"), "succeeded")


def configured(settings: Settings) -> AlipayProvider | None:
    needed = (
        settings.alipay_app_id,
        settings.alipay_private_key_file,
        settings.alipay_public_key_file,
    )
    return AlipayProvider(settings) if all(needed) else None


PROVIDER_FACTORIES["alipay"] = configured
