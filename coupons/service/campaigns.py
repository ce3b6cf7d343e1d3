"""Campaign design and lifecycle (draft → published ⇄ paused → ended) and the reads of one
merchant's campaigns.

A status change is one conditional UPDATE (`TRANSITIONS` says from where each status may be
reached), so concurrent transitions cannot both apply; a live campaign's edits only widen what
holders were promised (`LIVE_EDITABLE`: no shorter validity, no quantity below the claimed).
Stats (`stats`), settings (`settings`) and the shop page's offers (`shop_offers`) are beside.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from core.errors import InvalidInput
from core.pagination import decode_cursor_as, page_from_rows, uuid_value
from core.timezones import zone
from coupons import schemas
from coupons.models import Campaign
from coupons.repository.campaigns import CampaignRepository
from coupons.repository.coupons import CouponRepository
from coupons.service.errors import (
    CampaignNotEditable,
    CampaignNotFound,
    CampaignTransitionInvalid,
    CurrencyMismatch,
    QuantityBelowClaimed,
    ValidityShortened,
)
from coupons.service.views import campaign_schema
from merchants import service as merchants_service

# lifecycle: target status -> the statuses it may be reached from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "published": ("draft", "paused"),
    "paused": ("published",),
    "ended": ("draft", "published", "paused"),
}


def to_instant(value: datetime | date, timezone: str, *, end_of_day: bool = False) -> datetime:
    """A local date/date-time in the merchant's timezone (or an aware one) as an instant.

    A bare date as an end bound (`valid_until`, `claim_until`) includes that whole local day,
    so it becomes the next local midnight (bounds are exclusive)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone(timezone))
    day = value + timedelta(days=1) if end_of_day else value
    return datetime.combine(day, time(0), tzinfo=zone(timezone))


def _currency(data: schemas.CampaignCreate) -> str:
    amounts = [data.min_spend]
    if isinstance(data.discount, schemas.AmountOff):
        amounts.append(data.discount.value)
    elif isinstance(data.discount, schemas.PercentOff):
        amounts.append(data.discount.max_off)
    currencies = {m.currency for m in amounts if m is not None}
    if len(currencies) > 1:
        raise CurrencyMismatch("discount, max_off and min_spend must use one currency")
    return currencies.pop() if currencies else "CNY"


async def _designed_values(
    session: AsyncSession, *, merchant_id: uuid.UUID, data: schemas.CampaignCreate
) -> dict[str, Any]:
    """The campaign columns a design (`CampaignCreate`) stands for, checked: for a new
    campaign and for a draft edited by PATCH (which re-checks the whole merged design)."""
    timezone = await accounts_service.merchant_timezone(session, merchant_id=merchant_id)
    valid_from = to_instant(data.valid_from, timezone)
    valid_until = to_instant(data.valid_until, timezone, end_of_day=True)
    claim_until = (
        valid_until
        if data.claim_until is None
        else to_instant(data.claim_until, timezone, end_of_day=True)
    )
    if valid_until <= valid_from:
        raise InvalidInput("valid_until must be after valid_from", loc=["body", "valid_until"])
    if claim_until > valid_until:
        raise InvalidInput("claim_until must not be after valid_until", loc=["body", "claim_until"])
    currency = _currency(data)
    discount = data.discount
    if isinstance(discount, schemas.AmountOff) and discount.value.amount <= 0:
        raise InvalidInput("the amount off must be positive", loc=["body", "discount", "value"])
    shop_ids = sorted(set(data.shop_ids)) if data.shop_ids is not None else None
    if shop_ids:
        foreign = await merchants_service.foreign_shop_ids(
            session, merchant_id=merchant_id, shop_ids=shop_ids
        )
        if foreign:
            raise InvalidInput(
                f"not shops of this merchant: {', '.join(sorted(map(str, foreign)))}",
                loc=["body", "shop_ids"],
            )
    audience: dict[str, Any] = {}
    audience_user_ids: list[uuid.UUID] | None = None
    if isinstance(data.audience, schemas.CustomersAudience):
        audience_user_ids = sorted(set(data.audience.user_ids))
        known = await accounts_service.existing_user_ids(session, user_ids=audience_user_ids)
        if unknown := set(audience_user_ids) - known:
            raise InvalidInput(
                f"unknown users: {', '.join(sorted(map(str, unknown))[:5])}",
                loc=["body", "audience", "user_ids"],
            )
    elif isinstance(data.audience, schemas.TiersAudience | schemas.SegmentAudience):
        audience = data.audience.model_dump(mode="json", exclude={"kind"}, exclude_none=True)
    return {
        "name": data.name.strip(),
        "description": data.description,
        "discount_kind": discount.kind,
        "discount_amount": discount.value.amount
        if isinstance(discount, schemas.AmountOff)
        else None,
        "discount_percent": discount.value if isinstance(discount, schemas.PercentOff) else None,
        "max_off": discount.max_off.amount
        if isinstance(discount, schemas.PercentOff) and discount.max_off is not None
        else None,
        "gift_name": discount.gift_name.strip() if isinstance(discount, schemas.Gift) else None,
        "currency": currency,
        "min_spend": data.min_spend.amount if data.min_spend is not None else None,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "claim_until": claim_until,
        "total_quantity": data.total_quantity,
        "per_user_limit": data.per_user_limit,
        "audience_kind": data.audience.kind,
        "audience": audience,
        "audience_user_ids": audience_user_ids,
        "shop_ids": shop_ids,
        "flash": data.flash,
    }


