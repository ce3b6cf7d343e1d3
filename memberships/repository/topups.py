"""Queries of top-ups: their creation and exactly-once completion."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import Topup


class TopupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, topup: Topup) -> Topup:
        self.session.add(topup)
        await self.session.flush()
        await self.session.refresh(topup)
        return topup

    async def by_reference(self, reference: str) -> Topup | None:
        stmt = select(Topup).where(Topup.provider_reference == reference)
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def complete(self, topup_id: uuid.UUID, status: str, at: datetime) -> Topup | None:
        """Move a pending top-up on, exactly once; None if it was no longer pending."""
        stmt = (
            update(Topup)
            .where(Topup.id == topup_id, Topup.status == "pending")
            .values(status=status, completed_at=at)
            .returning(Topup)
            .execution_options(synchronize_session=False)
        )
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def paid_references(self, card_id: uuid.UUID) -> list[str]:
        """The payment references of the card's paid top-ups."""
        stmt = select(Topup.provider_reference).where(
            Topup.card_id == card_id, Topup.status == "succeeded"
        )
        return list((await self.session.execute(stmt)).scalars())
