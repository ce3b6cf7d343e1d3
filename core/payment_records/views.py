"""A payment as its merchant's staff see it (`PaymentView`) and its mapper, `payment_schema`.
The instructions shown are those the customer was given when the payment was created."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.money import Money
from core.payment_records.models import Payment
from core.payments import PaymentInstructions


class PaymentView(BaseModel):
    """A payment as its merchant's staff see it (the counter polls it after showing the QR)."""

    reference: str = Field(description="The provider's out_trade_no")
    provider: str
    method: str
    kind: Literal["order", "topup", "count_pass"]
    subject_id: uuid.UUID = Field(description="The order, top-up or count pass paid for")
    status: Literal["pending", "succeeded", "failed", "closed"]
    amount: Money
    refunded: Money
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    closed_at: datetime | None
    payment: PaymentInstructions = Field(description="What the customer was given to pay")


def payment_schema(payment: Payment) -> PaymentView:
    return PaymentView(
        reference=payment.reference,
        provider=payment.provider,
        method=payment.method,
        kind=payment.kind,  # type: ignore[arg-type]  # CHECK kind_known
        subject_id=payment.subject_id,
        status=payment.status,  # type: ignore[arg-type]  # CHECK status_known
        amount=Money.of(payment.amount, payment.currency),
        refunded=Money.of(payment.refunded, payment.currency),
        created_at=payment.created_at,
        expires_at=payment.expires_at,
        paid_at=payment.paid_at,
        closed_at=payment.closed_at,
        payment=PaymentInstructions(
            **{"provider": payment.provider, "reference": payment.reference} | payment.instructions
        ),
    )
