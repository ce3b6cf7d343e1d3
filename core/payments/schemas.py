"""How the customer wants to pay (`PaymentRequest`, the body's `payment`) and what the client
needs to pay (`PaymentInstructions`, the answer's `payment`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.payments.interface import PaymentIntent, PaymentMethod


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
