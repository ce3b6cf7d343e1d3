"""Points expiry of one card, FIFO by earning date, as an `expiry` ledger row (never commits;
the job in `memberships/jobs.py` walks the candidates, one transaction per card)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.lean import connection_of
from memberships import rules
from memberships.repository.cards import card_context, lock_card
from memberships.repository.ledger import LedgerRepository
from memberships.service.cards import months_ago
from memberships.service.ledger import post_entry


async def expire_card_points(
    session: AsyncSession, *, card_id: uuid.UUID, months: int, now: datetime
) -> int:
    """Expire what is due on one card, under its row lock; returns the points expired."""
    connection = await connection_of(session)
    held = await lock_card(connection, card_id)
    if held is None or held.points == 0:
        return 0
    earned, consumed = await LedgerRepository(session).points_flow(card_id, months_ago(now, months))
    due = rules.points_to_expire(held.points, earned, consumed)
    if due == 0:
        return 0
    ctx = await card_context(connection, card_id)
    assert ctx is not None
    await post_entry(
        session,
        card=ctx.card,
        kind="expiry",
        rule_version=ctx.program.rule_version,
        points=-due,
        note=f"points earned more than {months} months ago",
    )
    return due
