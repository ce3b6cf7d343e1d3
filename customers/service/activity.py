"""Customer records, kept current by the events other packages report.

Coupons, memberships, orders and push call `record_activity` in the same transaction as the
fact (a claim, a redemption, a card purchase, an order, a follow of the merchant). It is one
atomic upsert plus one append to the customer's timeline, so concurrent events never lose a
count. A customer's first purchase also schedules the merchant's first-purchase follow-ups.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from core.lean import Db, connection_of
from customers.repository import ActivityRepository, record_event, set_customer_tier
from customers.repository.followups import schedule_first_purchase

ActivityKind = Literal[
    "coupon_claimed",
    "coupon_redeemed",
    "card_joined",
    "card_transaction",
    "card_topup",
    "order_paid",
    "order_consumed",
    "booking",
    "followed",
    "review",
    "complaint",
]
# Activities that mean the person came to the shop (a visit), not just an online action
VISIT_KINDS: frozenset[str] = frozenset({"coupon_redeemed", "card_transaction", "order_consumed"})


async def record_activity(
    db: Db,
    *,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    customer_id: uuid.UUID | None = None,
    kind: ActivityKind,
    at: datetime,
    spend: int = 0,
    currency: str = "CNY",
    visit: bool | None = None,
    reference_id: uuid.UUID | None = None,
    tier: str | None = None,
) -> uuid.UUID:
    """Create or update the merchant's customer record for this user; returns its id.

    `spend` is in minor units (what the customer paid), `visit` defaults by kind,
    `reference_id` names the reporting package's row (redemption, ledger entry, order) on the
    timeline, `tier` (a membership tier code) replaces the customer's tier when given.
    Without a user (a card staff issued to a walk-in customer), `customer_id` names the record.
    """
    if user_id is None and customer_id is None:
        raise ValueError("record_activity needs a user or a customer")
    if spend < 0:
        raise ValueError("spend must not be negative")
    counts_as_visit = kind in VISIT_KINDS if visit is None else visit
    # the same statements whether a lean route's connection or a session's transaction
    connection = await connection_of(db)
    # the upsert and the timeline row are one statement (one round trip on hot paths)
    customer_id, first_purchase = await record_event(
        connection,
        merchant_id=merchant_id,
        user_id=user_id,
        customer_id=customer_id,
        source=kind,
        at=at,
        spend=spend,
        currency=currency,
        visit=counts_as_visit,
        tier=tier,
        reference_id=reference_id,
    )
    if first_purchase:
        await schedule_first_purchase(
            connection, merchant_id=merchant_id, customer_id=customer_id, at=at
        )
    return customer_id


async def record_no_show(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    customer_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    booking_id: uuid.UUID,
    at: datetime,
) -> uuid.UUID | None:
    """Orders call this when staff mark a booking no_show (in the same transaction): the
    customer's `no_shows` count (segments' `no_shows_at_least`) and a `no_show` timeline row
    whose `at` is the booking's start. Returns the customer id, None if there is no record."""
    if customer_id is None and user_id is None:
        raise ValueError("record_no_show needs a user or a customer")
    return await ActivityRepository(session).record_no_show(
        merchant_id=merchant_id,
        customer_id=customer_id,
        user_id=user_id,
        booking_id=booking_id,
        at=at,
    )


async def set_tier(db: Db, *, merchant_id: uuid.UUID, user_id: uuid.UUID, tier: str) -> bool:
    """Memberships call this when a card's tier changes; False if the user is no customer."""
    return await set_customer_tier(
        await connection_of(db), merchant_id=merchant_id, user_id=user_id, tier=tier
    )
