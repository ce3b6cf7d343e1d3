"""Moved to `core.payments` (shared by top-ups and orders); kept as an alias for imports."""

from core.payments import (
    SIGNATURE_HEADER,
    CallbackEvent,
    CallbackRejected,
    FakePaymentProvider,
    PaymentIntent,
    PaymentProvider,
    payment_provider,
)

__all__ = [
    "SIGNATURE_HEADER",
    "CallbackEvent",
    "CallbackRejected",
    "FakePaymentProvider",
    "PaymentIntent",
    "PaymentProvider",
    "payment_provider",
]
