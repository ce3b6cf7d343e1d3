"""The payment provider interface (orders, card top-ups, count-card purchases), the local fake
provider, and the dispatch of verified provider callbacks to the package that owns the payment.

A provider (the fake one here, WeChat Pay in core/providers/wechatpay.py, …) creates a payment
for a reference (WeChat Pay's `out_trade_no`: at most 32 characters of `[0-9A-Za-z_-]`, so every
reference is built by `payment_reference`), later calls us back with the outcome (signed),
answers queries, closes unpaid payments and refunds with an idempotency key of ours
(`refund_no`, WeChat Pay's `out_refund_no`): the same key twice refunds once.

Invariants of the callback path (`dispatch_callback`):
- nothing changes unless the provider's signature verifies and the payment it names is ours,
  for the same amount and currency (`core.payment_records` keeps every payment);
- a payment's state moves only by conditional UPDATEs, so a replayed, duplicated or
  out-of-order callback changes nothing; every refusal and every no-op is logged (structlog and
  the `payment_events` table, committed with the answer).

Split by concept, every public name re-exported here: `interface` (the provider protocol and
what it answers), `fake` (the local provider), `registry` (providers by name, callback
handlers by reference prefix), `schemas`, `errors`, `routes` (PaymentProviderDep,
StartsPayment).
"""

from __future__ import annotations

from core.payments.errors import (
    PaymentAmountMismatch,
    PaymentMethodUnsupported,
    PaymentProviderFailed,
    PaymentProviderUnavailable,
    PaymentProviderUnknown,
    PaymentReferenceUnknown,
    PaymentSignatureInvalid,
)
from core.payments.fake import FakePaymentProvider
from core.payments.interface import (
    PROVIDERS,
    SIGNATURE_HEADER,
    CallbackAnswer,
    CallbackEvent,
    CallbackRejected,
    PaymentIntent,
    PaymentMethod,
    PaymentProvider,
    ProviderError,
    RefundResult,
    payment_reference,
)
from core.payments.registry import (
    PROVIDER_FACTORIES,
    CallbackHandler,
    FastCallbackHandler,
    fast_handler_for,
    handler_for,
    payment_provider,
    register_callback_handler,
)
from core.payments.routes import (
    Checkout,
    PaymentProviderDep,
    PaymentStart,
    StartsPayment,
    chosen_provider,
    named_provider,
    payment_start,
)
from core.payments.schemas import PaymentInstructions, PaymentRequest, instructions_schema

__all__ = [
    "PROVIDERS",
    "PROVIDER_FACTORIES",
    "SIGNATURE_HEADER",
    "CallbackAnswer",
    "CallbackEvent",
    "CallbackHandler",
    "CallbackRejected",
    "Checkout",
    "FakePaymentProvider",
    "FastCallbackHandler",
    "PaymentAmountMismatch",
    "PaymentInstructions",
    "PaymentIntent",
    "PaymentMethod",
    "PaymentMethodUnsupported",
    "PaymentProvider",
    "PaymentProviderDep",
    "PaymentProviderFailed",
    "PaymentProviderUnavailable",
    "PaymentProviderUnknown",
    "PaymentReferenceUnknown",
    "PaymentRequest",
    "PaymentSignatureInvalid",
    "PaymentStart",
    "ProviderError",
    "RefundResult",
    "StartsPayment",
    "chosen_provider",
    "fast_handler_for",
    "handler_for",
    "instructions_schema",
    "named_provider",
    "payment_provider",
    "payment_reference",
    "payment_start",
    "register_callback_handler",
]
