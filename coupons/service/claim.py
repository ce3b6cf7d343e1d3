"""Handing coupons out: customer claims, merchant bulk issues, paper coupons; the wallet.

Limits are the database's: the per-user counter is a conditional upsert and the campaign's
counter a conditional UPDATE, both in the request's transaction. The campaign row (the hot
one) is touched last so its lock is held only from that statement to the commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as accounts_service
from core.errors import InvalidInput
from core.i18n import localised
from core.lean import Db, connection_of
from core.pagination import Page, decode_cursor_as, encode_cursor, page_from_rows, uuid_value
from core.timezones import format_local
from coupons import codes, discounts, schemas
from coupons.models import Campaign, Coupon
from coupons.repository.campaigns import CampaignRepository, campaign_row, take_one
from coupons.repository.claim_counters import ClaimCounterRepository, increment
from coupons.repository.coupons import CouponRepository, insert_coupons
from coupons.service.audience import audience_members, require_in_audience
from coupons.service.campaigns import load_campaign
from coupons.service.errors import (
    CAMPAIGN_STATUS,
    CampaignNotActive,
    CampaignNotFound,
    CampaignSoldOut,
    ClaimLimitReached,
    CouponNotFound,
)
from coupons.service.views import campaign_summary, coupon_schema
from customers import service as customers_service
from merchants import service as merchants_service

MAX_CODE_ATTEMPTS = 5


def _not_active(campaign: Campaign) -> CampaignNotActive:
    said = CAMPAIGN_STATUS.say(campaign.status)
    return CampaignNotActive(
        localised(f"该活动{said}，暂不能领取", f"The campaign is {said}"),
        extra={"campaign_status": campaign.status},
    )


def _refuse_unless_open(campaign: Campaign, now: datetime) -> None:
    if campaign.status == "draft":
        raise CampaignNotFound()
    if campaign.status != "published":
        raise _not_active(campaign)
    if campaign.claim_until <= now or campaign.valid_until <= now:
        ended = format_local(min(campaign.claim_until, campaign.valid_until))
        raise CampaignNotActive(
            localised(
                f"该活动已于 {ended} 停止领取",
                f"The claim period of this campaign ended at {ended}",
            )
        )
    if campaign.total_quantity is not None and campaign.handed_out >= campaign.total_quantity:
        raise CampaignSoldOut()


async def _insert_coupons(
    db: Db,
    campaign: Campaign,
    holders: list[uuid.UUID | None],
    *,
    source: str,
    now: datetime,
) -> list[Coupon]:
    """One coupon per holder with a fresh code; a code collision (2^-50 per pair) is retried
    with a new code, the unique constraint being the judge."""
    connection = await connection_of(db)
    pending = list(holders)
    created: list[Coupon] = []
    for _ in range(MAX_CODE_ATTEMPTS):
        wanted = [(holder, codes.new_code()) for holder in pending]
        inserted = await insert_coupons(connection, campaign, wanted, source=source, now=now)
        created.extend(inserted)
        done = {c.code for c in inserted}
        pending = [holder for holder, code in wanted if code not in done]
        if not pending:
            return created
    raise RuntimeError("could not find free coupon codes")  # pragma: no cover


async def claim(
    db: Db, *, campaign_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> schemas.Coupon:
    """One coupon of the campaign for the caller. Runs on the transaction's driver connection
    (core.lean `Statement`s; the claim's lean route passes its connection): the campaign it
    reads is a read-only view (never flushed, never written)."""
    connection = await connection_of(db)
    campaign = await campaign_row(connection, campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    _refuse_unless_open(campaign, now)  # early, friendly refusals; the guards come below
    await require_in_audience(connection, campaign=campaign, user_id=user_id)
    # Lock order, the same in claim and issue: campaign row first, then per-user counters
    # (the other way round, a bulk issue and a claim deadlock). A later refusal rolls the
    # request back, so the coupon taken here returns to the campaign.
    if not await take_one(connection, campaign.id, now=now):
        fresh = await campaign_row(connection, campaign_id)
        if fresh is None:
            raise CampaignNotFound()
        _refuse_unless_open(fresh, now)
        raise CampaignSoldOut()
    if not await increment(connection, campaign.id, user_id, limit=campaign.per_user_limit):
        raise ClaimLimitReached(extra={"per_user_limit": campaign.per_user_limit})
    (coupon,) = await _insert_coupons(connection, campaign, [user_id], source="claim", now=now)
    await customers_service.record_activity(
        connection,
        merchant_id=campaign.merchant_id,
        user_id=user_id,
        kind="coupon_claimed",
        at=now,
        reference_id=coupon.id,
    )
    return coupon_schema(coupon, campaign, now=now)


async def issue(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    user_ids: list[uuid.UUID] | None,
    now: datetime,
) -> schemas.IssueResult:
    """Give one coupon to each recipient still under the per-user limit, as far as the
    quantity goes (in recipient id order). Set-based: a few statements for any list."""
    campaign = await load_campaign(session, campaign_id=campaign_id)
    if campaign.status != "published" or campaign.claim_until <= now:
        raise _not_active(campaign)
    wanted = sorted(set(user_ids if user_ids is not None else await audience_members(
        session, campaign=campaign
    )))  # fmt: skip
    if not wanted:
        return schemas.IssueResult(issued=0, skipped=0)
    known = await accounts_service.existing_user_ids(session, user_ids=wanted)
    if user_ids is not None and (unknown := set(wanted) - known):
        listed = sorted(map(str, unknown))[:5]
        raise InvalidInput(
            localised(
                f"这些用户不存在：{'、'.join(listed)}", f"Unknown users: {', '.join(listed)}"
            ),
            loc=["body", "user_ids"],
        )
    recipients = [u for u in wanted if u in known]
    # campaign row first, then counters: the lock order of claim (see there)
    await CampaignRepository(session).lock(campaign.id)
    counters = ClaimCounterRepository(session)
    counted = await counters.increment_many(campaign.id, recipients, limit=campaign.per_user_limit)
    granted = await CampaignRepository(session).take(campaign.id, count=len(counted), now=now)
    served, unserved = counted[:granted], counted[granted:]
    await counters.decrement_many(campaign.id, unserved)
    await _insert_coupons(session, campaign, list(served), source="issue", now=now)
    return schemas.IssueResult(issued=len(served), skipped=len(wanted) - len(served))


# one sheet request may issue the coupons before it too (`start`): bounded, so that a request
# stays a few statements of work (issue 17, finding 8)
MAX_PAPER_ISSUED_PER_REQUEST = 10_000


async def issue_paper(
    session: AsyncSession, *, campaign_id: uuid.UUID, start: int, count: int, now: datetime
) -> tuple[Campaign, list[Coupon]]:
    """The paper coupons number `start` … `start+count-1` of the campaign (in issue order),
    issuing the missing ones: the same sheet prints the same codes again."""
    repo = CampaignRepository(session)
    campaign = await repo.lock(campaign_id)  # serialises concurrent printing of one campaign
    if campaign is None:
        raise CampaignNotFound()
    coupons = CouponRepository(session)
    missing = start + count - await coupons.count_paper(campaign_id)
    if missing > MAX_PAPER_ISSUED_PER_REQUEST:
        raise InvalidInput(
            localised(
                f"这一页需要新发 {missing} 张纸质券，一次最多 {MAX_PAPER_ISSUED_PER_REQUEST:,} 张"
                "（请先打印前面的页）",
                f"This sheet would issue {missing:,} new paper coupons; one request issues at most "
                f"{MAX_PAPER_ISSUED_PER_REQUEST:,} (print the earlier sheets first)",
            ),
            loc=["query", "start"],
        )
    if missing > 0:
        if campaign.status != "published" or campaign.claim_until <= now:
            said = CAMPAIGN_STATUS.say(campaign.status)
            raise CampaignNotActive(
                localised(
                    f"只有已发布且可领取的活动可以打印纸质券（该活动{said}）",
                    f"Paper coupons are printed for a published campaign (this one is {said})",
                )
            )
        granted = await repo.take(campaign_id, count=missing, now=now)
        if granted < missing:
            raise CampaignSoldOut(
                localised(
                    f"只能再发放 {granted} 张", f"Only {granted} more coupons can be handed out"
                )
            )
        await _insert_coupons(session, campaign, [None] * missing, source="paper", now=now)
    return campaign, await coupons.paper_coupons(campaign_id, start=start, count=count)


async def wallet(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    status: str | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> Page[schemas.Coupon]:
    position = decode_cursor_as(cursor, {"t": datetime.fromisoformat, "id": uuid_value})
    after = (position["t"], position["id"]) if position else None
    rows = await CouponRepository(session).wallet(
        user_id, status=status, now=now, after=after, limit=limit
    )
    page, next_cursor = page_from_rows(
        rows, limit, lambda row: {"t": row[0].issued_at.isoformat(), "id": str(row[0].id)}
    )
    return Page(items=[coupon_schema(c, p, now=now) for c, p in page], next_cursor=next_cursor)


async def held_counts(
    session: AsyncSession, *, user_id: uuid.UUID, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Campaign id -> how many of its coupons the user holds (absent: none)."""
    return await CouponRepository(session).held_counts(user_id, list(set(campaign_ids)))


async def campaign_summaries(
    session: AsyncSession, *, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, schemas.CampaignSummary]:
    campaigns = await CampaignRepository(session).many(list(set(campaign_ids)))
    return {c.id: campaign_summary(c) for c in campaigns}


def best_first_key(
    campaign: Campaign, coupon: Coupon, order_amount: int | None
) -> tuple[int, datetime, uuid.UUID]:
    """Most money off first (for `order_amount` when known; without it what the coupon
    surely gives: an amount off in full, a percentage up to its cap, a gift nothing), then the
    one that expires soonest, so the customer uses it before it is lost."""
    value = discounts.discount_for(
        campaign.discount_kind,
        amount=campaign.discount_amount,
        percent=campaign.discount_percent,
        max_off=campaign.max_off,
        order_amount=order_amount,
    )
    if value is None:  # a percentage without an order amount
        value = campaign.max_off or 0
    return (-value, coupon.valid_until, coupon.id)


async def usable_at(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    shop_id: uuid.UUID,
    order_amount: int | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> Page[schemas.Coupon]:
    """The holder's coupons usable now at the shop, best first; with `order_amount`, only
    those whose minimum spend it meets."""
    merchant_id = await merchants_service.merchant_of_shop(session, shop_id=shop_id)
    rows = await CouponRepository(session).usable_at(
        user_id, merchant_id=merchant_id, shop_id=shop_id, now=now
    )
    if order_amount is not None:
        rows = [(c, p) for c, p in rows if discounts.meets_min_spend(p.min_spend, order_amount)]
    rows.sort(key=lambda row: best_first_key(row[1], row[0], order_amount))
    position = decode_cursor_as(cursor, {"o": int})
    start = max(0, position["o"]) if position else 0
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    return Page(
        items=[coupon_schema(c, p, now=now) for c, p in page],
        next_cursor=encode_cursor({"o": start + limit}) if more else None,
    )


async def holder_qr_payload(
    session: AsyncSession,
    *,
    coupon_id: uuid.UUID,
    user_id: uuid.UUID,
    keys: list[tuple[str, bytes]],
) -> str:
    """The signed QR content of the caller's own coupon (anyone else: not found)."""
    found = await CouponRepository(session).get(coupon_id)
    if found is None or found[0].user_id != user_id:
        raise CouponNotFound()
    return codes.qr_payload(found[0].code, keys)
