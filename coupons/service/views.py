"""Rows to API shapes."""

from __future__ import annotations

from datetime import datetime

from core.money import Money
from coupons import codes, schemas
from coupons.models import Campaign, Coupon


def discount_of(campaign: Campaign) -> schemas.AmountOff | schemas.PercentOff | schemas.Gift:
    if campaign.discount_kind == "amount_off":
        assert campaign.discount_amount is not None
        return schemas.AmountOff(
            kind="amount_off", value=Money.of(campaign.discount_amount, campaign.currency)
        )
    if campaign.discount_kind == "percent_off":
        assert campaign.discount_percent is not None
        return schemas.PercentOff(
            kind="percent_off",
            value=campaign.discount_percent,
            max_off=money(campaign.max_off, campaign.currency),
        )
    return schemas.Gift(kind="gift", gift_name=campaign.gift_name or "")


def money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money.of(amount, currency)


def audience_of(campaign: Campaign) -> schemas.Audience:
    kind = campaign.audience_kind
    if kind == "customers":
        return schemas.CustomersAudience(
            kind="customers", user_ids=list(campaign.audience_user_ids or [])
        )
    if kind == "tiers":
        return schemas.TiersAudience(kind="tiers", **campaign.audience)
    if kind == "segment":
        return schemas.SegmentAudience(kind="segment", **campaign.audience)
    return schemas.PublicAudience(kind="public")


def is_claimable(campaign: Campaign, now: datetime) -> bool:
    return (
        campaign.status == "published"
        and campaign.claim_until > now
        and campaign.valid_until > now
        and (campaign.total_quantity is None or campaign.handed_out < campaign.total_quantity)
    )


def campaign_schema(campaign: Campaign, *, staff: bool, now: datetime) -> schemas.Campaign:
    remaining = (
        None
        if campaign.total_quantity is None
        else max(0, campaign.total_quantity - campaign.handed_out)
    )
    audience: schemas.Audience | schemas.AudienceSummary = (
        audience_of(campaign) if staff else schemas.AudienceSummary(kind=campaign.audience_kind)  # type: ignore[arg-type]
    )
    return schemas.Campaign(
        id=campaign.id,
        merchant_id=campaign.merchant_id,
        name=campaign.name,
        description=campaign.description,
        status=campaign.status,  # type: ignore[arg-type]
        discount=discount_of(campaign),
        min_spend=money(campaign.min_spend, campaign.currency),
        valid_from=campaign.valid_from,
        valid_until=campaign.valid_until,
        claim_until=campaign.claim_until,
        total_quantity=campaign.total_quantity,
        remaining=remaining,
        per_user_limit=campaign.per_user_limit,
        audience=audience,
        shop_ids=campaign.shop_ids,
        flash=campaign.flash,
        claimable_now=is_claimable(campaign, now),
        created_at=campaign.created_at,
        published_at=campaign.published_at,
        ended_at=campaign.ended_at,
    )


def campaign_summary(campaign: Campaign) -> schemas.CampaignSummary:
    return schemas.CampaignSummary(
        id=campaign.id,
        merchant_id=campaign.merchant_id,
        name=campaign.name,
        discount=discount_of(campaign),
        min_spend=money(campaign.min_spend, campaign.currency),
        shop_ids=campaign.shop_ids,
        flash=campaign.flash,
    )


def coupon_status(coupon: Coupon, now: datetime) -> str:
    if coupon.status == "active" and coupon.valid_until <= now:
        return "expired"
    return coupon.status


def coupon_schema(coupon: Coupon, campaign: Campaign, *, now: datetime) -> schemas.Coupon:
    return schemas.Coupon(
        id=coupon.id,
        campaign_id=coupon.campaign_id,
        merchant_id=coupon.merchant_id,
        code=coupon.code,
        code_display=codes.display(coupon.code),
        status=coupon_status(coupon, now),  # type: ignore[arg-type]
        source=coupon.source,  # type: ignore[arg-type]
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        issued_at=coupon.issued_at,
        redeemed_at=coupon.redeemed_at,
        campaign=campaign_summary(campaign),
    )
