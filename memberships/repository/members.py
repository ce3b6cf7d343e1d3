"""Queries for cards of customers staff added (walk-ins, member books) and their lookup."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import Card, LedgerEntry
from memberships.repository.cards import CardContext, cards_with_context


class MemberCardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_number(self, program_id: uuid.UUID, number: str) -> Card | None:
        """The programme's card with this Corner number or member-book number, row-locked."""
        stmt = (
            select(Card)
            .where(
                Card.program_id == program_id,
                or_(Card.card_number == number, Card.legacy_number == number),
            )
            .order_by(Card.card_number == number)  # a Corner number wins over a book number
            .limit(1)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_holder(
        self, program_id: uuid.UUID, customer_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> Card | None:
        """The holder's card in the programme (by customer record or app account), locked."""
        holder = Card.customer_id == customer_id
        if user_id is not None:
            holder = or_(holder, Card.user_id == user_id)
        stmt = select(Card).where(Card.program_id == program_id, holder).limit(1)
        return (await self.session.execute(stmt.with_for_update())).scalar_one_or_none()

    async def opening_totals(self, card_id: uuid.UUID) -> tuple[int, int, int]:
        """(entries, balance, points) the card's opening_balance entries brought."""
        stmt = select(
            func.count(),
            func.coalesce(func.sum(LedgerEntry.principal_delta + LedgerEntry.bonus_delta), 0),
            func.coalesce(func.sum(LedgerEntry.points_delta), 0),
        ).where(LedgerEntry.card_id == card_id, LedgerEntry.kind == "opening_balance")
        row = (await self.session.execute(stmt)).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def contexts_of_holders(
        self,
        merchant_id: uuid.UUID,
        customer_ids: list[uuid.UUID],
        user_ids: list[uuid.UUID],
    ) -> list[CardContext]:
        conditions: list[Any] = [Card.customer_id.in_(customer_ids)]
        if user_ids:
            conditions.append(Card.user_id.in_(user_ids))
        stmt = (
            cards_with_context()
            .where(Card.merchant_id == merchant_id, or_(*conditions))
            .order_by(Card.created_at, Card.id)
        )
        return [CardContext(r[0], r[1], r[2], r[3]) for r in await self.session.execute(stmt)]

    async def link_to_user(self, customer_ids: list[uuid.UUID], user_id: uuid.UUID) -> int:
        """Cards staff issued to these (now linked) customers become the user's too."""
        if not customer_ids:
            return 0
        result = await self.session.execute(
            update(Card)
            .where(Card.customer_id.in_(customer_ids), Card.user_id.is_(None))
            .values(user_id=user_id, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
