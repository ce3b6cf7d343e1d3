"""Programs and tiers: creation by a manager, public reading."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.money import Money
from core.pagination import page_from_rows
from memberships import rules, schemas
from memberships.models import Program, Tier
from memberships.repository.programs import ProgramRepository
from memberships.service.cursors import time_id_cursor
from memberships.service.errors import ProgramNotFound


def tier_rule(tier: Tier) -> rules.TierRule:
    return rules.TierRule(
        code=tier.code,
        name=tier.name,
        rank=tier.rank,
        discount_percent=tier.discount_percent,
        earn_points_per_unit=tier.earn_points_per_unit,
        upgrade_min_spend_12m=tier.upgrade_min_spend_12m,
    )


def tier_schema(tier: Tier, currency: str) -> schemas.Tier:
    threshold = tier.upgrade_min_spend_12m
    return schemas.Tier(
        code=tier.code,
        name=tier.name,
        rank=tier.rank,
        discount_percent=tier.discount_percent,
        earn=schemas.EarnRule(points_per_currency_unit=tier.earn_points_per_unit),
        upgrade=schemas.UpgradeRule(
            min_spend_12m=Money.of(threshold, currency) if threshold is not None else None
        ),
    )


def program_schema(program: Program, tiers: list[Tier]) -> schemas.Program:
    return schemas.Program(
        id=program.id,
        merchant_id=program.merchant_id,
        name=program.name,
        currency=program.currency,
        tiers=[tier_schema(t, program.currency) for t in tiers],
        points_expire_months=program.points_expire_months,
        redeem=schemas.RedeemRule(points_per_currency_unit=program.redeem_points_per_unit),
        topup_bonuses=[
            schemas.TopupBonusRule(
                min_amount=Money.of(r["min_amount"], program.currency),
                bonus=Money.of(r["bonus"], program.currency),
            )
            for r in program.topup_bonuses
        ],
        bonus_spend_rule=program.bonus_spend_rule,
        created_at=program.created_at,
    )


async def create_program(
    session: AsyncSession, *, merchant_id: uuid.UUID, data: schemas.ProgramCreate
) -> schemas.Program:
    program = Program(
        merchant_id=merchant_id,
        name=data.name.strip(),
        currency=data.currency,
        points_expire_months=data.points_expire_months,
        redeem_points_per_unit=data.redeem.points_per_currency_unit,
        bonus_spend_rule=data.bonus_spend_rule,
        topup_bonuses=[
            {"min_amount": r.min_amount.amount, "bonus": r.bonus.amount}
            for r in sorted(data.topup_bonuses, key=lambda r: r.min_amount.amount)
        ],
    )
    tiers = [
        Tier(
            merchant_id=merchant_id,
            code=t.code,
            name=t.name.strip(),
            rank=t.rank,
            discount_percent=t.discount_percent,
            earn_points_per_unit=t.earn.points_per_currency_unit,
            upgrade_min_spend_12m=(
                t.upgrade.min_spend_12m.amount if t.upgrade.min_spend_12m is not None else None
            ),
        )
        for t in sorted(data.tiers, key=lambda t: t.rank)
    ]
    repo = ProgramRepository(session)
    await repo.add(program, tiers)
    await session.refresh(program)
    return program_schema(program, tiers)


async def get_program(session: AsyncSession, *, program_id: uuid.UUID) -> schemas.Program:
    repo = ProgramRepository(session)
    program = await repo.get(program_id)
    if program is None:
        raise ProgramNotFound()
    tiers = (await repo.tiers([program.id]))[program.id]
    return program_schema(program, tiers)


async def program_merchant(session: AsyncSession, *, program_id: uuid.UUID) -> uuid.UUID:
    program = await ProgramRepository(session).get(program_id)
    if program is None:
        raise ProgramNotFound()
    return program.merchant_id


async def list_programs(
    session: AsyncSession, *, merchant_id: uuid.UUID, cursor: str | None, limit: int
) -> schemas.Page[schemas.Program]:
    after = time_id_cursor(cursor)
    repo = ProgramRepository(session)
    rows = await repo.list_for_merchant(merchant_id, after, limit)
    items, next_cursor = page_from_rows(
        rows, limit, lambda p: {"t": p.created_at.isoformat(), "id": str(p.id)}
    )
    tiers = await repo.tiers([p.id for p in items])
    return schemas.Page[schemas.Program](
        items=[program_schema(p, tiers[p.id]) for p in items], next_cursor=next_cursor
    )
