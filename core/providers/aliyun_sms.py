"""SMS through Alibaba Cloud SMS (`alibabacloud-dysmsapi20170525`, the `SendSms` action), behind
core.sms (`CORNER_SMS_PROVIDER=aliyun`).

Why Aliyun rather than Tencent Cloud: its `SendSms` takes exactly what SPEC §13's settings name
— an access key id/secret, a sign name and a template code per kind — with the template's
parameters as named JSON (core.sms messages carry named `params`); Tencent Cloud's `SendSms`
also needs an SMS application id (no setting for it) and positional template parameters.

- The SDK signs each request with ACS3-HMAC-SHA256 (access key secret); the endpoint is
  `CORNER_SMS_ENDPOINT` (`dysmsapi.aliyuncs.com`; an `http://host:port` form for the local
  stand-in, core/standins/aliyun_sms.py).
- One template per kind (`CORNER_SMS_TEMPLATES=login_code:SMS_1,…`); a message may carry the
  merchant's own signature (`sign_name`), else `CORNER_SMS_SIGN_NAME`.
- Never raises for a refusal: `SmsResult.retryable` says whether trying later can help
  (throttling, server errors, network) or not (bad number, template, signature, credentials);
  the push outbox records failures and retries the retryable ones.
"""

from __future__ import annotations

import json
import uuid

import structlog

from core.settings import Settings
from core.sms import SmsMessage, SmsResult, register_sms_provider

log = structlog.get_logger("corner.sms")
RETRYABLE_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "SYSTEM_ERROR"}


def aliyun_number(e164: str) -> str:
    """Aliyun's form of a number: mainland numbers bare, others with their country code."""
    digits = e164.removeprefix("+")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


class AliyunSmsSender:
    def __init__(self, settings: Settings) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as open_api_models

        assert settings.sms_access_key_id and settings.sms_access_key_secret
        endpoint = settings.sms_endpoint or "dysmsapi.aliyuncs.com"
        protocol = "http" if endpoint.startswith("http://") else "https"
        config = open_api_models.Config(
            access_key_id=settings.sms_access_key_id,
            access_key_secret=settings.sms_access_key_secret.get_secret_value(),
            endpoint=endpoint.removeprefix("http://").removeprefix("https://").rstrip("/"),
            protocol=protocol,
            read_timeout=int(settings.payment_http_timeout_seconds * 1000),
            connect_timeout=5000,
        )
        self._client = Client(config)
        self._templates = settings.sms_template_map()
        self._sign_name = settings.sms_sign_name

    async def send(self, message: SmsMessage) -> SmsResult:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_openapi.exceptions import (
            ClientException,
            ServerException,
            ThrottlingException,
        )

        template = self._templates.get(message.kind)
        sign_name = message.sign_name or self._sign_name
        if template is None or not sign_name:
            return SmsResult(ok=False, error=f"no template or signature for {message.kind}")
        request = models.SendSmsRequest(
            phone_numbers=aliyun_number(message.to),
            sign_name=sign_name,
            template_code=template,
            template_param=json.dumps(message.params, ensure_ascii=False),
            out_id=uuid.uuid4().hex,
        )
        try:
            answer = await self._client.send_sms_async(request)
        except ThrottlingException as exc:
            return SmsResult(ok=False, error=f"throttled:{exc.code}", retryable=True)
        except ClientException as exc:  # signature, credentials, parameters: not by waiting
            log.error("sms_refused", code=exc.code)
            return SmsResult(ok=False, error=f"refused:{exc.code}")
        except ServerException as exc:
            return SmsResult(ok=False, error=f"server:{exc.code}", retryable=True)
        except Exception as exc:  # transport errors: the SDK wraps them in its own types
            return SmsResult(ok=False, error=f"unreachable:{type(exc).__name__}", retryable=True)
        body = answer.body
        if body is not None and body.code == "OK":
            return SmsResult(ok=True, provider_id=body.biz_id)
        code = body.code if body is not None else "no_body"
        return SmsResult(ok=False, error=str(code), retryable=code in RETRYABLE_CODES)

    async def aclose(self) -> None:
        return None


register_sms_provider("aliyun", AliyunSmsSender)
