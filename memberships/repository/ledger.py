"""Queries of the card ledger: entries, reversals, pages, and FIFO points expiry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import Card, LedgerEntry


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, values: dict[str, Any]) -> LedgerEntry:
        stmt = insert(LedgerEntry).values(**values).returning(LedgerEntry)
        return (await self.session.execute(stmt)).scalar_one()

    async def get_for_update(self, entry_id: uuid.UUID) -> LedgerEntry | None:
        stmt = select(LedgerEntry).where(LedgerEntry.id == entry_id).with_for_update()
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def is_users_transaction_at_shop(
        self, entry_id: uuid.UUID, *, user_id: uuid.UUID, shop_id: uuid.UUID
    ) -> bool:
        """A purchase/spend at the counter of that shop, on a card held by that user."""
        stmt = (
            select(LedgerEntry.id)
            .join(Card, Card.id == LedgerEntry.card_id)
            .where(
                LedgerEntry.id == entry_id,
                LedgerEntry.shop_id == shop_id,
                Card.user_id == user_id,
                LedgerEntry.kind.in_(("earn", "spend_points", "spend_balance", "count_use")),
            )
        )
        return (await self.session.execute(stmt)).first() is not None

    async def is_reversed(self, entry_id: uuid.UUID) -> bool:
        stmt = select(LedgerEntry.id).where(LedgerEntry.reverses_entry_id == entry_id)
        return (await self.session.execute(stmt)).first() is not None

    async def page(self, card_id: uuid.UUID, before_seq: int | None, limit: int) -> list[Any]:
        stmt = select(LedgerEntry).where(LedgerEntry.card_id == card_id)
        if before_seq is not None:
            stmt = stmt.where(LedgerEntry.seq < before_seq)
        stmt = stmt.order_by(LedgerEntry.seq.desc()).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())

    async def expiry_candidates(self, now: datetime, limit: int) -> list[tuple[uuid.UUID, int]]:
        """Cards of programs with expiry that have points due (FIFO, see rules.py)."""
        stmt = text(
            """
            SELECT c.id, p.points_expire_months
            FROM cards c
            JOIN card_programs p ON p.id = c.program_id
            CROSS JOIN LATERAL (
                SELECT
                    coalesce(sum(l.points_delta) FILTER (
                        WHERE l.points_delta > 0
                        AND l.created_at <= :now - make_interval(months => p.points_expire_months)
                    ), 0) AS earned,
                    coalesce(-sum(l.points_delta) FILTER (WHERE l.points_delta < 0), 0) AS consumed
                FROM card_ledger l
                WHERE l.card_id = c.id
            ) flow
            WHERE p.points_expire_months IS NOT NULL AND c.points > 0
              AND flow.earned > flow.consumed
            ORDER BY c.id
            LIMIT :limit
            """
        )
        rows = await self.session.execute(stmt, {"now": now, "limit": limit})
        return [(row[0], int(row[1])) for row in rows]

    async def points_flow(self, card_id: uuid.UUID, cutoff: datetime) -> tuple[int, int]:
        """(points earned at or before cutoff, points consumed ever) for FIFO expiry."""
        stmt = select(
            func.coalesce(
                func.sum(LedgerEntry.points_delta).filter(
                    LedgerEntry.points_delta > 0, LedgerEntry.created_at <= cutoff
                ),
                0,
            ),
            func.coalesce(
                -func.sum(LedgerEntry.points_delta).filter(LedgerEntry.points_delta < 0), 0
            ),
        ).where(LedgerEntry.card_id == card_id)
        row = (await self.session.execute(stmt)).one()
        return int(row[0]), int(row[1])

    async def sums(self, card_id: uuid.UUID) -> tuple[int, int, int]:
        stmt = select(
            func.coalesce(func.sum(LedgerEntry.points_delta), 0),
            func.coalesce(func.sum(LedgerEntry.principal_delta), 0),
            func.coalesce(func.sum(LedgerEntry.bonus_delta), 0),
        ).where(LedgerEntry.card_id == card_id)
        row = (await self.session.execute(stmt)).one()
        return int(row[0]), int(row[1]), int(row[2])


@dataclass(frozen=True)
class LedgerDayLine:
    """A window's ledger entries of one kind by one staff member, in one currency."""

    kind: str
    staff_user_id: uuid.UUID | None
    currency: str
    count: int
    points: int
    principal: int
    bonus: int
    amount: int
    paid_amount: int
    uses: int


async def ledger_lines(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    shop_id: uuid.UUID | None,
    start: datetime,
    end: datetime,
) -> list[LedgerDayLine]:
    """Entries made in [start, end), summed by kind, staff member and currency; the
    merchant's, or those made at one shop (online top-ups have no shop)."""
    e = LedgerEntry
    stmt = (
        select(
            e.kind,
            e.staff_user_id,
            e.currency,
            func.count(),
            func.coalesce(func.sum(e.points_delta), 0),
            func.coalesce(func.sum(e.principal_delta), 0),
            func.coalesce(func.sum(e.bonus_delta), 0),
            func.coalesce(func.sum(e.amount), 0),
            func.coalesce(func.sum(e.paid_amount), 0),
            func.coalesce(func.sum(e.uses_delta), 0),
        )
        .where(e.merchant_id == merchant_id, e.created_at >= start, e.created_at < end)
        .group_by(e.kind, e.staff_user_id, e.currency)
    )
    if shop_id is not None:
        stmt = stmt.where(e.shop_id == shop_id)
    return [
        LedgerDayLine(r[0], r[1], r[2], *(int(v or 0) for v in r[3:]))
        for r in await session.execute(stmt)
    ]
