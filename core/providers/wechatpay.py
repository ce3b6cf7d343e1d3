"""WeChat Pay API v3 through the `wechatpayv3` SDK (its httpx-based AsyncWeChatPay), in
WeChat Pay public-key mode (no /v3/certificates download).

- Requests are signed by the SDK with the merchant API key (`CORNER_WECHATPAY_PRIVATE_KEY_FILE`,
  serial `CORNER_WECHATPAY_CERT_SERIAL_NO`); every 2xx answer is verified by the SDK with the
  WeChat Pay public key, or the call fails.
- Callbacks: the SDK verifies the signature and decrypts the resource (AEAD_AES_256_GCM with the
  APIv3 key); it does not check the timestamp's age nor the key id, so we do (±
  `payment_callback_max_skew_seconds`, serial = `CORNER_WECHATPAY_PUBLIC_KEY_ID`), and refuse a
  resource whose `mchid`/`appid` are not ours. Amount and currency are compared with the
  payment by core.payment_records before anything changes.
- Answers: 204 without a body when accepted; 4xx/5xx `{"code": "FAIL", "message"}` otherwise
  (WeChat Pay then delivers again later).
- The gateway is a setting (`CORNER_WECHATPAY_BASE_URL`) so tests and `corner dev` talk to the
  local stand-in (core/standins/wechatpay.py); the SDK keeps it in a private attribute.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import orjson

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

# trade_state → our status (NOTPAY, USERPAYING, ACCEPT: still pending)
TRADE_STATES = {
    "SUCCESS": "succeeded",
    "REFUND": "succeeded",  # paid, then (partly) refunded: the payment did happen
    "CLOSED": "closed",
    "REVOKED": "failed",
    "PAYERROR": "failed",
}
CALLBACK_PATH = "/v1/payments/wechatpay/callback"


class WeChatPayProvider:
    name = "wechatpay"
    methods = ("native", "jsapi", "app")

    def __init__(self, settings: Settings) -> None:
        # the SDK is imported only where WeChat Pay is configured (it is slow to import)
        from wechatpayv3.async_ import AsyncWeChatPay
        from wechatpayv3.async_.type import WeChatPayType

        self.pay_types = {
            "native": WeChatPayType.NATIVE,
            "jsapi": WeChatPayType.JSAPI,
            "app": WeChatPayType.APP,
        }
        assert settings.wechatpay_private_key_file and settings.wechatpay_public_key_file
        assert settings.wechatpay_apiv3_key is not None
        self.mchid = str(settings.wechatpay_mchid)
        self.appid = str(settings.wechatpay_appid)
        self.public_key_id = str(settings.wechatpay_public_key_id)
        self.max_skew = settings.payment_callback_max_skew_seconds
        self.notify_url = settings.public_base_url.rstrip("/") + CALLBACK_PATH
        self._pay = AsyncWeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=self.mchid,
            private_key=settings.wechatpay_private_key_file.read_text(),
            cert_serial_no=str(settings.wechatpay_cert_serial_no),
            appid=self.appid,
            apiv3_key=settings.wechatpay_apiv3_key.get_secret_value(),
            notify_url=self.notify_url,
            public_key=settings.wechatpay_public_key_file.read_text(),
            public_key_id=self.public_key_id,
        )
        core = self._pay._core
        core._gate_way = settings.wechatpay_base_url.rstrip("/")
        # one long-lived client (the SDK opens one per `async with`, i.e. per call)
        core._client = httpx.AsyncClient(timeout=settings.payment_http_timeout_seconds)

    async def _call(self, request: Any) -> tuple[int, Any]:
        """Run one SDK call: its answer (verified when 2xx), or ProviderError."""
        try:
            status, body = await request
        except httpx.HTTPError as exc:  # timeouts, refused connections: try again later
            raise ProviderError(f"WeChat Pay unreachable: {exc!r}") from exc
        except Exception as exc:  # the SDK raises bare Exception, e.g. on a bad answer signature
            raise ProviderError(f"WeChat Pay answer refused: {exc}") from exc
        data: Any = {}
        if body:
            try:
                data = json.loads(body)
            except (ValueError, TypeError):
                data = {}
        if status >= 500 or status == 429:
            raise ProviderError(f"WeChat Pay {status}: {data}", code=data.get("code"))
        return status, data

    @staticmethod
    def _refused(status: int, data: Any) -> ProviderError:
        code = data.get("code") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        return ProviderError(f"WeChat Pay {status} {code}: {message}", retryable=False, code=code)

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
            raise ProviderError("WeChat Pay takes CNY only", retryable=False, code="PARAM_ERROR")
        status, data = await self._call(
            self._pay.pay(
                description=description,
                out_trade_no=reference,
                amount={"total": amount, "currency": currency},
                payer={"openid": openid} if method == "jsapi" else None,
                time_expire=expires_at.isoformat(timespec="seconds") if expires_at else None,
                pay_type=self.pay_types[method],
            )
        )
        if status != 200:
            raise self._refused(status, data)
        if method == "native":
            return PaymentIntent(self.name, reference, code_url=str(data["code_url"]))
        prepay_id = str(data["prepay_id"])
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        if method == "jsapi":
            package = f"prepay_id={prepay_id}"
            jsapi = {
                "appId": self.appid,
                "timeStamp": timestamp,
                "nonceStr": nonce,
                "package": package,
                "signType": "RSA",
                "paySign": self._pay.sign([self.appid, timestamp, nonce, package]),
            }
            return PaymentIntent(self.name, reference, prepay_id=prepay_id, jsapi=jsapi)
        app = {
            "appid": self.appid,
            "partnerid": self.mchid,
            "prepayid": prepay_id,
            "package": "Sign=WXPay",
            "noncestr": nonce,
            "timestamp": timestamp,
            "sign": self._pay.sign([self.appid, timestamp, nonce, prepay_id]),
        }
        return PaymentIntent(self.name, reference, prepay_id=prepay_id, app=app)

    def _transaction_event(self, resource: Mapping[str, Any]) -> CallbackEvent:
        if resource.get("mchid") != self.mchid or resource.get("appid") != self.appid:
            raise CallbackRejected("mchid/appid are not this merchant's")
        amount = resource.get("amount") or {}
        return CallbackEvent(
            reference=str(resource["out_trade_no"]),
            status=TRADE_STATES.get(str(resource.get("trade_state")), "pending"),
            amount=int(amount["total"]),
            currency=str(amount.get("currency", "CNY")),
            transaction_id=resource.get("transaction_id"),
        )

    def parse_callback(
        self, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> CallbackEvent:
        try:
            timestamp = int(headers.get("Wechatpay-Timestamp", ""))
        except ValueError as exc:
            raise CallbackRejected("no signed timestamp") from exc
        if abs(now.timestamp() - timestamp) > self.max_skew:
            raise CallbackRejected("signed timestamp outside the allowed window")
        if headers.get("Wechatpay-Serial") != self.public_key_id:
            raise CallbackRejected("signed with an unknown key")
        try:
            data = self._pay.callback(headers, body)
        except Exception as exc:  # the SDK raises bare Exception on unknown algorithms
            raise CallbackRejected(f"unreadable notification: {exc}") from exc
        if not data:
            raise CallbackRejected("bad signature or undecryptable resource")
        resource = data.get("resource")
        event_type = str(data.get("event_type", ""))
        try:
            if event_type.startswith("TRANSACTION."):
                return self._transaction_event(resource)
            if event_type.startswith("REFUND."):
                if resource.get("mchid") != self.mchid:
                    raise CallbackRejected("mchid is not this merchant's")
                return CallbackEvent(
                    reference=str(resource["out_trade_no"]),
                    status="refunded" if resource.get("refund_status") == "SUCCESS" else
                    "refund_failed",
                    amount=int(resource["amount"]["refund"]),
                    refund_no=str(resource["out_refund_no"]),
                )  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CallbackRejected("notification resource incomplete") from exc
        raise CallbackRejected(f"unknown event type {event_type!r}")

    def answer(self, error: DomainError | None) -> CallbackAnswer:
        if error is None:
            return CallbackAnswer(204, b"", None)
        body = orjson.dumps({"code": "FAIL", "message": error.title_zh or error.title})
        return CallbackAnswer(error.status, body, "application/json")

    async def query(self, *, reference: str) -> CallbackEvent | None:
        status, data = await self._call(self._pay.query(out_trade_no=reference))
        if status == 404:
            return None
        if status != 200:
            raise self._refused(status, data)
        try:
            return self._transaction_event(data)
        except (CallbackRejected, KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"unusable query answer: {exc}") from exc

    async def close(self, *, reference: str) -> None:
        status, data = await self._call(self._pay.close(out_trade_no=reference))
        if status not in (200, 204):
            raise self._refused(status, data)

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
        status, data = await self._call(
            self._pay.refund(
                out_refund_no=refund_no,
                amount={"refund": amount, "total": total, "currency": currency},
                out_trade_no=reference,
                reason=reason or None,
            )
        )
        if status != 200:
            raise self._refused(status, data)
        state = data.get("status")
        if state in ("CLOSED", "ABNORMAL"):
            raise ProviderError(f"refund {state}", retryable=False, code=state)
        return RefundResult(
            refund_no, data.get("refund_id"), "succeeded" if state == "SUCCESS" else "processing"
        )


def configured(settings: Settings) -> WeChatPayProvider | None:
    """The provider when every credential is set (else orders cannot choose WeChat Pay)."""
    needed = (
        settings.wechatpay_mchid,
        settings.wechatpay_appid,
        settings.wechatpay_private_key_file,
        settings.wechatpay_cert_serial_no,
        settings.wechatpay_apiv3_key,
        settings.wechatpay_public_key_file,
        settings.wechatpay_public_key_id,
    )
    return WeChatPayProvider(settings) if all(needed) else None


PROVIDER_FACTORIES["wechatpay"] = configured
