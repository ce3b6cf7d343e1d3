"""Queries of programs: their tiers and card designs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from memberships.models import Design, Program, Tier


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
