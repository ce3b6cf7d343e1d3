"""A local stand-in of WeChat Pay API v3 (direct merchant, public-key mode) on loopback.

It checks what WeChat Pay checks and signs what it signs, so the real SDK is exercised:
- every request's `Authorization: WECHATPAY2-SHA256-RSA2048 mchid,nonce_str,signature,
  timestamp,serial_no`: the merchant id, the merchant certificate's serial, a timestamp within
  5 minutes, a nonce never seen before, and the RSA-SHA256 (PKCS#1 v1.5) signature over
  `METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n` with the merchant's public key
  (401 SIGN_ERROR otherwise); `Wechatpay-Serial`, when sent, must name the platform public key;
- the documented required fields (appid, mchid, description, out_trade_no, notify_url,
  amount.total, payer.openid for JSAPI), out_trade_no's form, CNY only;
- every answer (a 204 too) carries Wechatpay-Timestamp/-Nonce/-Serial/-Signature signed over
  `TIMESTAMP\\nNONCE\\nBODY\\n` with the platform key;
- notifications are signed the same way and their resource encrypted with AEAD_AES_256_GCM under
  the APIv3 key (12-character nonce, associated_data = the original type);
- an out_refund_no refunds once: the same number again answers the same refund; a refund never
  passes what is left of the payment (403 NOT_ENOUGH).

Not WeChat Pay's: `POST /standin/pay/{out_trade_no}` plays the customer who scans the QR and
pays (then notifies), `GET /standin/pay/{out_trade_no}` a page with a button doing it.
Notifications are POSTed to notify_url when `deliver` is on (`corner dev`); tests take them
from `outbox` and post them themselves.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import string
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

SIGN_TYPE = "WECHATPAY2-SHA256-RSA2048"
AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
MAX_SKEW_SECONDS = 300
CHINA = timezone(timedelta(hours=8))


def _rfc3339(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).astimezone(CHINA).isoformat(timespec="seconds")


def _sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(
        key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()


@dataclass
class WeChatPayKeys:
    """The credentials of one merchant and of the (stand-in) platform."""

    mchid: str
    appid: str
    merchant_key: rsa.RSAPrivateKey
    merchant_serial: str
    platform_key: rsa.RSAPrivateKey
    public_key_id: str
    apiv3_key: str

    @classmethod
    def generate(cls) -> WeChatPayKeys:
        return cls(
            mchid="1900000109",
            appid="wxd678efh567hg6787",
            merchant_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            merchant_serial=secrets.token_hex(20).upper(),
            platform_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            public_key_id="PUB_KEY_ID_" + secrets.token_hex(16).upper(),
            apiv3_key="".join(
                secrets.choice(string.ascii_letters + string.digits) for _ in range(32)
            ),
        )

    def write(self, directory: Path) -> dict[str, str]:
        """Write the merchant's files; the CORNER_WECHATPAY_* values pointing at them."""
        directory.mkdir(parents=True, exist_ok=True)
        private = directory / "apiclient_key.pem"
        private.write_bytes(
            self.merchant_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        private.chmod(0o600)
        public = directory / "pub_key.pem"
        public.write_bytes(
            self.platform_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return {
            "wechatpay_mchid": self.mchid,
            "wechatpay_appid": self.appid,
            "wechatpay_private_key_file": str(private),
            "wechatpay_cert_serial_no": self.merchant_serial,
            "wechatpay_apiv3_key": self.apiv3_key,
            "wechatpay_public_key_file": str(public),
            "wechatpay_public_key_id": self.public_key_id,
        }


@dataclass
class Notification:
    url: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None


@dataclass
class WeChatPayStandin:
    keys: WeChatPayKeys
    deliver: bool = False
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: list[Notification] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why requests were refused
    # fault injection: statuses to answer before handling, seconds to wait before handling
    fail_next: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    hold_seconds: float = 0.0  # after acting, before answering (a caller that dies meanwhile)

    # -- signing --------------------------------------------------------------------------

    def signed_headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = secrets.token_hex(16).upper()
        message = f"{ts}\n{nonce}\n{body.decode()}\n"
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.keys.public_key_id,
            "Wechatpay-Signature": _sign(self.keys.platform_key, message),
            "Wechatpay-Signature-Type": SIGN_TYPE,
        }

    def answer(self, status: int, data: Any = None) -> Response:
        body = b"" if data is None else json.dumps(data, ensure_ascii=False).encode()
        return Response(
            body,
            status_code=status,
            media_type="application/json" if data is not None else None,
            headers=self.signed_headers(body),
        )

    def error(self, status: int, code: str, message: str) -> Response:
        self.refused.append(f"{code}: {message}")
        return self.answer(status, {"code": code, "message": message})

    def notification(
        self,
        event_type: str,
        resource: Mapping[str, Any],
        *,
        url: str,
        timestamp: int | None = None,
    ) -> Notification:
        """A notification as WeChat Pay sends it: resource encrypted, body signed."""
        original_type = "refund" if event_type.startswith("REFUND.") else "transaction"
        nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
        ciphertext = AESGCM(self.keys.apiv3_key.encode()).encrypt(
            nonce.encode(), json.dumps(resource).encode(), original_type.encode()
        )
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "create_time": _rfc3339(),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功" if event_type == "TRANSACTION.SUCCESS" else "退款状态变更",
                "resource": {
                    "original_type": original_type,
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": original_type,
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        ).encode()
        return Notification(url, self.signed_headers(body, timestamp), body)

    # -- the request check ------------------------------------------------------------------

    def check_request(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> str | None:
        """Why WeChat Pay would refuse this request's signature, or None."""
        auth = headers.get("authorization", "")
        scheme, _, params = auth.partition(" ")
        if scheme != SIGN_TYPE:
            return "Authorization scheme is not WECHATPAY2-SHA256-RSA2048"
        fields = dict(AUTH_FIELD.findall(params))
        missing = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} - fields.keys()
        if missing:
            return f"Authorization lacks {sorted(missing)}"
        if fields["mchid"] != self.keys.mchid:
            return "mchid is not known"
        if fields["serial_no"] != self.keys.merchant_serial:
            return "merchant certificate serial_no does not match"
        try:
            age = abs(time.time() - int(fields["timestamp"]))
        except ValueError:
            return "timestamp is not a number"
        if age > MAX_SKEW_SECONDS:
            return "timestamp outside 5 minutes"
        if fields["nonce_str"] in self.nonces:
            return "nonce_str used before (replay)"
        message = (
            f"{method}\n{target}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body.decode()}\n"
        )
        try:
            self.keys.merchant_key.public_key().verify(
                base64.b64decode(fields["signature"]), message.encode(), padding.PKCS1v15(),
                hashes.SHA256(),
            )  # fmt: skip
        except (InvalidSignature, ValueError):
            return "signature does not verify with the merchant's public key"
        self.nonces.add(fields["nonce_str"])
        return None

    # -- business ---------------------------------------------------------------------------

    def transaction_view(self, tx: Mapping[str, Any]) -> dict[str, Any]:
        view = {
            "appid": tx["appid"],
            "mchid": tx["mchid"],
            "out_trade_no": tx["out_trade_no"],
            "trade_type": tx["trade_type"],
            "trade_state": tx["trade_state"],
            "trade_state_desc": {
                "SUCCESS": "支付成功",
                "NOTPAY": "未支付",
                "CLOSED": "已关闭",
                "REFUND": "转入退款",
            }.get(tx["trade_state"], ""),  # fmt: skip
            "bank_type": "OTHERS",
            "attach": "",
            "amount": {"total": tx["amount"]["total"], "currency": "CNY"},
        }
        if tx["trade_state"] in ("SUCCESS", "REFUND"):
            view["transaction_id"] = tx["transaction_id"]
            view["success_time"] = tx["success_time"]
            view["payer"] = {"openid": tx.get("openid") or "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
            view["amount"].update({"payer_total": tx["amount"]["total"], "payer_currency": "CNY"})
        return view

    def pay(self, out_trade_no: str, *, openid: str | None = None) -> Notification | None:
        """The customer pays: the transaction succeeds and its notification is made."""
        tx = self.transactions.get(out_trade_no)
        if tx is None or tx["trade_state"] != "NOTPAY":
            return None
        tx.update(
            trade_state="SUCCESS",
            transaction_id="4200" + "".join(secrets.choice(string.digits) for _ in range(24)),
            success_time=_rfc3339(),
            openid=openid or tx.get("openid"),
        )
        return self.notify(
            self.notification(
                "TRANSACTION.SUCCESS", self.transaction_view(tx), url=tx["notify_url"]
            )
        )

    def finish_refund(self, out_refund_no: str) -> Notification | None:
        refund = self.refunds[out_refund_no]
        if refund["status"] != "PROCESSING":
            return None
        refund.update(status="SUCCESS", success_time=_rfc3339())
        if not refund.get("notify_url"):
            return None
        resource = {
            "mchid": self.keys.mchid,
            "out_trade_no": refund["out_trade_no"],
            "transaction_id": refund["transaction_id"],
            "out_refund_no": out_refund_no,
            "refund_id": refund["refund_id"],
            "refund_status": "SUCCESS",
            "success_time": refund["success_time"],
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund["amount"]["total"],
                "refund": refund["amount"]["refund"],
                "payer_total": refund["amount"]["total"],
                "payer_refund": refund["amount"]["refund"],
            },
        }
        return self.notify(self.notification("REFUND.SUCCESS", resource, url=refund["notify_url"]))

    def notify(self, note: Notification) -> Notification:
        self.outbox.append(note)
        if self.deliver:
            asyncio.get_running_loop().create_task(self._deliver(note))
        return note

    async def _deliver(self, note: Notification) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            try:
                answer = await client.post(
                    note.url, content=note.body,
                    headers=note.headers | {"Content-Type": "application/json"},
                )  # fmt: skip
                note.answered = answer.status_code
            except httpx.HTTPError:
                note.answered = 0

    def refund_view(self, refund: Mapping[str, Any]) -> dict[str, Any]:
        amount = refund["amount"]
        return {
            "refund_id": refund["refund_id"],
            "out_refund_no": refund["out_refund_no"],
            "transaction_id": refund["transaction_id"],
            "out_trade_no": refund["out_trade_no"],
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": refund["create_time"],
            "status": refund["status"],
            "funds_account": "AVAILABLE",
            "amount": {
                "total": amount["total"],
                "refund": amount["refund"],
                "payer_total": amount["total"],
                "payer_refund": amount["refund"],
                "settlement_refund": amount["refund"],
                "settlement_total": amount["total"],
                "discount_refund": 0,
                "currency": "CNY",
            },
        }


def _bad(standin: WeChatPayStandin, message: str) -> Response:
    return standin.error(400, "PARAM_ERROR", message)


async def _prepay(standin: WeChatPayStandin, kind: str, data: dict[str, Any]) -> Response:
    keys = standin.keys
    for name in ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount"):
        if not data.get(name):
            return _bad(standin, f"输入源“/body/{name}”映射到字段“{name}”必填性规则校验失败")
    if data["appid"] != keys.appid or data["mchid"] != keys.mchid:
        return standin.error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    if not OUT_TRADE_NO.match(str(data["out_trade_no"])):
        return _bad(standin, "out_trade_no 格式错误")
    if not 1 <= len(str(data["description"])) <= 127:
        return _bad(standin, "description 长度错误")
    if not str(data["notify_url"]).startswith(("https://", "http://")):
        return _bad(standin, "notify_url 格式错误")
    total = data["amount"].get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total < 1:
        return _bad(standin, "amount.total 必须是正整数")
    if data["amount"].get("currency", "CNY") != "CNY":
        return _bad(standin, "amount.currency 只支持 CNY")
    openid = (data.get("payer") or {}).get("openid")
    if kind == "jsapi" and not openid:
        return _bad(standin, "JSAPI 下单 payer.openid 必填")
    no = str(data["out_trade_no"])
    tx = standin.transactions.get(no)
    if tx is not None:
        if tx["trade_state"] in ("SUCCESS", "REFUND"):
            return standin.error(400, "ORDERPAID", "该订单已支付")
        if tx["trade_state"] == "CLOSED":
            return standin.error(400, "ORDERCLOSED", "该订单已关闭")
        if tx["amount"]["total"] != total or tx["trade_type"] != kind.upper():
            return standin.error(400, "INVALID_REQUEST", "201 商户订单号重复")
    else:
        tx = {
            "appid": data["appid"],
            "mchid": data["mchid"],
            "out_trade_no": no,
            "description": data["description"],
            "notify_url": data["notify_url"],
            "amount": {"total": total, "currency": "CNY"},
            "trade_type": kind.upper(),
            "trade_state": "NOTPAY",
            "openid": openid,
            "prepay_id": "wx" + secrets.token_hex(16),
            "code_url": "weixin://wxpay/bizpayurl?pr=" + secrets.token_urlsafe(6),
        }
        standin.transactions[no] = tx
    if kind == "native":
        return standin.answer(200, {"code_url": tx["code_url"]})
    return standin.answer(200, {"prepay_id": tx["prepay_id"]})


async def _refund(standin: WeChatPayStandin, data: dict[str, Any]) -> Response:
    no = data.get("out_refund_no")
    amount = data.get("amount") or {}
    if not no or not amount or not (data.get("out_trade_no") or data.get("transaction_id")):
        return _bad(standin, "out_refund_no, amount 与 out_trade_no/transaction_id 必填")
    existing = standin.refunds.get(no)
    if existing is not None:  # the same refund number: the same refund, never a second one
        if existing["amount"]["refund"] != amount.get("refund"):
            return standin.error(400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致")
        return standin.answer(200, standin.refund_view(existing))
    tx = standin.transactions.get(str(data.get("out_trade_no")))
    if tx is None or tx["trade_state"] not in ("SUCCESS", "REFUND"):
        return standin.error(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
    if amount.get("total") != tx["amount"]["total"]:
        return _bad(standin, "amount.total 与原订单金额不一致")
    refund_fee = amount.get("refund")
    refunded = sum(
        r["amount"]["refund"]
        for r in standin.refunds.values()
        if r["out_trade_no"] == tx["out_trade_no"]
    )
    if not isinstance(refund_fee, int) or refund_fee < 1:
        return _bad(standin, "amount.refund 必须是正整数")
    if refunded + refund_fee > tx["amount"]["total"]:
        return standin.error(403, "NOT_ENOUGH", "可退金额不足")
    refund = {
        "refund_id": "5030" + "".join(secrets.choice(string.digits) for _ in range(25)),
        "out_refund_no": no,
        "out_trade_no": tx["out_trade_no"],
        "transaction_id": tx["transaction_id"],
        "create_time": _rfc3339(),
        "status": "PROCESSING",
        "notify_url": data.get("notify_url"),
        "amount": {"total": tx["amount"]["total"], "refund": refund_fee},
    }
    standin.refunds[no] = refund
    tx["trade_state"] = "REFUND"
    return standin.answer(200, standin.refund_view(refund))


def create_app(standin: WeChatPayStandin) -> Starlette:
    async def api(request: Request) -> Response:
        body = await request.body()
        target = request.scope["raw_path"].decode()
        if request.scope.get("query_string"):
            target += "?" + request.scope["query_string"].decode()
        standin.requests.append((request.method, target))
        # the scripted failure is taken when the request arrives, not after the delay: a
        # request its client gave up on (a timeout test) must not wake up later and take the
        # failure meant for a request sent after it
        failure = standin.fail_next.pop(0) if standin.fail_next else None
        if standin.delay_seconds:
            await asyncio.sleep(standin.delay_seconds)
        if failure is not None:
            return standin.error(failure, "SYSTEM_ERROR", "系统错误")
        why = standin.check_request(request.method, target, request.headers, body)
        if why is not None:
            return standin.error(401, "SIGN_ERROR", why)
        serial = request.headers.get("wechatpay-serial")
        if serial is not None and serial != standin.keys.public_key_id:
            return _bad(standin, "Wechatpay-Serial 不是有效的微信支付公钥ID")
        try:
            data: dict[str, Any] = json.loads(body) if body else {}
        except ValueError:
            return _bad(standin, "请求体不是有效的 JSON")
        path = request.url.path
        if request.method == "POST" and (
            m := re.fullmatch(r"/v3/pay/transactions/(native|jsapi|app)", path)
        ):
            return await _prepay(standin, m.group(1), data)
        if m := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", path):
            if request.query_params.get("mchid") != standin.keys.mchid:
                return _bad(standin, "mchid 必填且须与商户号一致")
            tx = standin.transactions.get(m.group(1))
            if tx is None:
                return standin.error(404, "ORDER_NOT_EXIST", "订单不存在")
            return standin.answer(200, standin.transaction_view(tx))
        if m := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)/close", path):
            if data.get("mchid") != standin.keys.mchid:
                return _bad(standin, "mchid 必填且须与商户号一致")
            tx = standin.transactions.get(m.group(1))
            if tx is None:
                return standin.error(404, "ORDER_NOT_EXIST", "订单不存在")
            if tx["trade_state"] in ("SUCCESS", "REFUND"):
                return standin.error(400, "ORDERPAID", "订单已支付")
            tx["trade_state"] = "CLOSED"
            return standin.answer(204)
        if request.method == "POST" and path == "/v3/refund/domestic/refunds":
            answer = await _refund(standin, data)
            if standin.hold_seconds:
                await asyncio.sleep(standin.hold_seconds)
            return answer
        if m := re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path):
            refund = standin.refunds.get(m.group(1))
            if refund is None:
                return standin.error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return standin.answer(200, standin.refund_view(refund))
        return standin.error(404, "NOT_FOUND", "接口不存在")

    async def customer_pays(request: Request) -> Response:
        no = request.path_params["out_trade_no"]
        if request.method == "GET":
            tx = standin.transactions.get(no)
            state = tx["trade_state"] if tx else "UNKNOWN"
            amount = f"{tx['amount']['total'] / 100:.2f}" if tx else "?"
            return HTMLResponse(
                f"<!doctype html><meta charset=utf-8><title>WeChat Pay stand-in</title>"
                f"<h1>微信支付 (stand-in)</h1><p>{no}: ¥{amount} — {state}</p>"
                f"<form method=post><button>确认支付 / Pay</button></form>"
            )
        note = standin.pay(no)
        if note is None:
            return standin.error(400, "ORDER_NOT_PAYABLE", "订单不存在或不是待支付")
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><p>paid: {no}</p>")

    async def refunds_settle(request: Request) -> Response:
        notes = [standin.finish_refund(no) for no in list(standin.refunds)]
        return standin.answer(200, {"notified": sum(1 for n in notes if n)})

    return Starlette(
        routes=[
            Route("/standin/pay/{out_trade_no}", customer_pays, methods=["GET", "POST"]),
            Route("/standin/refunds/settle", refunds_settle, methods=["POST"]),
            Route("/v3/{rest:path}", api, methods=["GET", "POST"]),
        ]
    )
