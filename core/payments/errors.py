"""The payment errors (problem+json with stable codes and zh/en titles)."""

from __future__ import annotations

from core.errors import DomainError, InvalidInput, NotFound


class PaymentSignatureInvalid(DomainError):
    status, code = 401, "payment_signature_invalid"
    title, title_zh = "The payment callback signature is not valid", "支付回调签名无效"


class PaymentAmountMismatch(DomainError):
    status, code = 409, "payment_amount_mismatch"
    title, title_zh = "The callback does not match the payment", "支付回调与支付记录不符"


class PaymentProviderUnknown(NotFound):
    code, title, title_zh = "payment_provider_unknown", "Unknown payment provider", "未知支付渠道"


class PaymentProviderUnavailable(InvalidInput):
    code = "payment_provider_unavailable"
    title, title_zh = "This payment provider is not available", "该支付渠道不可用"


class PaymentMethodUnsupported(InvalidInput):
    code = "payment_method_unsupported"
    title, title_zh = "The provider does not offer this payment method", "该支付渠道不支持此方式"


class PaymentReferenceUnknown(NotFound):
    code, title, title_zh = "payment_not_found", "No payment has this reference", "支付记录不存在"


class PaymentProviderFailed(DomainError):
    status, code = 502, "payment_provider_failed"
    title, title_zh = "The payment provider did not accept the payment", "支付渠道下单失败"
