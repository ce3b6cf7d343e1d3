"""Queries of programs: their tiers and card designs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import Card, Design, Program, ProgramVersion, Tier


class ProgramRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, program: Program, tiers: list[Tier]) -> None:
        self.session.add(program)
        await self.session.flush()
        for tier in tiers:
            tier.program_id = program.id
        self.session.add_all(tiers)
        await self.session.flush()

    async def get(self, program_id: uuid.UUID) -> Program | None:
        return await self.session.get(Program, program_id)

    async def lock(self, program_id: uuid.UUID) -> Program | None:
        stmt = select(Program).where(Program.id == program_id).with_for_update()
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def add_version(self, version: ProgramVersion) -> None:
        self.session.add(version)
        await self.session.flush()

    async def version(self, program_id: uuid.UUID, version: int) -> ProgramVersion | None:
        return await self.session.get(ProgramVersion, (program_id, version))

    async def versions(
        self, program_id: uuid.UUID, before: int | None, limit: int
    ) -> list[ProgramVersion]:
        stmt = select(ProgramVersion).where(ProgramVersion.program_id == program_id)
        if before is not None:
            stmt = stmt.where(ProgramVersion.version < before)
        stmt = stmt.order_by(ProgramVersion.version.desc()).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())

    async def tiers_holding_cards(self, tier_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        stmt = select(Card.tier_id).where(Card.tier_id.in_(tier_ids)).distinct()
        return set((await self.session.execute(stmt)).scalars())

    async def delete_tiers(self, tier_ids: list[uuid.UUID]) -> bool:
        """False (and nothing deleted) when a card references one of them."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    delete(Tier)
                    .where(Tier.id.in_(tier_ids))
                    .execution_options(synchronize_session="fetch")
                )
        except IntegrityError:
            return False
        return True

    async def park_ranks(self, tier_ids: list[uuid.UUID]) -> None:
        """Move tiers to negative ranks (free, unique), the loaded objects with them."""
        await self.session.execute(
            update(Tier)
            .where(Tier.id.in_(tier_ids))
            .values(rank=-Tier.rank - 1)
            .execution_options(synchronize_session="fetch")
        )

    async def tiers(self, program_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Tier]]:
        stmt = select(Tier).where(Tier.program_id.in_(program_ids)).order_by(Tier.rank)
        grouped: dict[uuid.UUID, list[Tier]] = {pid: [] for pid in program_ids}
        for tier in (await self.session.execute(stmt)).scalars():
            grouped[tier.program_id].append(tier)
        return grouped

    async def list_for_merchant(
        self, merchant_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Program]:
        stmt = select(Program).where(Program.merchant_id == merchant_id)
        if after is not None:
            stmt = stmt.where(
                or_(
                    Program.created_at > after[0],
                    and_(Program.created_at == after[0], Program.id > after[1]),
                )
            )
        stmt = stmt.order_by(Program.created_at, Program.id).limit(limit + 1)
        return list((await self.session.execute(stmt)).scalars())

    async def get_design(self, program_id: uuid.UUID) -> Design | None:
        return await self.session.get(Design, program_id)

    async def upsert_design(self, values: dict[str, Any]) -> Design:
        stmt = insert(Design).values(**values)
        upsert = stmt.on_conflict_do_update(
            index_elements=[Design.program_id],
            set_={k: stmt.excluded[k] for k in values if k != "program_id"}
            | {"updated_at": func.now()},
        ).returning(Design)
        design = (
            await self.session.execute(upsert, execution_options={"populate_existing": True})
        ).scalar_one()
        return design
