"""Creating and reading payments.

A payment is created (the provider called, the row inserted) in the transaction that creates
the thing it pays for; if that transaction rolls back, the provider's unpaid order is closed by
the reconciliation job's query. Reads re-read the row (`populate_existing`): callers decide on
the payment's state after a possible race.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.payment_records.models import Payment
from core.payment_records.views import PaymentView, payment_schema
from core.payments import (
    Checkout,
    PaymentIntent,
    PaymentMethodUnsupported,
    PaymentProviderFailed,
    PaymentReferenceUnknown,
    ProviderError,
    payment_reference,
)

log = structlog.get_logger("corner.payments")

DEFAULT_METHODS = {"fake": "page", "wechatpay": "native", "alipay": "precreate"}


async def start_payment(
    session: AsyncSession,
    checkout: Checkout,
    *,
    kind: str,
    subject_id: uuid.UUID,
    merchant_id: uuid.UUID,
    prefix: str,
    amount: int,
    currency: str,
    description: str,
) -> PaymentIntent:
    """Ask the provider for a payment and record it (in the caller's transaction: if that
    rolls back, the provider's unpaid order is closed by the reconciliation job's query)."""
    provider, request, now = checkout.provider, checkout.request, checkout.now
    expires_at = checkout.expires_at
    method = (request.method if request else None) or DEFAULT_METHODS.get(provider.name, "page")
    methods: tuple[str, ...] = getattr(provider, "methods", ())
    if method not in methods:
        raise PaymentMethodUnsupported(
            f"{provider.name} offers {', '.join(methods)}", loc=["body", "payment", "method"]
        )
    openid = request.openid if request else None
    if method == "jsapi" and not openid:
        raise PaymentMethodUnsupported(
            "JSAPI payments need the payer's openid", loc=["body", "payment", "openid"]
        )
    reference = payment_reference(prefix, subject_id)
    try:
        intent = await provider.create_payment(
            reference=reference,
            amount=amount,
            currency=currency,
            description=description[:127],
            method=method,
            openid=openid,
            expires_at=expires_at,
        )
    except ProviderError as exc:
        log.warning("payment_create_failed", provider=provider.name, error=str(exc))
        raise PaymentProviderFailed(str(exc), extra={"provider_code": exc.code}) from exc
    session.add(
        Payment(
            merchant_id=merchant_id,
            kind=kind,
            subject_id=subject_id,
            provider=provider.name,
            method=method,
            reference=intent.reference,
            amount=amount,
            currency=currency,
            status="pending",
            instructions=intent.instructions(),
            expires_at=expires_at,
            next_query_at=min(
                expires_at, now + timedelta(minutes=checkout.settings.payment_query_minutes)
            ),
        )
    )
    await session.flush()
    return intent


async def payment_of(session: AsyncSession, reference: str) -> Payment | None:
    stmt = select(Payment).where(Payment.reference == reference)
    return (
        await session.execute(stmt, execution_options={"populate_existing": True})
    ).scalar_one_or_none()


async def merchant_of_payment(session: AsyncSession, *, reference: str) -> uuid.UUID:
    """The merchant paid (for `accounts.permissions.staff_of`); unknown: payment_not_found."""
    merchant_id = (
        await session.execute(select(Payment.merchant_id).where(Payment.reference == reference))
    ).scalar_one_or_none()
    if merchant_id is None:
        raise PaymentReferenceUnknown()
    return merchant_id


async def get_payment(session: AsyncSession, *, reference: str) -> PaymentView:
    payment = await payment_of(session, reference)
    if payment is None:
        raise PaymentReferenceUnknown()
    return payment_schema(payment)
