"""Whether a coupon may be used now at a shop, shared by redemption and order reservation.

`refusal_of` answers the first reason a coupon cannot be used (already redeemed, reserved,
expired, not yet valid, shop not eligible, currency, minimum spend), or None; the caller raises
it. `already_redeemed` builds the 409 that tells when and where the coupon was redeemed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from core.errors import DomainError
from core.i18n import localised
from core.lean import Connection
from core.money import Money, format_money
from core.timezones import format_local
from coupons import discounts
from coupons.models import Campaign, Coupon
from coupons.repository.counter import live_redemption
from coupons.service.errors import (
    CouponAlreadyRedeemed,
    CouponExpired,
    CouponNotYetValid,
    CouponReserved,
    CurrencyMismatch,
    MinSpendNotMet,
    OrderAmountRequired,
    ShopNotEligible,
)


async def already_redeemed(connection: Connection, coupon_id: uuid.UUID) -> CouponAlreadyRedeemed:
    """Run on the caller's transaction (a lean route's connection, or an ORM session's through
    core.lean.connection_of), so the counter's checks have one implementation."""
    live = await live_redemption(connection, coupon_id)
    extra = {}
    text = localised("该优惠券已核销", "This coupon was already redeemed")
    if live is not None:
        redemption_id, shop_id, redeemed_at = live
        extra = {
            "redeemed_at": redeemed_at.isoformat(),
            "shop_id": str(shop_id) if shop_id else None,
            "redemption_id": str(redemption_id),
        }
        when = format_local(redeemed_at)
        text = localised(f"该优惠券已于 {when} 核销", f"This coupon was already redeemed at {when}")
    return CouponAlreadyRedeemed(text, extra=extra)


async def refusal_of(
    connection: Connection,
    coupon: Coupon,
    campaign: Campaign,
    *,
    shop_id: uuid.UUID,
    shop_of_merchant: bool,
    order_amount: Money | None,
    now: datetime,
) -> DomainError | None:
    if coupon.status == "redeemed":
        return await already_redeemed(connection, coupon.id)
    if coupon.status == "reserved":
        return CouponReserved()
    if coupon.valid_until <= now:
        until = format_local(coupon.valid_until)
        return CouponExpired(
            localised(f"优惠券已于 {until} 过期", f"The coupon expired at {until}"),
            extra={"valid_until": coupon.valid_until.isoformat()},
        )
    if coupon.valid_from > now:
        since = format_local(coupon.valid_from)
        return CouponNotYetValid(
            localised(f"优惠券自 {since} 起可用", f"The coupon is valid from {since}"),
            extra={"valid_from": coupon.valid_from.isoformat()},
        )
    if campaign.shop_ids is not None and shop_id not in campaign.shop_ids:
        return ShopNotEligible(extra={"shop_ids": [str(s) for s in campaign.shop_ids]})
    if not shop_of_merchant:
        return ShopNotEligible(
            localised("该门店不属于发券商户", "The shop is not one of the coupon's merchant")
        )
    if order_amount is not None and order_amount.currency != campaign.currency:
        return CurrencyMismatch(
            localised(f"优惠券币种为 {campaign.currency}", f"The coupon is in {campaign.currency}")
        )
    met = discounts.meets_min_spend(
        campaign.min_spend, order_amount.amount if order_amount else None
    )
    if met is None:
        return OrderAmountRequired(
            localised(
                f"最低消费{format_money(campaign.min_spend or 0, campaign.currency)}"
                "，请输入消费金额",
                f"Minimum spend {format_money(campaign.min_spend or 0, campaign.currency)}:"
                " enter the bill",
            )
        )
    if not met:
        return MinSpendNotMet(
            localised(
                f"最低消费{format_money(campaign.min_spend or 0, campaign.currency)}",
                f"Minimum spend {format_money(campaign.min_spend or 0, campaign.currency)}",
            ),
            extra={"min_spend": {"amount": campaign.min_spend, "currency": campaign.currency}},
        )
    return None
