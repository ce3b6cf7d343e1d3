"""Coupons applied to online orders: reserved when the order is placed, redeemed when it is
paid, active again when it is cancelled or expires (or when a paid order is refunded).

Every step is one conditional UPDATE keyed by the order, so a reserved coupon can be neither
redeemed at the counter nor applied to a second order, and a late or repeated step changes
nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import localised
from core.lean import connection_of
from core.money import Money
from coupons import codes, discounts
from coupons.repository.coupons import CouponRepository
from coupons.repository.redemptions import RedemptionRepository
from coupons.service.eligibility import already_redeemed, refusal_of
from coupons.service.errors import (
    CouponCodeInvalid,
    CouponExpired,
    CouponNotFound,
    CouponReserved,
    ShopNotEligible,
)


@dataclass(frozen=True)
class Reservation:
    coupon_id: uuid.UUID
    code: str
    campaign_id: uuid.UUID
    campaign_name: str
    discount: int
    currency: str


async def reserve_for_order(
    session: AsyncSession,
    *,
    code: str,
    user_id: uuid.UUID,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID,
    order_id: uuid.UUID,
    order_amount: Money,
    now: datetime,
) -> Reservation:
    """Hold the holder's coupon for the order and say how much it takes off."""
    normalised = codes.normalise(code)
    if not codes.is_valid(normalised):
        raise CouponCodeInvalid()
    repo = CouponRepository(session)
    found = await repo.by_code(normalised)
    # someone else's coupon is not found, exactly like a code that does not exist
    if found is None or found[0].user_id != user_id:
        raise CouponNotFound()
    coupon, campaign = found
    if coupon.merchant_id != merchant_id:
        raise ShopNotEligible(
            localised("该优惠券属于其他商户", "The coupon is for another merchant")
        )
    # the order's shop is the merchant's (orders resolve merchant_id from the shop) and the
    # coupon's merchant was just checked against it
    # the counter's checks, run on this session's transaction
    connection = await connection_of(session)
    refusal = await refusal_of(
        connection,
        coupon,
        campaign,
        shop_id=shop_id,
        shop_of_merchant=True,
        order_amount=order_amount,
        now=now,
    )
    if refusal is not None:
        raise refusal
    discount = discounts.discount_for(
        campaign.discount_kind,
        amount=campaign.discount_amount,
        percent=campaign.discount_percent,
        max_off=campaign.max_off,
        order_amount=order_amount.amount,
    )
    if not await repo.reserve(coupon.id, user_id=user_id, order_id=order_id, now=now):
        # lost a race with the counter or another order
        fresh = await repo.get(coupon.id)
        status = fresh[0].status if fresh is not None else None
        if status == "reserved":
            raise CouponReserved()
        if status == "redeemed":
            raise await already_redeemed(connection, coupon.id)
        raise CouponExpired()
    return Reservation(
        coupon.id, coupon.code, campaign.id, campaign.name, discount or 0, campaign.currency
    )


async def release_order_coupon(
    session: AsyncSession, *, coupon_id: uuid.UUID, order_id: uuid.UUID
) -> bool:
    """The order was cancelled or expired: the coupon is the holder's to use again."""
    return await CouponRepository(session).release(coupon_id, order_id=order_id)


async def redeem_order_coupon(
    session: AsyncSession,
    *,
    coupon_id: uuid.UUID,
    order_id: uuid.UUID,
    shop_id: uuid.UUID,
    order_amount: int,
    discount: int,
    currency: str,
    now: datetime,
) -> uuid.UUID | None:
    """The order was paid: its reserved coupon is redeemed (the redemption row's id), even if
    the coupon's window closed since the order was placed (the discount was promised then)."""
    row = await CouponRepository(session).redeem_reserved(
        coupon_id,
        order_id=order_id,
        shop_id=shop_id,
        order_amount=order_amount,
        discount_amount=discount,
        currency=currency,
        now=now,
    )
    return row.id if row is not None else None


async def reverse_order_redemption(
    session: AsyncSession,
    *,
    redemption_id: uuid.UUID,
    order_id: uuid.UUID,
    by: uuid.UUID | None,
    now: datetime,
) -> bool:
    """A paid order was refunded: its redemption is reversed and the coupon active again."""
    reversed_row = await RedemptionRepository(session).reverse_of_order(
        redemption_id, order_id=order_id, by=by, now=now
    )
    if reversed_row is None:
        return False
    await CouponRepository(session).reactivate(reversed_row.coupon_id)
    return True
