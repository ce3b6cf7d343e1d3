"""Queries of programs: their tiers and card designs.

What a card transaction or a join reads of a programme (the programme with its entry tier, a
rule version's snapshot, the current tiers) are `core.lean.Statement`s run on the
transaction's driver connection, a lean route's or an ORM session's; they load detached
objects, never flushed. Editing a programme loads its rows into the session instead."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, Uuid, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.lean import Connection, Detached, Statement
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


_PROGRAM, _TIER = Detached(Program), Detached(Tier)


@cache
def _statements() -> dict[str, Statement]:
    program, tier = Program.__table__.c, Tier.__table__.c
    v = ProgramVersion.__table__.c
    program_id = bindparam("program_id", type_=Uuid)
    return {
        "with_entry": Statement(
            select(*_PROGRAM.columns, *_TIER.columns)
            .select_from(Program.__table__.join(Tier.__table__, tier.program_id == program.id))
            .where(program.id == program_id)
            .order_by(tier.rank)
            .limit(1)
        ),
        "version": Statement(
            select(v.rules).where(
                v.program_id == program_id, v.version == bindparam("version", type_=Integer)
            )
        ),
        "tiers": Statement(
            select(*_TIER.columns).where(tier.program_id == program_id).order_by(tier.rank)
        ),
    }


async def program_with_entry_tier(
    connection: Connection, program_id: uuid.UUID
) -> tuple[Program, Tier] | None:
    """The programme and its entry tier (the lowest rank: where new cards start)."""
    row = await _statements()["with_entry"].one(connection, {"program_id": program_id})
    if row is None:
        return None
    split = len(_PROGRAM.keys)
    return _PROGRAM.build(row[:split]), _TIER.build(row[split:])


async def version_rules(
    connection: Connection, program_id: uuid.UUID, version: int
) -> dict[str, Any] | None:
    """The rules snapshot of one rule version (None: the version has none)."""
    params = {"program_id": program_id, "version": version}
    row = await _statements()["version"].one(connection, params)
    return row[0] if row is not None else None


async def current_tiers(connection: Connection, program_id: uuid.UUID) -> list[Tier]:
    """The programme's tiers now, by rank."""
    rows = await _statements()["tiers"].all(connection, {"program_id": program_id})
    return [_TIER.build(row) for row in rows]
