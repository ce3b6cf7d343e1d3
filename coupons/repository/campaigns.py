"""Campaigns: their rows, state transitions, the `handed_out` counter, the claimable predicate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.lean import Connection, Statement
from coupons.models import Campaign, ClaimCounter, Coupon
from coupons.repository.rows import CAMPAIGN


def claim_deadline_open(now: Any) -> ColumnElement[bool]:
    """Campaign rows that can hand out a coupon at `now` (ignoring audience)."""
    return and_(
        Campaign.status == "published",
        Campaign.claim_until > now,
        Campaign.valid_until > now,
        or_(Campaign.total_quantity.is_(None), Campaign.handed_out < Campaign.total_quantity),
    )


def claimable_offer_exists(
    shop_id: ColumnElement[Any], merchant_id: ColumnElement[Any], now: Any
) -> ColumnElement[bool]:
    """SQL predicate for other packages' queries (nearby `has_offers`): the shop has a public
    campaign a customer can claim right now."""
    return exists(
        select(literal(1))
        .select_from(Campaign)
        .where(
            Campaign.merchant_id == merchant_id,
            Campaign.audience_kind == "public",
            claim_deadline_open(now),
            or_(Campaign.shop_ids.is_(None), shop_id == func.any(Campaign.shop_ids)),
        )
    )


def best_offer_json(
    shop_id: ColumnElement[Any], merchant_id: ColumnElement[Any], now: Any
) -> ColumnElement[Any]:
    """SQL for other packages' queries (nearby `best_offer`): the most valuable public
    campaign claimable now at the shop, as JSON text `[kind, amount, percent, max_off,
    min_spend, currency, gift_name]`, or NULL. Value: an amount off in full, a percentage by
    its cap (uncapped: on a 100.00 bill), a gift 0; ties: the one closing soonest."""
    value = case(
        (Campaign.discount_kind == "amount_off", Campaign.discount_amount),
        (
            Campaign.discount_kind == "percent_off",
            func.coalesce(Campaign.max_off, Campaign.discount_percent * 100),
        ),
        else_=0,
    )
    return (
        select(
            cast(
                func.json_build_array(
                    Campaign.discount_kind,
                    Campaign.discount_amount,
                    Campaign.discount_percent,
                    Campaign.max_off,
                    Campaign.min_spend,
                    Campaign.currency,
                    Campaign.gift_name,
                ),
                Text,
            )
        )
        .where(
            Campaign.merchant_id == merchant_id,
            Campaign.audience_kind == "public",
            claim_deadline_open(now),
            or_(Campaign.shop_ids.is_(None), shop_id == func.any(Campaign.shop_ids)),
        )
        .order_by(value.desc(), Campaign.claim_until, Campaign.id)
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class ShopCampaignRow:
    campaign: Campaign
    claimed: int  # the caller's claims so far (0 when anonymous)
    held: int  # the caller's coupons of it still usable (active, not expired)


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, campaign: Campaign) -> Campaign:
        self.session.add(campaign)
        await self.session.flush()
        return campaign

    async def get(self, campaign_id: uuid.UUID) -> Campaign | None:
        return await self.session.get(Campaign, campaign_id, populate_existing=True)

    async def many(self, campaign_ids: list[uuid.UUID]) -> list[Campaign]:
        if not campaign_ids:
            return []
        stmt = select(Campaign).where(Campaign.id.in_(campaign_ids))
        return list((await self.session.execute(stmt)).scalars())

    async def page_of_merchant(
        self, merchant_id: uuid.UUID, status: str | None, before: uuid.UUID | None, limit: int
    ) -> list[Campaign]:
        """Newest first (ids are time-ordered UUIDv7); limit+1 rows."""
        stmt = select(Campaign).where(Campaign.merchant_id == merchant_id)
        if status is not None:
            stmt = stmt.where(Campaign.status == status)
        if before is not None:
            stmt = stmt.where(Campaign.id < before)
        stmt = stmt.order_by(Campaign.id.desc()).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())

    async def lock(self, campaign_id: uuid.UUID) -> Campaign | None:
        stmt = (
            select(Campaign)
            .where(Campaign.id == campaign_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def transition(
        self,
        campaign_id: uuid.UUID,
        *,
        allowed_from: Sequence[str],
        to: str,
        values: dict[str, Any],
    ) -> Campaign | None:
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status.in_(allowed_from))
            .values(status=to, updated_at=func.now(), **values)
            .returning(Campaign)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def take(self, campaign_id: uuid.UUID, *, count: int, now: datetime) -> int:
        """Hand out up to `count` coupons; returns how many the quantity allows (0 if none or
        the campaign cannot hand out now). The row lock is held until commit."""
        # RETURNING sees only new values, so the old counter comes from a locking CTE
        old = (
            select(Campaign.id, Campaign.handed_out)
            .where(Campaign.id == campaign_id, claim_deadline_open(now))
            .with_for_update()
            .cte("old")
        )
        granted = func.least(
            count, func.coalesce(Campaign.total_quantity - old.c.handed_out, count)
        )
        stmt = (
            update(Campaign)
            .where(Campaign.id == old.c.id)
            .values(handed_out=old.c.handed_out + granted)
            .returning(granted)
        )
        return int((await self.session.execute(stmt)).scalar_one_or_none() or 0)

    async def claimable_shop_ids(
        self, shops: Sequence[tuple[uuid.UUID, uuid.UUID]], *, now: datetime
    ) -> set[uuid.UUID]:
        if not shops:
            return set()
        pairs = (
            select(
                func.unnest(cast([s for s, _ in shops], ARRAY(Uuid))).label("shop_id"),
                func.unnest(cast([m for _, m in shops], ARRAY(Uuid))).label("merchant_id"),
            )
        ).subquery("pairs")
        stmt = select(pairs.c.shop_id).where(
            claimable_offer_exists(pairs.c.shop_id, pairs.c.merchant_id, now)
        )
        return set((await self.session.execute(stmt)).scalars())


# -- the shop page's campaigns (on the driver, core.lean.Statement) ---------------------------


@cache
def _claimable_at_shop_statement(signed_in: bool) -> Statement:
    """Public campaigns claimable now at the shop, ending soonest first; signed in, with the
    caller's claims and usable coupons (zeros for an anonymous caller)."""
    now = bindparam("now", type_=DateTime(timezone=True))
    c = Campaign.__table__.c
    if signed_in:
        user_id = bindparam("user_id", type_=Uuid)
        claimed: Any = func.coalesce(
            select(ClaimCounter.count)
            .where(ClaimCounter.campaign_id == c.id, ClaimCounter.user_id == user_id)
            .scalar_subquery(),
            0,
        )
        held: Any = (
            select(func.count())
            .select_from(Coupon)
            .where(
                Coupon.campaign_id == c.id,
                Coupon.user_id == user_id,
                Coupon.status == "active",
                Coupon.valid_until > now,
            )
            .scalar_subquery()
        )
    else:
        claimed = held = literal(0)
    return Statement(
        select(*CAMPAIGN.columns, claimed, held)
        .where(
            c.merchant_id == bindparam("merchant_id", type_=Uuid),
            c.audience_kind == "public",
            claim_deadline_open(now),
            or_(c.shop_ids.is_(None), bindparam("shop_id", type_=Uuid) == func.any(c.shop_ids)),
        )
        .order_by(c.claim_until, c.id)
        .limit(bindparam("limit", type_=Integer))
    )


