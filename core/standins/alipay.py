"""A local stand-in of the Alipay open-platform gateway (`gateway.do`, RSA2) on loopback.

What it checks, as Alipay does: `app_id` known, `sign_type` RSA2, `charset`, `version` 1.0, a
`timestamp` within 15 minutes, the method's required `biz_content` fields, and the RSA2
(SHA256withRSA) signature over the sorted `key=value` pairs of every parameter but `sign`, with
the application's public key (`40002 isv.invalid-signature` otherwise, unsigned, as Alipay).
What it signs: each answer, over the exact JSON text of `<method>_response`, and each
asynchronous notification (form-encoded), over the sorted pairs without `sign`/`sign_type`,
with its own (Alipay's) private key.

A refund's `out_request_no` refunds once; a repeat answers the same refund without moving money.
Not Alipay's: `POST /standin/pay/{out_trade_no}` plays the customer who scans and pays; the page
payment method (a browser sent to gateway.do) shows a page with a pay button.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

CHINA = timezone(timedelta(hours=8))
REQUIRED = {
    "alipay.trade.precreate": ("out_trade_no", "total_amount", "subject"),
    "alipay.trade.page.pay": ("out_trade_no", "total_amount", "subject", "product_code"),
    "alipay.trade.app.pay": ("out_trade_no", "total_amount", "subject"),
    "alipay.trade.query": ("out_trade_no",),
    "alipay.trade.close": ("out_trade_no",),
    "alipay.trade.refund": ("out_trade_no", "refund_amount"),
}


def _now() -> datetime:
    return datetime.now(CHINA)


def _pairs(params: Mapping[str, str], *, without: tuple[str, ...]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in without and v != "")


@dataclass
class AlipayKeys:
    app_id: str
    app_key: rsa.RSAPrivateKey  # the merchant application's
    alipay_key: rsa.RSAPrivateKey  # Alipay's (the stand-in's)

    @classmethod
    def generate(cls) -> AlipayKeys:
        return cls(
            app_id="2021000000000001",
            app_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            alipay_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )

    def write(self, directory: Path) -> dict[str, str]:
        directory.mkdir(parents=True, exist_ok=True)
        private = directory / "app_private_key.pem"
        private.write_bytes(
            self.app_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        private.chmod(0o600)
        public = directory / "alipay_public_key.pem"
        public.write_bytes(
            self.alipay_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return {
            "alipay_app_id": self.app_id,
            "alipay_private_key_file": str(private),
            "alipay_public_key_file": str(public),
        }


@dataclass
class AlipayStandin:
    keys: AlipayKeys
    deliver: bool = False
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[tuple[str, str], str] = field(default_factory=dict)  # (trade, request no)
    outbox: list[tuple[str, bytes]] = field(default_factory=list)  # (notify_url, form body)
    refused: list[str] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0

    def _sign(self, message: str) -> str:
        raw = self.keys.alipay_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()

    def check_request(self, params: Mapping[str, str]) -> str | None:
        if params.get("app_id") != self.keys.app_id:
            return "isv.invalid-app-id"
        if params.get("sign_type") != "RSA2":
            return "isv.invalid-signature-type"
        if params.get("charset", "utf-8").lower() != "utf-8" or params.get("version") != "1.0":
            return "isv.invalid-charset-or-version"
        try:
            at = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
        except (KeyError, ValueError):
            return "isv.invalid-timestamp"
        # the SDK writes the caller's local time; Alipay reads Beijing time (both UTC here)
        if abs((datetime.now() - at).total_seconds()) > 15 * 60:
            return "isv.invalid-timestamp"
        try:
            self.keys.app_key.public_key().verify(
                base64.b64decode(params.get("sign", "")),
                _pairs(params, without=("sign",)).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return "isv.invalid-signature"
        return None

    def answer(self, method: str, data: Mapping[str, Any], *, signed: bool = True) -> Response:
        key = method.replace(".", "_") + "_response"
        inner = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        text = f'{{"{key}":{inner}'
        text += f',"sign":"{self._sign(inner)}"}}' if signed else "}"
        return Response(text.encode(), media_type="application/json;charset=utf-8")

    def business_error(self, method: str, sub_code: str, sub_msg: str) -> Response:
        self.refused.append(sub_code)
        return self.answer(
            method,
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": sub_code,
                "sub_msg": sub_msg,
            },  # fmt: skip
        )

    def notification(self, trade: Mapping[str, Any], **extra: str) -> bytes:
        params = {
            "notify_time": _now().strftime("%Y-%m-%d %H:%M:%S"),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.keys.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade["trade_no"],
            "out_trade_no": trade["out_trade_no"],
            "trade_status": trade["status"],
            "total_amount": trade["total_amount"],
            "receipt_amount": trade["total_amount"],
            "buyer_pay_amount": trade["total_amount"],
            "gmt_payment": trade.get("gmt_payment", ""),
            "subject": trade["subject"],
        } | extra
        params = {k: v for k, v in params.items() if v != ""}
        params["sign"] = self._sign(_pairs(params, without=("sign", "sign_type")))
        params["sign_type"] = "RSA2"
        return urlencode(params).encode()

    def pay(self, out_trade_no: str) -> bytes | None:
        trade = self.trades.get(out_trade_no)
        if trade is None or trade["status"] != "WAIT_BUYER_PAY":
            return None
        trade.update(status="TRADE_SUCCESS", gmt_payment=_now().strftime("%Y-%m-%d %H:%M:%S"))
        return self.notify(trade["notify_url"], self.notification(trade))

    def notify(self, url: str, body: bytes) -> bytes:
        self.outbox.append((url, body))
        if self.deliver and url:
            asyncio.get_running_loop().create_task(self._deliver(url, body))
        return body

    async def _deliver(self, url: str, body: bytes) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
            try:
                await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                pass

    def handle(self, params: dict[str, str]) -> Response:
        method = params.get("method", "")
        why = self.check_request(params)
        if why is not None:
            self.refused.append(why)
            return self.answer(
                method, {"code": "40002", "msg": "Invalid Arguments", "sub_code": why,
                         "sub_msg": why}, signed=False,
            )  # fmt: skip
        try:
            biz = json.loads(params.get("biz_content", "{}"))
        except ValueError:
            return self.business_error(method, "isv.invalid-biz-content", "biz_content")
        missing = [name for name in REQUIRED.get(method, ()) if not biz.get(name)]
        if method not in REQUIRED or missing:
            return self.business_error(method, "isv.missing-parameter", f"missing {missing}")
        no = str(biz["out_trade_no"])
        trade = self.trades.get(no)
        if method in ("alipay.trade.precreate", "alipay.trade.page.pay", "alipay.trade.app.pay"):
            amount = Decimal(str(biz["total_amount"]))
            if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                return self.business_error(method, "ACQ.INVALID_PARAMETER", "total_amount")
            if trade is not None and trade["total_amount"] != f"{amount:.2f}":
                return self.business_error(method, "ACQ.CONTEXT_INCONSISTENT", "参数不一致")
            if trade is None:
                trade = self.trades[no] = {
                    "out_trade_no": no,
                    "trade_no": "2026" + "".join(secrets.choice(string.digits) for _ in range(24)),
                    "total_amount": f"{amount:.2f}",
                    "subject": biz["subject"],
                    "status": "WAIT_BUYER_PAY",
                    "notify_url": params.get("notify_url", ""),
                    "refunded": Decimal(0),
                }
            if method == "alipay.trade.precreate":
                qr = "https://qr.alipay.com/" + secrets.token_urlsafe(12)
                return self.answer(method, {"code": "10000", "msg": "Success",
                                            "out_trade_no": no, "qr_code": qr})  # fmt: skip
            return HTMLResponse(
                f"<!doctype html><meta charset=utf-8><title>Alipay stand-in</title><h1>支付宝"
                f" (stand-in)</h1><p>{no}: ¥{trade['total_amount']}</p>"
                f"<form method=post action='/standin/pay/{no}'><button>确认付款</button></form>"
            )
        if trade is None:
            return self.business_error(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if method == "alipay.trade.query":
            return self.answer(method, {"code": "10000", "msg": "Success", "out_trade_no": no,
                                        "trade_no": trade["trade_no"],
                                        "trade_status": trade["status"],
                                        "total_amount": trade["total_amount"]})  # fmt: skip
        if method == "alipay.trade.close":
            if trade["status"] != "WAIT_BUYER_PAY":
                return self.business_error(method, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            trade["status"] = "TRADE_CLOSED"
            return self.answer(method, {"code": "10000", "msg": "Success", "out_trade_no": no,
                                        "trade_no": trade["trade_no"]})  # fmt: skip
        # alipay.trade.refund
        request_no = str(biz.get("out_request_no") or no)
        amount = Decimal(str(biz["refund_amount"]))
        done = self.refunds.get((no, request_no))
        if done is not None:  # the same request number: the same refund, no money moves
            if Decimal(done) != amount:
                return self.business_error(method, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "金额不一致")
            fund_change = "N"
        else:
            if trade["status"] not in ("TRADE_SUCCESS", "TRADE_CLOSED") or not trade.get(
                "gmt_payment"
            ):
                return self.business_error(method, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if trade["refunded"] + amount > Decimal(trade["total_amount"]):
                return self.business_error(method, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            trade["refunded"] += amount
            self.refunds[(no, request_no)] = f"{amount:.2f}"
            if trade["refunded"] == Decimal(trade["total_amount"]):
                trade["status"] = "TRADE_CLOSED"
            fund_change = "Y"
            self.notify(
                trade["notify_url"],
                self.notification(trade, out_biz_no=request_no,
                                  refund_fee=f"{trade['refunded']:.2f}",
                                  gmt_refund=_now().strftime("%Y-%m-%d %H:%M:%S")),
            )  # fmt: skip
        return self.answer(method, {"code": "10000", "msg": "Success", "out_trade_no": no,
                                    "trade_no": trade["trade_no"], "fund_change": fund_change,
                                    "refund_fee": f"{trade['refunded']:.2f}"})  # fmt: skip


def create_app(standin: AlipayStandin) -> Starlette:
    async def gateway(request: Request) -> Response:
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        if request.method == "POST":
            params |= dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        # taken on arrival (see the WeChat Pay stand-in): a timed-out request waking later
        # must not take the failure scripted for the next one
        failure = standin.fail_next.pop(0) if standin.fail_next else None
        if standin.delay_seconds:
            await asyncio.sleep(standin.delay_seconds)
        if failure is not None:
            return Response(b"busy", status_code=failure)
        return standin.handle(params)

    async def customer_pays(request: Request) -> Response:
        body = standin.pay(request.path_params["out_trade_no"])
        if body is None:
            return HTMLResponse("<p>not payable</p>", status_code=400)
        return HTMLResponse("<!doctype html><meta charset=utf-8><p>paid</p>")

    return Starlette(
        routes=[
            Route("/gateway.do", gateway, methods=["GET", "POST"]),
            Route("/standin/pay/{out_trade_no}", customer_pays, methods=["POST"]),
        ]
    )
