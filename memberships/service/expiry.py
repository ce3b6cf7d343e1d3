"""Points expiry, FIFO by earning date: a scheduled job writes `expiry` ledger rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memberships import rules
from memberships.repository.cards import CardRepository
from memberships.repository.ledger import LedgerRepository
from memberships.service.cards import months_ago
from memberships.service.ledger import post_entry


async def expire_card_points(
    session: AsyncSession, *, card_id: uuid.UUID, months: int, now: datetime
) -> int:
    """Expire what is due on one card, under its row lock; returns the points expired."""
    cards = CardRepository(session)
    held = await cards.lock(card_id)
    if held is None or held.points == 0:
        return 0
    earned, consumed = await LedgerRepository(session).points_flow(card_id, months_ago(now, months))
    due = rules.points_to_expire(held.points, earned, consumed)
    if due == 0:
        return 0
    ctx = await cards.context(card_id=card_id)
    assert ctx is not None
    await post_entry(
        session,
        card=ctx.card,
        kind="expiry",
        points=-due,
        note=f"points earned more than {months} months ago",
    )
    return due


async def expire_points(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, batch: int = 500
) -> int:
    """One pass over the cards with points due to expire; each card in its own transaction."""
    async with sessionmaker() as session:
        candidates = await LedgerRepository(session).expiry_candidates(now, batch)
    done = 0
    for card_id, months in candidates:
        async with sessionmaker.begin() as session:
            if await expire_card_points(session, card_id=card_id, months=months, now=now):
                done += 1
    return done