async def claimable_at_shop(
    connection: Connection,
    *,
    shop_id: uuid.UUID,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    now: datetime,
    limit: int,
) -> list[ShopCampaignRow]:
    """Public campaigns claimable now at the shop (nearby's `has_offers` test), ending
    soonest first, with the caller's claims and usable coupons: one statement."""
    params = {"shop_id": shop_id, "merchant_id": merchant_id, "now": now, "limit": limit}
    if user_id is not None:
        params["user_id"] = user_id
    rows = await _claimable_at_shop_statement(user_id is not None).all(connection, params)
    end = len(CAMPAIGN.keys)
    return [
        ShopCampaignRow(CAMPAIGN.view(row[:end]), int(row[end]), int(row[end + 1])) for row in rows
    ]


# a claim's statements, built once and compiled once for the driver (core.lean): they run on
# the transaction's connection, a lean route's or an ORM session's
@cache
def _claim_statements() -> tuple[Statement, Statement]:
    c = Campaign.__table__.c
    campaign_id = c.id == bindparam("campaign_id", type_=Uuid)
    read = Statement(select(*CAMPAIGN.columns).where(campaign_id))
    take = Statement(
        update(Campaign.__table__)  # type: ignore[arg-type]
        .where(campaign_id, claim_deadline_open(bindparam("now", type_=c.claim_until.type)))
        .values(handed_out=c.handed_out + 1)
        .returning(c.id)
    )
    return read, take


async def campaign_row(connection: Connection, campaign_id: uuid.UUID) -> Campaign | None:
    """The campaign as it is now: a read-only view (`Detached.view`, the entity's attribute
    names; a claim only reads it, and a view costs a hundredth of an instance)."""
    row = await _claim_statements()[0].one(connection, {"campaign_id": campaign_id})
    return CAMPAIGN.view(row) if row is not None else None  # type: ignore[no-any-return]


async def take_one(connection: Connection, campaign_id: uuid.UUID, *, now: datetime) -> bool:
    """One coupon of the campaign handed out, if it can hand one out now (published, inside
    its claim and validity windows, not sold out); the UPDATE's row lock orders claims."""
    params = {"campaign_id": campaign_id, "now": now}
    return await _claim_statements()[1].one(connection, params) is not None
