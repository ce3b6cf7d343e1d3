"""Customer records, kept current by the events other packages report.

Coupons, memberships, orders and push call `record_activity` in the same transaction as the
fact (a claim, a redemption, a card purchase, an order, a follow of the merchant). It is one
atomic upsert, so concurrent events never lose a count.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from customers.repository import CustomerRepository

ActivityKind = Literal[
    "coupon_claimed",
    "coupon_redeemed",
    "card_joined",
    "card_transaction",
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
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: ActivityKind,
    at: datetime,
    spend: int = 0,
    currency: str = "CNY",
    visit: bool | None = None,
) -> uuid.UUID:
    """Create or update the merchant's customer record for this user; returns its id.

    `spend` is in minor units (what the customer paid), `visit` defaults by kind.
    """
    if spend < 0:
        raise ValueError("spend must not be negative")
    counts_as_visit = kind in VISIT_KINDS if visit is None else visit
    return await CustomerRepository(session).upsert_activity(
        merchant_id=merchant_id,
        user_id=user_id,
        source=kind,
        at=at,
        spend=spend,
        currency=currency,
        visit=counts_as_visit,
    )
