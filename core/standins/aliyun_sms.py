"""A local stand-in of Alibaba Cloud SMS's `SendSms` (RPC style, API version 2017-05-25).

It checks what the service checks: the ACS3-HMAC-SHA256 `Authorization` (the access key id
known, the signed headers present, `x-acs-content-sha256` equal to the body's hash, and the
signature recomputed over the canonical request with the access key secret), `x-acs-action`
and `x-acs-version`, an `x-acs-date` within 15 minutes and a nonce never seen before; then the
fields: a mainland number, a sign name approved for the account of the signing access key
(`isv.SMS_SIGNATURE_ILLEGAL`, "该账号下找不到对应签名", for another account's or an unknown one),
a template code, and a `TemplateParam` JSON that fills every `${name}` of the template.
Answers as the service does: HTTP 400 `SignatureDoesNotMatch`/… for authentication, HTTP 200
with `Code` `OK` and a `BizId`, or a business `Code` such as `isv.MOBILE_NUMBER_ILLEGAL`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ALGORITHM = "ACS3-HMAC-SHA256"
MAINLAND = re.compile(r"^1[3-9]\d{9}$")


def canonical_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(params))


@dataclass
class AliyunSmsStandin:
    access_key_id: str = "LTAI5tStandinKeyId000000"
    access_key_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    sign_names: set[str] = field(default_factory=lambda: {"街角"})  # approved for this key
    # other accounts: access key id -> (secret, the signatures approved for that account)
    other_accounts: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    templates: dict[str, str] = field(
        default_factory=lambda: {
            "SMS_100000001": "您的登录验证码为${code}，${minutes}分钟内有效。",
            "SMS_100000002": "您正在重置密码，验证码为${code}，${minutes}分钟内有效。",
            "SMS_100000003": "${title}：${body}",
            "SMS_100000004": "${title}：${body}",
            "SMS_100000005": "${body}",
        }
    )
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    fail_next: list[str] = field(default_factory=list)  # business codes to answer next

    def settings(self, endpoint: str) -> dict[str, Any]:
        """CORNER_SMS_* values pointing at this stand-in (`endpoint`: http://host:port)."""
        kinds = ["login_code", "reset_code", "flash_offer", "booking_reminder", "follow_up"]
        return {
            "sms_provider": "aliyun",
            "sms_access_key_id": self.access_key_id,
            "sms_access_key_secret": self.access_key_secret,
            "sms_sign_name": "街角",
            "sms_templates": ",".join(
                f"{k}:{c}" for k, c in zip(kinds, self.templates, strict=True)
            ),
            "sms_endpoint": endpoint,
        }

    def error(self, status: int, code: str, message: str) -> Response:
        self.refused.append(code)
        body = {"Code": code, "Message": message, "RequestId": secrets.token_hex(16).upper()}
        return JSONResponse(body, status_code=status)

    def check(self, method: str, path: str, query: list[tuple[str, str]],
              headers: dict[str, str], body: bytes) -> Response | None:  # fmt: skip
        auth = headers.get("authorization", "")
        match = re.fullmatch(
            ALGORITHM + r" Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})", auth
        )
        if match is None:
            return self.error(400, "IncompleteSignature", "The request signature is incomplete.")
        key_id, signed, signature = match.groups()
        secret = self.secret_of(key_id)
        if secret is None:
            return self.error(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        names = signed.split(";")
        required = {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date",
                    "x-acs-signature-nonce", "x-acs-version"}  # fmt: skip
        if not required <= set(names) or names != sorted(names):
            return self.error(400, "IncompleteSignature", "Required headers are not signed.")
        digest = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256") != digest:
            return self.error(400, "SignatureDoesNotMatch", "Payload hash does not match.")
        canonical = "\n".join([
            method, path, canonical_query(query),
            "".join(f"{n}:{headers.get(n, '').strip()}\n" for n in names), signed, digest,
        ])  # fmt: skip
        to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), signature):
            return self.error(400, "SignatureDoesNotMatch", "Specified signature is not matched.")
        try:
            at = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return self.error(400, "InvalidTimeStamp.Format", "Specified time stamp is invalid.")
        if abs((datetime.now(UTC) - at).total_seconds()) > 15 * 60:
            return self.error(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
        nonce = headers["x-acs-signature-nonce"]
        if nonce in self.nonces:
            return self.error(400, "SignatureNonceUsed", "Specified signature nonce was used.")
        self.nonces.add(nonce)
        if headers.get("x-acs-action") != "SendSms" or headers.get("x-acs-version") != "2017-05-25":
            return self.error(400, "InvalidAction.NotFound", "Specified api is not found.")
        return None

    def secret_of(self, key_id: str) -> str | None:
        if key_id == self.access_key_id:
            return self.access_key_secret
        return self.other_accounts[key_id][0] if key_id in self.other_accounts else None

    def signs_of(self, key_id: str) -> set[str]:
        if key_id == self.access_key_id:
            return self.sign_names
        return self.other_accounts[key_id][1] if key_id in self.other_accounts else set()

    def send_sms(self, params: dict[str, str], key_id: str | None = None) -> Response:
        def answer(code: str, message: str) -> Response:
            if code != "OK":
                self.refused.append(code)
            return JSONResponse({"Code": code, "Message": message,
                                 "RequestId": secrets.token_hex(16).upper()}
                                | ({"BizId": params["BizId"]} if code == "OK" else {}))  # fmt: skip

        if self.fail_next:
            return answer(self.fail_next.pop(0), "stand-in scripted failure")
        number = params.get("PhoneNumbers", "")
        if not MAINLAND.match(number):
            return answer("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if params.get("SignName") not in self.signs_of(key_id or self.access_key_id):
            return answer("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = self.templates.get(params.get("TemplateCode", ""))
        if template is None:
            return answer("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return answer("isv.INVALID_JSON_PARAM", "JSON参数不合法")
        names = re.findall(r"\$\{(\w+)\}", template)
        if not isinstance(values, dict) or any(n not in values for n in names):
            return answer("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        text = re.sub(r"\$\{(\w+)\}", lambda m: str(values[m.group(1)]), template)
        params["BizId"] = f"{secrets.randbelow(10**15):015d}^0"
        sign = params["SignName"]
        self.sent.append(
            {"to": number, "sign": sign, "text": f"【{sign}】{text}",
             "template": params["TemplateCode"], "biz_id": params["BizId"]}
        )  # fmt: skip
        return answer("OK", "OK")


def create_app(standin: AliyunSmsStandin) -> Starlette:
    async def rpc(request: Request) -> Response:
        body = await request.body()
        query = parse_qsl(request.url.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in request.headers.items()}
        refused = standin.check(request.method, request.url.path, query, headers, body)
        if refused is not None:
            return refused
        params = dict(query) | dict(parse_qsl(body.decode(), keep_blank_values=True))
        key_id = re.search(r"Credential=([^,]+)", headers["authorization"])
        return standin.send_sms(params, key_id.group(1) if key_id else None)

    return Starlette(routes=[Route("/", rpc, methods=["POST"])])
