"""Flash offers: choose the audience in SQL and write its deliveries and outbox batches in
the transaction that creates the offer (the transactional outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import localised
from core.pagination import aware_time_value, decode_cursor_as, page_from_rows, uuid_value
from core.settings import Settings
from coupons import service as coupons_service
from customers import service as customers_service
from merchants import service as merchants_service
from merchants.categories import PARENT_OF
from push import repository, schemas
from push.models import MAX_RADIUS_M, FlashOffer
from push.service.areas import CURRENT_LOCATION_MAX_AGE
from push.service.errors import AudienceNotAvailable, CampaignNotFlash, FlashOfferNotFound


async def _require_flash_campaign(
    session: AsyncSession, *, merchant_id: uuid.UUID, campaign_id: uuid.UUID
) -> None:
    """The offer must promote one of the merchant's published `flash` coupon campaigns; a
    stranger's campaign is refused exactly like a missing one."""
    if not await coupons_service.is_published_flash_campaign_of(
        session, campaign_id=campaign_id, merchant_id=merchant_id
    ):
        raise CampaignNotFlash(
            localised(
                "不是本商户已发布的限时优惠活动", "Not a published flash campaign of this merchant"
            ),
            loc=["body", "campaign_id"],
        )


class TierMembersSelect(Protocol):
    """`SELECT DISTINCT user_id` of a merchant's card holders at these tier codes."""

    def __call__(
        self, *, merchant_id: uuid.UUID, tier_codes: list[str], program_id: uuid.UUID | None
    ) -> Select[uuid.UUID]: ...


_tier_members_select: TierMembersSelect | None = None


def register_tier_audience(members_select: TierMembersSelect | None) -> None:
    """Plugged in by api.wiring (memberships owns cards and tiers; push does not import it)."""
    global _tier_members_select
    _tier_members_select = members_select


