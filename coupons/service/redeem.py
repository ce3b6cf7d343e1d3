"""The counter: look a coupon up, redeem it exactly once, reverse a redemption.

A forged QR or a mistyped code is refused before any database access. Redemption is one
conditional `UPDATE coupons … WHERE status = 'active' …` feeding the redemption INSERT in the
same statement; of concurrent attempts exactly one finds the row active, the others wait for
its commit, find nothing, and are told when and where the coupon was redeemed.

Lookup and redeem run on the transaction's driver connection (core.lean: the counter's lean
routes, no ORM unit of work); the coupon and campaign they load are detached objects that
are never flushed. Everything they write is a statement of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from core.errors import DomainError
from core.lean import Connection
from core.money import Money
from coupons import codes, discounts, schemas
from coupons.models import Campaign, Coupon, Redemption
from coupons.repository.counter import counter_lookup, coupon_status
from coupons.repository.counter import redeem as redeem_coupon
from coupons.repository.coupons import CouponRepository
from coupons.repository.redemptions import RedemptionRepository
from coupons.service.eligibility import already_redeemed, refusal_of
from coupons.service.errors import (
    CouponCodeInvalid,
    CouponExpired,
    CouponNotFound,
    CouponReserved,
    QrInvalid,
    RedemptionAlreadyReversed,
    RedemptionNotFound,
    ReversalWindowPassed,
)
from coupons.service.settings import get_settings
from coupons.service.views import coupon_schema, money
from customers import service as customers_service
from merchants import service as merchants_service


def code_of(data: schemas.CounterRequest, keys: list[tuple[str, bytes]]) -> str:
    """The coupon code the request designates (pure: no database)."""
    if data.qr is not None:
        code = codes.code_from_qr(data.qr, keys)
        if code is None:
            raise QrInvalid()
        return code
    assert data.code is not None
    code = codes.normalise(data.code)
    if not codes.is_valid(code):
        raise CouponCodeInvalid()
    return code


# Other things a customer shows at the counter (an order's code or QR) plug in here, so
# `POST /v1/counter/lookup` recognises them: a handler answers its own kind of code (e.g.
# `{"kind": "order", ...}`) or None when the code is not its kind. A valid coupon code or a
# genuine coupon QR never reaches a handler.
CounterLookup = Callable[
    [AsyncSession, uuid.UUID, schemas.CounterRequest, list[tuple[str, bytes]]],
    Awaitable[BaseModel | None],
]
_counter_lookups: dict[str, CounterLookup] = {}


def register_counter_lookup(kind: str, handler: CounterLookup) -> None:
    _counter_lookups[kind] = handler


def is_coupon(data: schemas.CounterRequest, keys: list[tuple[str, bytes]]) -> bool:
    """The request designates a coupon: a well-formed code or a genuine coupon QR."""
    if data.qr is not None:
        return codes.code_from_qr(data.qr, keys) is not None
    assert data.code is not None
    return codes.is_valid(codes.normalise(data.code))


async def lookup_other(
    session: AsyncSession,
    *,
    staff_user_id: uuid.UUID,
    data: schemas.CounterRequest,
    keys: list[tuple[str, bytes]],
) -> BaseModel:
    """The counter's lookup of something that is not a coupon: the first registered handler
    that recognises it, else the coupon refusal (a mistyped code, a forged QR)."""
    for handler in _counter_lookups.values():
        found = await handler(session, staff_user_id, data, keys)
        if found is not None:
            return found
    code_of(data, keys)  # raises: not a coupon's code or QR either
    raise AssertionError("is_coupon said otherwise")


@dataclass
class Evaluation:
    coupon: Coupon
    campaign: Campaign
    discount: int | None
    refusal: DomainError | None


async def _evaluate(
    connection: Connection,
    *,
    staff_user_id: uuid.UUID,
    data: schemas.CounterRequest,
    keys: list[tuple[str, bytes]],
    now: datetime,
) -> Evaluation:
    code = code_of(data, keys)
    # one round trip: the coupon with its campaign, the caller's role at the coupon's
    # merchant and whether the counter's shop is that merchant's (checked below, in order)
    found = await counter_lookup(
        connection,
        code,
        staff_user_id=staff_user_id,
        shop_id=data.shop_id,
        staff_role=accounts_service.staff_role_expression,
        shop_owned=merchants_service.shop_of_merchant_sql,
    )
    if found is None:
        raise CouponNotFound()
    coupon, campaign, role, shop_of_merchant = found
    # another merchant's coupon is not found, exactly like a code that does not exist
    if role is None:
        raise CouponNotFound()
    order = data.order_amount.amount if data.order_amount is not None else None
    discount = discounts.discount_for(
        campaign.discount_kind,
        amount=campaign.discount_amount,
        percent=campaign.discount_percent,
        max_off=campaign.max_off,
        order_amount=order,
    )
    refusal = await refusal_of(
        connection,
        coupon,
        campaign,
        shop_id=data.shop_id,
        shop_of_merchant=shop_of_merchant,
        order_amount=data.order_amount,
        now=now,
    )
    return Evaluation(coupon, campaign, discount, refusal)


def _applied(campaign: Campaign, amount: int | None) -> schemas.AppliedDiscount:
    return schemas.AppliedDiscount(
        kind=campaign.discount_kind,  # type: ignore[arg-type]
        amount=money(amount, campaign.currency),
        percent=campaign.discount_percent,
        max_off=money(campaign.max_off, campaign.currency),
        gift_name=campaign.gift_name,
    )


def _pay(order_amount: Money | None, discount: int | None) -> Money | None:
    if order_amount is None or discount is None:
        return None
    return Money.of(order_amount.amount - discount, order_amount.currency)


async def lookup(
    connection: Connection,
    *,
    staff_user_id: uuid.UUID,
    data: schemas.CounterRequest,
    keys: list[tuple[str, bytes]],
    now: datetime,
) -> schemas.Lookup:
    """What redeeming would do, changing nothing."""
    ev = await _evaluate(connection, staff_user_id=staff_user_id, data=data, keys=keys, now=now)
    refusal = None
    if ev.refusal is not None:
        title, detail = ev.refusal.texts()  # the reader's language, as in a problem body
        refusal = schemas.Refusal(
            code=ev.refusal.code,
            title=title,
            detail=detail,
            extra=ev.refusal.extra,
        )
    return schemas.Lookup(
        redeemable=refusal is None,
        refusal=refusal,
        coupon=coupon_schema(ev.coupon, ev.campaign, now=now),
        discount=_applied(ev.campaign, ev.discount),
        order_amount=data.order_amount,
        pay_amount=_pay(data.order_amount, ev.discount),
    )


async def redeem(
    connection: Connection,
    *,
    staff_user_id: uuid.UUID,
    data: schemas.CounterRequest,
    keys: list[tuple[str, bytes]],
    now: datetime,
) -> schemas.RedeemResult:
    ev = await _evaluate(connection, staff_user_id=staff_user_id, data=data, keys=keys, now=now)
    if ev.refusal is not None:
        raise ev.refusal
    coupon, campaign = ev.coupon, ev.campaign
    # without an order amount an unknowable percentage counts as 0 off in the records
    discount = ev.discount or 0
    order = data.order_amount.amount if data.order_amount is not None else None
    row = await redeem_coupon(
        connection,
        coupon.id,
        merchant_id=coupon.merchant_id,
        shop_id=data.shop_id,
        staff_user_id=staff_user_id,
        order_amount=order,
        discount_amount=discount,
        currency=campaign.currency,
        now=now,
    )
    if row is None:
        # lost a race (or the window closed between the read and the update)
        status = await coupon_status(connection, coupon.id)
        if status == "redeemed":
            raise await already_redeemed(connection, coupon.id)
        if status == "reserved":
            raise CouponReserved()
        raise CouponExpired()
    # a detached object (see the module's docstring): never flushed
    coupon.status, coupon.redeemed_at = "redeemed", row.redeemed_at
    if coupon.user_id is not None:
        await customers_service.record_activity(
            connection,
            merchant_id=coupon.merchant_id,
            user_id=coupon.user_id,
            kind="coupon_redeemed",
            at=now,
            spend=max(0, order - discount) if order is not None else 0,
            currency=campaign.currency,
            reference_id=row.id,
        )
    return schemas.RedeemResult(
        redemption_id=row.id,
        coupon=coupon_schema(coupon, campaign, now=now),
        discount=_applied(campaign, ev.discount),
        order_amount=data.order_amount,
        pay_amount=_pay(data.order_amount, ev.discount),
        shop_id=data.shop_id,
        redeemed_at=row.redeemed_at,
    )


def redemption_schema(r: Redemption) -> schemas.Redemption:
    return schemas.Redemption(
        id=r.id,
        coupon_id=r.coupon_id,
        campaign_id=r.campaign_id,
        shop_id=r.shop_id,
        staff_user_id=r.staff_user_id,
        order_amount=money(r.order_amount, r.currency),
        discount=Money.of(r.discount_amount, r.currency),
        redeemed_at=r.redeemed_at,
        reversed_at=r.reversed_at,
        reversed_by=r.reversed_by,
        reversal_reason=r.reversal_reason,
    )


async def redemption_merchant(session: AsyncSession, *, redemption_id: uuid.UUID) -> uuid.UUID:
    found = await RedemptionRepository(session).get(redemption_id)
    if found is None:
        raise RedemptionNotFound()
    return found.merchant_id


async def reverse(
    session: AsyncSession,
    *,
    redemption_id: uuid.UUID,
    merchant_id: uuid.UUID,
    by: uuid.UUID,
    reason: str | None,
    now: datetime,
) -> schemas.Redemption:
    """Undo a redemption within the merchant's window: the coupon becomes active again and
    the redemption row keeps who reversed it, when and why. The customer record's visit and
    spend are not rolled back (customers.record_activity only adds)."""
    window = (await get_settings(session, merchant_id=merchant_id)).reversal_window_minutes
    repo = RedemptionRepository(session)
    reversed_row = await repo.reverse(
        redemption_id,
        merchant_id=merchant_id,
        by=by,
        reason=reason,
        now=now,
        not_before=now - timedelta(minutes=window),
    )
    if reversed_row is None:
        current = await repo.get(redemption_id)
        if current is None or current.merchant_id != merchant_id:
            raise RedemptionNotFound()
        if current.reversed_at is not None:
            raise RedemptionAlreadyReversed(extra={"reversed_at": current.reversed_at.isoformat()})
        raise ReversalWindowPassed(
            f"Redemptions can be reversed within {window} minutes",
            extra={"reversal_window_minutes": window},
        )
    await CouponRepository(session).reactivate(reversed_row.coupon_id)
    return redemption_schema(reversed_row)


@dataclass(frozen=True)
class RedemptionRef:
    id: uuid.UUID
    merchant_id: uuid.UUID
    shop_id: uuid.UUID
    campaign_id: uuid.UUID
    redeemed_at: datetime


async def redemption_of_user_at_shop(
    session: AsyncSession, *, redemption_id: uuid.UUID, user_id: uuid.UUID, shop_id: uuid.UUID
) -> RedemptionRef | None:
    """For verified reviews: the user's own, not reversed, redemption at that shop (or None)."""
    r = await RedemptionRepository(session).of_user_at_shop(
        redemption_id, user_id=user_id, shop_id=shop_id
    )
    if r is None or r.shop_id is None:
        return None
    return RedemptionRef(r.id, r.merchant_id, r.shop_id, r.campaign_id, r.redeemed_at)
