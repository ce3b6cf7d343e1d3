"""Tier changes: up when a purchase reaches a threshold (`ledger.maybe_upgrade`), and the
periodic review (`memberships/jobs.py`) that re-evaluates every card on its rolling 12-month
spend — up after a threshold was lowered, down when the programme has the downgrade rule.

Invariants:
- a card changes tier only under its row lock and by a conditional UPDATE (still in the tier the
  decision started from), so reviews run twice or concurrently, or racing a purchase, move a
  card at most once for one decision; running the review again changes nothing;
- each move is recorded (`card_tier_changes`: from, to, direction, reason, the spend it was
  decided on and the rule version whose thresholds decided it);
- a decision uses one rule version throughout: the card's programme row and tier are read in
  one statement, the thresholds come from that version's snapshot.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.database import mirror_database
from core.lean import Db, connection_of
from core.money import Money
from core.pagination import page_from_rows
from customers import service as customers
from memberships import rules, schemas
from memberships.models import TierChange
from memberships.repository.cards import CardContext, card_context, lock_card, spend_since
from memberships.repository.tiers import TierRepository, move_tier, record_change
from memberships.service.cards import access_card, months_ago
from memberships.service.cursors import time_id_cursor
from memberships.service.programs import rule_version_tiers


def tier_change_schema(change: TierChange) -> schemas.TierChange:
    return schemas.TierChange(
        id=change.id,
        card_id=change.card_id,
        from_tier=change.from_tier,
        to_tier=change.to_tier,
        direction=change.direction,  # type: ignore[arg-type]
        reason=change.reason,  # type: ignore[arg-type]
        spend_12m=Money.of(change.spend_12m, change.currency),
        rule_version=change.rule_version,
        created_at=change.created_at,
    )


async def move_card_tier(
    db: Db,
    *,
    ctx: CardContext,
    target: rules.TierRule,
    reason: str,
    spend_12m: int,
) -> tuple[CardContext, TierChange] | None:
    """Move the card (held under its row lock by the caller) from `ctx.tier` to the tier with
    `target`'s code and record it; None when that tier no longer exists (a rule edit removed
    it: the next review decides again) or the card left `ctx.tier` meanwhile."""
    connection = await connection_of(db)
    moved = await move_tier(connection, ctx.card.id, from_tier_id=ctx.tier.id, code=target.code)
    if moved is None:
        return None
    new_tier, next_threshold = moved
    change = await record_change(
        connection,
        {
            "card_id": ctx.card.id,
            "merchant_id": ctx.card.merchant_id,
            "from_tier": ctx.tier.code,
            "to_tier": new_tier.code,
            "direction": "up" if target.rank > ctx.tier.rank else "down",
            "reason": reason,
            "spend_12m": spend_12m,
            "currency": ctx.card.currency,
            "rule_version": ctx.program.rule_version,
        },
    )
    mirror_database(ctx.card, tier_id=new_tier.id)
    if ctx.card.user_id is not None:  # the customer directory filters by tier
        await customers.set_tier(
            connection,
            merchant_id=ctx.card.merchant_id,
            user_id=ctx.card.user_id,
            tier=new_tier.code,
        )
    return CardContext(ctx.card, ctx.program, new_tier, next_threshold), change


async def review_card_tier(
    session: AsyncSession, *, card_id: uuid.UUID, now: datetime
) -> schemas.TierChange | None:
    """Re-evaluate one card on its rolling 12-month spend at `now`; the change made, if any."""
    connection = await connection_of(session)
    if await lock_card(connection, card_id) is None:  # deleted since the scan
        return None
    ctx = await card_context(connection, card_id)  # read under the lock: the tier it is in now
    assert ctx is not None
    spend = (await spend_since(connection, [card_id], months_ago(now, 12)))[card_id]
    tiers = await rule_version_tiers(
        connection, program_id=ctx.program.id, version=ctx.program.rule_version
    )
    target = rules.tier_after_review(
        tiers, ctx.tier.rank, spend, downgrade=ctx.program.tier_downgrade
    )
    if target is None:
        return None
    moved = await move_card_tier(
        connection, ctx=ctx, target=target, reason="review", spend_12m=spend
    )
    return tier_change_schema(moved[1]) if moved is not None else None


async def tier_history(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    user_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> schemas.Page[schemas.TierChange]:
    """The card's tier changes, newest first (its holder or the merchant's staff)."""
    await access_card(session, card_id=card_id, user_id=user_id)
    rows = await TierRepository(session).history(card_id, time_id_cursor(cursor), limit)
    items, next_cursor = page_from_rows(
        rows, limit, lambda c: {"t": c.created_at.isoformat(), "id": str(c.id)}
    )
    return schemas.Page[schemas.TierChange](
        items=[tier_change_schema(c) for c in items], next_cursor=next_cursor
    )
