"""Queries of the tier review: which cards may have to change tier, the conditional move of a
card's tier and its record, a card's tier history.

The move and its record are `core.lean.Statement`s (a purchase at the counter can move a card
up: they run on the transaction's driver connection, a lean route's or an ORM session's)."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import String, Uuid, and_, bindparam, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.lean import Connection, Detached, Statement
from memberships.models import Card, Tier, TierChange
from memberships.repository.cards import next_threshold

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


_TIER, _CHANGE = Detached(Tier), Detached(TierChange)
_CHANGE_VALUES = ("card_id", "merchant_id", "from_tier", "to_tier", "direction", "reason",
                  "spend_12m", "currency", "rule_version")  # fmt: skip


@cache
def _move_statement() -> Statement:
    """The card moved to the tier with code `code` of its programme, if it is still in
    `from_tier_id` and that tier is another one: the new tier's row and the spend that
    reaches the tier after it."""
    c, t = Card.__table__.c, Tier.__table__.c
    return Statement(
        update(Card.__table__)  # type: ignore[arg-type]
        .where(
            c.id == bindparam("card_id", type_=Uuid),
            c.tier_id == bindparam("from_tier_id", type_=Uuid),
            t.program_id == c.program_id,
            t.code == bindparam("code", type_=String),
            t.id != c.tier_id,
        )
        .values(tier_id=t.id)
        .returning(*_TIER.columns, next_threshold())
    )


async def move_tier(
    connection: Connection, card_id: uuid.UUID, *, from_tier_id: uuid.UUID, code: str
) -> tuple[Tier, int | None] | None:
    """Move the card to its programme's tier `code` if it is still in `from_tier_id`: the
    new tier and its next threshold; None when someone moved it first or the programme has
    no such tier (any more)."""
    params = {"card_id": card_id, "from_tier_id": from_tier_id, "code": code}
    row = await _move_statement().one(connection, params)
    # a read-only view, as the card context's tier (memberships.repository.cards)
    return (_TIER.view(row[:-1]), row[-1]) if row is not None else None


@cache
def _record_statement() -> Statement:
    c = TierChange.__table__.c
    return Statement(
        insert(TierChange.__table__)  # type: ignore[arg-type]
        .values(
            id=bindparam("id", type_=Uuid),
            **{name: bindparam(name, type_=c[name].type) for name in _CHANGE_VALUES},
        )
        .returning(*_CHANGE.columns)
    )


async def record_change(connection: Connection, values: dict[str, Any]) -> TierChange:
    """The tier change's row (`values`: its columns in `_CHANGE_VALUES`)."""
    row = await _record_statement().one(connection, {"id": new_id(), **values})
    assert row is not None
    return _CHANGE.build(row)  # type: ignore[no-any-return]
