"""Cards on online orders: the tier discount and points spent when the order is placed,
points spent given back if it never completes, points earned when it is consumed.

The order package calls these through memberships.service; every change of points is a
ledger entry (post_entry), like at the counter. Buying online as the signed-in holder is the
holder's own act, so no payment PIN is asked (the PIN guards the counter, where a card number
or QR could be someone else's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import localised
from core.lean import Db, connection_of
from memberships import rules
from memberships.repository.cards import card_context
from memberships.repository.ledger import LedgerRepository
from memberships.service.errors import CardNotFound, InsufficientPoints
from memberships.service.ledger import maybe_upgrade, post_entry


@dataclass(frozen=True)
class OrderCard:
    card_id: uuid.UUID
    merchant_id: uuid.UUID
    currency: str
    tier_code: str
    discount_percent: int
    points: int
    redeem_points_per_unit: int
    # the version the discount and the points' value were read from (the order's terms)
    rule_version: int

    def discounted(self, amount: int) -> tuple[int, int]:
        """(paid, discount) of an amount by the tier's percent (rounded as at the counter)."""
        return rules.discounted(amount, self.discount_percent)

    def points_value(self, points: int) -> int:
        return rules.points_value(points, self.redeem_points_per_unit)


@dataclass(frozen=True)
class OrderEarning:
    entry_id: uuid.UUID
    points: int
    tier_code: str


async def card_for_order(
    session: AsyncSession, *, card_id: uuid.UUID, user_id: uuid.UUID, merchant_id: uuid.UUID
) -> OrderCard:
    """The holder's own card at this merchant (anything else: not found)."""
    ctx = await card_context(await connection_of(session), card_id)
    if ctx is None or ctx.card.user_id != user_id or ctx.card.merchant_id != merchant_id:
        raise CardNotFound()
    return OrderCard(
        ctx.card.id,
        ctx.card.merchant_id,
        ctx.card.currency,
        ctx.tier.code,
        ctx.tier.discount_percent,
        ctx.card.points,
        ctx.program.redeem_points_per_unit,
        ctx.program.rule_version,
    )


async def spend_points_for_order(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    points: int,
    value: int,
    shop_id: uuid.UUID,
    note: str,
    rule_version: int,
) -> uuid.UUID:
    """Take the points now (refused when the card holds fewer); the ledger entry's id."""
    ctx = await card_context(await connection_of(session), card_id)
    if ctx is None:
        raise CardNotFound()
    if points <= 0:
        raise InsufficientPoints(localised("积分数必须大于零", "Give a positive number of points"))
    entry, _ = await post_entry(
        session,
        card=ctx.card,
        kind="spend_points",
        rule_version=rule_version,
        points=-points,
        amount=value,
        shop_id=shop_id,
        note=note,
    )
    return entry.id


async def return_order_points(session: AsyncSession, *, entry_id: uuid.UUID, note: str) -> bool:
    """Give back the points an order took (once: a second call changes nothing)."""
    ledger = LedgerRepository(session)
    original = await ledger.get_for_update(entry_id)
    if original is None or await ledger.is_reversed(original.id):
        return False
    ctx = await card_context(await connection_of(session), original.card_id)
    assert ctx is not None  # the ledger row references it
    await post_entry(
        session,
        card=ctx.card,
        kind="reversal",
        rule_version=original.rule_version,
        points=-original.points_delta,
        amount=original.amount,
        shop_id=original.shop_id,
        reverses_entry_id=original.id,
        note=note,
    )
    return True


async def credit_order_purchase(
    db: Db,
    *,
    card_id: uuid.UUID,
    amount: int,
    paid: int,
    shop_id: uuid.UUID,
    staff_user_id: uuid.UUID | None,
    note: str,
    now: datetime,
) -> OrderEarning:
    """The order was consumed: points for what was paid, by the card's tier rule; the
    purchase counts toward the 12-month spend (and may move the card up a tier)."""
    connection = await connection_of(db)
    ctx = await card_context(connection, card_id)
    if ctx is None:
        raise CardNotFound()
    earned = rules.points_earned(paid, ctx.tier.earn_points_per_unit)
    entry, totals = await post_entry(
        connection,
        card=ctx.card,
        kind="earn",
        rule_version=ctx.program.rule_version,
        points=earned,
        spend=paid,
        amount=amount,
        paid_amount=paid,
        shop_id=shop_id,
        staff_user_id=staff_user_id,
        note=note,
    )
    ctx = await maybe_upgrade(connection, ctx=ctx, totals=totals, now=now)
    return OrderEarning(entry.id, earned, ctx.tier.code)
