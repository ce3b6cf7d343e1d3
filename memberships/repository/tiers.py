"""Queries of the tier review: which cards may have to change tier, the conditional move of a
card's tier and its record, a card's tier history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import Card, TierChange

# cards among :ids whose rolling spend reaches a higher tier's threshold, or (programme with
# the downgrade rule) no longer reaches their own tier's; the review decides each under its row
# lock, this only spares it the cards that cannot change
_CANDIDATES = text(
    """
    SELECT c.id
    FROM cards c
    JOIN card_programs p ON p.id = c.program_id
    JOIN card_tiers t ON t.id = c.tier_id
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(l.spend_delta), 0) AS spend
        FROM card_ledger l
        WHERE l.card_id = c.id AND l.created_at >= :since
    ) s
    WHERE c.id = ANY(:ids)
      AND (
        EXISTS (
            SELECT 1 FROM card_tiers h
            WHERE h.program_id = c.program_id AND h.rank > t.rank
              AND h.upgrade_min_spend_12m IS NOT NULL AND s.spend >= h.upgrade_min_spend_12m
        )
        OR (
            p.tier_downgrade AND t.upgrade_min_spend_12m IS NOT NULL
            AND s.spend < t.upgrade_min_spend_12m
        )
      )
    ORDER BY c.id
    """
)


class TierRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def review_batch(
        self, *, after: uuid.UUID | None, limit: int, since: datetime
    ) -> tuple[uuid.UUID | None, list[uuid.UUID]]:
        """(the last card id scanned — None when there were no more cards, the candidates
        among the scanned): the scan walks every card by id, `limit` at a time."""
        stmt = select(Card.id).order_by(Card.id).limit(limit)
        if after is not None:
            stmt = stmt.where(Card.id > after)
        scanned = list((await self.session.execute(stmt)).scalars())
        if not scanned:
            return None, []
        rows = await self.session.execute(_CANDIDATES, {"ids": scanned, "since": since})
        return scanned[-1], [row[0] for row in rows]

    async def move(
        self, card_id: uuid.UUID, *, from_tier_id: uuid.UUID, to_tier_id: uuid.UUID
    ) -> bool:
        """Move the card if it is still in `from_tier_id` (False: someone moved it first)."""
        result = await self.session.execute(
            update(Card)
            .where(Card.id == card_id, Card.tier_id == from_tier_id)
            .values(tier_id=to_tier_id)
            .returning(Card.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def record(self, values: dict[str, Any]) -> TierChange:
        stmt = insert(TierChange).values(**values).returning(TierChange)
        return (await self.session.execute(stmt)).scalar_one()

    async def history(
        self, card_id: uuid.UUID, before: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[TierChange]:
        stmt = select(TierChange).where(TierChange.card_id == card_id)
        if before is not None:
            stmt = stmt.where(
                or_(
                    TierChange.created_at < before[0],
                    and_(TierChange.created_at == before[0], TierChange.id < before[1]),
                )
            )
        stmt = stmt.order_by(TierChange.created_at.desc(), TierChange.id.desc()).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())