def _members_audience_sql(
    members: Select[Any], outer: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Embed another package's `SELECT user_id …` in the fan-out statement (plain SQL with
    `:name` parameters). Bind casts (`:x::UUID`) are not rendered: text() would not see such
    a parameter; psycopg types the values itself."""
    dialect = postgresql.dialect(paramstyle="named")
    dialect.bind_typing = BindTyping.NONE
    compiled = members.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = dict(compiled.params)
    clash = set(params) & set(outer)
    if clash:  # generated names carry a suffix (merchant_id_1); a clash would be a bug
        raise RuntimeError(f"audience parameters clash with the fan-out's: {sorted(clash)}")
    return repository.MEMBERS_AUDIENCE.format(members=str(compiled)), params


def category_and_ancestors(code: str) -> list[str]:
    """Subscribers of `dining` want offers from a `noodles` shop: match the shop's category
    and every category above it."""
    found: list[str] = []
    current: str | None = code
    while current is not None and current not in found:
        found.append(current)
        current = PARENT_OF.get(current)
    return found


async def create_flash_offer(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    created_by: uuid.UUID | None,
    data: schemas.FlashOfferCreate,
    now: datetime,
    settings: Settings,
) -> schemas.FlashOfferAccepted:
    shop = await merchants_service.require_shop_of_merchant(
        session, merchant_id=merchant_id, shop_id=data.shop_id
    )
    await _require_flash_campaign(session, merchant_id=merchant_id, campaign_id=data.campaign_id)
    expires_at = now + timedelta(minutes=data.expires_in_minutes)
    offer = await repository.OfferRepository(session).add_offer(
        FlashOffer(
            merchant_id=merchant_id,
            shop_id=shop.id,
            campaign_id=data.campaign_id,
            audience_kind=data.audience.kind,
            audience_radius_m=data.audience.radius_m,
            segment_id=data.audience.segment_id,
            tier_codes=data.audience.tier_codes,
            program_id=data.audience.program_id,
            title=data.message.title,
            body=data.message.body,
            expires_at=expires_at,
            created_by=created_by,
        ),
    )
    params: dict[str, Any] = {
        "offer_id": offer.id,
        "merchant_id": merchant_id,
        "now": now,
        "expires_at": expires_at,
        "merchant_cap": settings.push_merchant_daily_cap,
        "global_cap": settings.push_global_daily_cap,
    }
    audience = await audience_sql(
        session, merchant_id=merchant_id, shop=shop, audience=data.audience, now=now, outer=params
    )
    recipients = 0
    if audience is not None:
        sql, extra = audience
        recipients, _ = await repository.OfferRepository(session).fan_out(
            audience_sql=sql,
            params=params | extra,
            batch_size=settings.push_batch_size,
        )
    await repository.OfferRepository(session).set_offer_recipients(offer.id, recipients)
    return schemas.FlashOfferAccepted(
        id=offer.id, recipients_estimate=recipients, expires_at=expires_at
    )


async def audience_sql(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop: Any,
    audience: schemas.Audience,
    now: datetime,
    outer: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """The audience statement and its parameters (besides the fan-out's `outer` ones);
    None when nobody can match."""
    if audience.kind == "customers":
        return repository.CUSTOMER_AUDIENCE, {}
    if audience.kind == "segment":
        assert audience.segment_id is not None
        members = await customers_service.segment_user_ids_select(
            session, merchant_id=merchant_id, segment_id=audience.segment_id, now=now
        )
        return _members_audience_sql(members, outer or {})
    if audience.kind == "tiers":
        assert audience.tier_codes
        if _tier_members_select is None:
            raise AudienceNotAvailable(
                localised(
                    "暂不支持按会员等级推送", "Membership tiers are not available as an audience"
                )
            )
        members = _tier_members_select(
            merchant_id=merchant_id,
            tier_codes=list(audience.tier_codes),
            program_id=audience.program_id,
        )
        return _members_audience_sql(members, outer or {})
    largest = await repository.OfferRepository(session).max_subscription_radius()
    if largest is None:
        return None
    radius_cap = audience.radius_m or MAX_RADIUS_M
    return repository.NEARBY_AUDIENCE, {
        "lat": shop.location.lat,
        "lng": shop.location.lng,
        "bound": min(largest, radius_cap),
        "radius_cap": radius_cap,
        "categories": category_and_ancestors(shop.category),
        "current_since": now - CURRENT_LOCATION_MAX_AGE,
    }


async def offer_merchant(session: AsyncSession, *, offer_id: uuid.UUID) -> uuid.UUID:
    offer = await repository.OfferRepository(session).get_offer(offer_id)
    if offer is None:
        raise FlashOfferNotFound()
    return offer.merchant_id


async def describe_offer(
    session: AsyncSession, *, offer_id: uuid.UUID, now: datetime
) -> schemas.FlashOffer:
    offer = await repository.OfferRepository(session).get_offer(offer_id)
    if offer is None:
        raise FlashOfferNotFound()
    counts = await repository.OfferRepository(session).delivery_counts(offer_id)
    status = "completed"
    if counts.queued:
        if now >= offer.expires_at:
            status = "expired"
        elif counts.next_due is not None and counts.next_due > now:
            status = "scheduled"
        else:
            status = "sending"
    return schemas.FlashOffer(
        id=offer.id,
        merchant_id=offer.merchant_id,
        shop_id=offer.shop_id,
        campaign_id=offer.campaign_id,
        audience=schemas.Audience(
            kind=offer.audience_kind,  # type: ignore[arg-type]
            radius_m=offer.audience_radius_m,
            segment_id=offer.segment_id,
            tier_codes=offer.tier_codes,
            program_id=offer.program_id,
        ),
        message=schemas.Message(title=offer.title, body=offer.body),
        status=status,  # type: ignore[arg-type]
        recipients=offer.recipients,
        queued=counts.queued,
        sent=counts.sent,
        failed=counts.failed,
        opened=counts.opened,
        expires_at=offer.expires_at,
        created_at=offer.created_at,
    )


async def mark_opened(
    session: AsyncSession, *, offer_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> schemas.Opened:
    """The app reports that the user opened the notification (idempotent)."""
    if not await repository.OfferRepository(session).is_recipient(
        offer_id=offer_id, user_id=user_id
    ):
        raise FlashOfferNotFound()
    await repository.OfferRepository(session).mark_opened(
        offer_id=offer_id, user_id=user_id, now=now
    )
    return schemas.Opened(opened=True)


def offer_status(expires_at: datetime, read_at: datetime | None, now: datetime) -> str:
    if expires_at <= now:
        return "expired"
    return "read" if read_at is not None else "unread"


async def received_offers(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int, cursor: str | None, now: datetime
) -> schemas.ReceivedOfferPage:
    """The caller's inbox of flash offers, newest first, with their campaign and whether the
    caller already claimed it (three statements whatever the page size)."""
    position = decode_cursor_as(cursor, {"t": aware_time_value, "id": uuid_value})
    after = (position["t"], position["id"]) if position else None
    rows = await repository.OfferRepository(session).received_by(
        user_id=user_id, after=after, limit=limit
    )
    page, next_cursor = page_from_rows(
        rows, limit, lambda r: {"t": r.offer.created_at.isoformat(), "id": str(r.offer.id)}
    )
    campaign_ids = [r.offer.campaign_id for r in page]
    summaries = await coupons_service.campaign_summaries(session, campaign_ids=campaign_ids)
    held = await coupons_service.held_counts(session, user_id=user_id, campaign_ids=campaign_ids)
    return schemas.ReceivedOfferPage(
        items=[
            schemas.ReceivedOffer(
                id=r.offer.id,
                merchant_id=r.offer.merchant_id,
                shop_id=r.offer.shop_id,
                title=r.offer.title,
                body=r.offer.body,
                status=offer_status(r.offer.expires_at, r.read_at, now),  # type: ignore[arg-type]
                delivered_at=r.delivered_at,
                read_at=r.read_at,
                expires_at=r.offer.expires_at,
                campaign=summaries.get(r.offer.campaign_id),
                claimed=held.get(r.offer.campaign_id, 0) > 0,
            )
            for r in page
        ],
        next_cursor=next_cursor,
    )