async def create_campaign(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    created_by: uuid.UUID,
    data: schemas.CampaignCreate,
    now: datetime,
) -> schemas.Campaign:
    values = await _designed_values(session, merchant_id=merchant_id, data=data)
    campaign = await CampaignRepository(session).add(
        Campaign(
            merchant_id=merchant_id,
            status="draft",
            handed_out=0,
            created_by=created_by,
            **values,
        )
    )
    await session.refresh(campaign)
    return campaign_schema(campaign, staff=True, now=now)


# what PATCH may change once a campaign is live: people already hold its coupons
LIVE_EDITABLE = frozenset({"name", "description", "total_quantity", "valid_until", "claim_until"})


async def update_campaign(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    data: schemas.CampaignUpdate,
    now: datetime,
) -> schemas.Campaign:
    """Drafts: any field (the merged design is checked as a new one). Published or paused:
    name, description, `total_quantity` (never below what is handed out), `valid_until` and
    `claim_until` (only later: held coupons are extended with it, never cut short).
    Ended: nothing."""
    repo = CampaignRepository(session)
    campaign = await repo.lock(campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    given = data.model_fields_set
    if campaign.status == "ended":
        raise CampaignNotEditable("An ended campaign cannot be changed")
    if campaign.status == "draft":
        merged = campaign_schema(campaign, staff=True, now=now).model_dump(
            include=set(schemas.CampaignCreate.model_fields)
        )
        merged.update(data.model_dump(include=given))
        try:
            design = schemas.CampaignCreate.model_validate(merged)
        except ValidationError as exc:
            raise InvalidInput(str(exc.errors()[0]["msg"]), loc=["body"]) from exc
        for key, value in (
            await _designed_values(session, merchant_id=campaign.merchant_id, data=design)
        ).items():
            setattr(campaign, key, value)
    else:
        if refused := sorted(given - LIVE_EDITABLE):
            raise CampaignNotEditable(
                f"A {campaign.status} campaign cannot change {', '.join(refused)}",
                extra={"fields": refused, "campaign_status": campaign.status},
            )
        await _update_live(session, campaign, data, now)
    campaign.updated_at = now
    await session.flush()
    return campaign_schema(campaign, staff=True, now=now)


async def _update_live(
    session: AsyncSession, campaign: Campaign, data: schemas.CampaignUpdate, now: datetime
) -> None:
    given = data.model_fields_set
    if data.name is not None:
        campaign.name = data.name.strip()
    if "description" in given:
        campaign.description = data.description
    if "total_quantity" in given:
        # the row is locked (claims take it with a conditional UPDATE): handed_out is exact
        if data.total_quantity is not None and data.total_quantity < campaign.handed_out:
            raise QuantityBelowClaimed(
                f"{campaign.handed_out} coupons are already handed out",
                loc=["body", "total_quantity"],
                extra={"handed_out": campaign.handed_out},
            )
        campaign.total_quantity = data.total_quantity
    timezone = await accounts_service.merchant_timezone(session, merchant_id=campaign.merchant_id)
    old_until = campaign.valid_until
    if data.valid_until is not None:
        until = to_instant(data.valid_until, timezone, end_of_day=True)
        if until < campaign.valid_until:
            raise ValidityShortened(
                "valid_until can only move later once coupons are out",
                loc=["body", "valid_until"],
            )
        if campaign.claim_until == campaign.valid_until and data.claim_until is None:
            campaign.claim_until = until  # claiming ran to the end: it still does
        campaign.valid_until = until
    if data.claim_until is not None:
        claim = to_instant(data.claim_until, timezone, end_of_day=True)
        if claim > campaign.valid_until:
            raise InvalidInput(
                "claim_until must not be after valid_until", loc=["body", "claim_until"]
            )
        campaign.claim_until = claim
    if campaign.valid_until != old_until:
        await CouponRepository(session).extend_validity(
            campaign.id, old_until, campaign.valid_until
        )


async def load_campaign(session: AsyncSession, *, campaign_id: uuid.UUID) -> Campaign:
    campaign = await CampaignRepository(session).get(campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    return campaign


async def is_published_flash_campaign_of(
    session: AsyncSession, *, campaign_id: uuid.UUID, merchant_id: uuid.UUID
) -> bool:
    """For flash offers: the campaign is the merchant's, flagged `flash` and published."""
    campaign = await CampaignRepository(session).get(campaign_id)
    return (
        campaign is not None
        and campaign.merchant_id == merchant_id
        and campaign.flash
        and campaign.status == "published"
    )


async def campaign_merchant(session: AsyncSession, *, campaign_id: uuid.UUID) -> uuid.UUID:
    return (await load_campaign(session, campaign_id=campaign_id)).merchant_id


async def view_campaign(
    session: AsyncSession, *, campaign_id: uuid.UUID, staff: bool, now: datetime
) -> schemas.Campaign:
    """Staff see everything; others only published/paused/ended campaigns, audience kind only."""
    campaign = await load_campaign(session, campaign_id=campaign_id)
    if campaign.status == "draft" and not staff:
        raise CampaignNotFound()
    return campaign_schema(campaign, staff=staff, now=now)


async def list_campaigns(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    status: str | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> tuple[list[schemas.Campaign], str | None]:
    """The merchant's campaigns for its staff, newest first."""
    values = decode_cursor_as(cursor, {"id": uuid_value})
    before = values["id"] if values else None
    rows = await CampaignRepository(session).page_of_merchant(merchant_id, status, before, limit)
    page, next_cursor = page_from_rows(rows, limit, lambda c: {"id": str(c.id)})
    return [campaign_schema(c, staff=True, now=now) for c in page], next_cursor


async def change_status(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    to: str,
    now: datetime,
    allowed_from: tuple[str, ...] | None = None,
) -> schemas.Campaign:
    """Move the campaign to `to` from one of `allowed_from` (default: every status the
    lifecycle allows; `resume` narrows publishing to paused campaigns)."""
    repo = CampaignRepository(session)
    values: dict[str, Any] = {}
    sources = TRANSITIONS[to] if allowed_from is None else allowed_from
    if to == "published":
        current = await load_campaign(session, campaign_id=campaign_id)
        if current.status in sources and current.claim_until <= now:
            raise CampaignTransitionInvalid("The claim period of this campaign is already over")
        if current.published_at is None:
            values["published_at"] = now
    elif to == "ended":
        values["ended_at"] = now
    # one conditional UPDATE: concurrent transitions cannot both apply
    changed = await repo.transition(campaign_id, allowed_from=sources, to=to, values=values)
    if changed is None:
        current = await load_campaign(session, campaign_id=campaign_id)
        raise CampaignTransitionInvalid(
            f"A {current.status} campaign cannot become {to}",
            extra={"campaign_status": current.status},
        )
    return campaign_schema(changed, staff=True, now=now)
