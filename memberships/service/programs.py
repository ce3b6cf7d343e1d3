"""Programs and tiers: creation and rule edits by a manager, public reading, rule versions.

Rule versions: the rules (tiers with earn/discount/upgrade, points expiry, redeem rate, top-up
bonuses, purse order) are versioned. `card_programs.rule_version` is the version in force and
`card_program_versions` keeps each version's snapshot. A PATCH that changes the rules locks the
programme row, writes the new rules and the next version's snapshot in one transaction, so a
statement that reads a card's programme and tier sees either all of the old version or all of
the new one; every ledger entry carries the `rule_version` read with the rules it applied.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import localised
from core.lean import Db, connection_of
from core.money import Money
from core.pagination import encode_cursor, page_from_rows
from memberships import rules, schemas
from memberships.models import Program, ProgramVersion, Tier
from memberships.repository.programs import (
    ProgramRepository,
    current_tiers,
    version_rules,
)
from memberships.schemas.programs import foreign_amounts
from memberships.service.cursors import seq_cursor, time_id_cursor
from memberships.service.errors import CurrencyMismatch, ProgramNotFound, TierInUse

CENT = Decimal("0.01")


def tier_rule(tier: Tier) -> rules.TierRule:
    return rules.TierRule(
        code=tier.code,
        name=tier.name,
        rank=tier.rank,
        discount_percent=tier.discount_percent,
        earn_points_per_unit=tier.earn_points_per_unit,
        upgrade_min_spend_12m=tier.upgrade_min_spend_12m,
    )


def tier_schema(tier: Tier | rules.TierRule, currency: str) -> schemas.Tier:
    threshold = tier.upgrade_min_spend_12m
    return schemas.Tier(
        code=tier.code,
        name=tier.name,
        rank=tier.rank,
        discount_percent=tier.discount_percent,
        # as stored (two decimals), whether just created or read back
        earn=schemas.EarnRule(
            points_per_currency_unit=Decimal(tier.earn_points_per_unit).quantize(CENT)
        ),
        upgrade=schemas.UpgradeRule(
            min_spend_12m=Money.of(threshold, currency) if threshold is not None else None
        ),
    )


def _bonus_schemas(bonuses: list[dict[str, Any]], currency: str) -> list[schemas.TopupBonusRule]:
    return [
        schemas.TopupBonusRule(
            min_amount=Money.of(r["min_amount"], currency), bonus=Money.of(r["bonus"], currency)
        )
        for r in bonuses
    ]


def program_schema(program: Program, tiers: list[Tier]) -> schemas.Program:
    return schemas.Program(
        id=program.id,
        merchant_id=program.merchant_id,
        name=program.name,
        description=program.description,
        currency=program.currency,
        tiers=[tier_schema(t, program.currency) for t in tiers],
        points_expire_months=program.points_expire_months,
        redeem=schemas.RedeemRule(points_per_currency_unit=program.redeem_points_per_unit),
        topup_bonuses=_bonus_schemas(program.topup_bonuses, program.currency),
        bonus_spend_rule=program.bonus_spend_rule,
        tier_downgrade=program.tier_downgrade,
        rule_version=program.rule_version,
        created_at=program.created_at,
        updated_at=program.updated_at,
    )


# -- snapshots of the rules --------------------------------------------------------------------


def rules_snapshot(program: Program, tiers: list[Tier]) -> dict[str, Any]:
    """The rules as one JSON document (the migration that created the versions table wrote
    version 1 of older programmes in this same shape)."""
    return {
        "tiers": [
            {
                "code": t.code,
                "name": t.name,
                "rank": t.rank,
                "discount_percent": t.discount_percent,
                "earn_points_per_unit": str(Decimal(t.earn_points_per_unit).quantize(CENT)),
                "upgrade_min_spend_12m": t.upgrade_min_spend_12m,
            }
            for t in sorted(tiers, key=lambda t: t.rank)
        ],
        "redeem_points_per_unit": program.redeem_points_per_unit,
        "topup_bonuses": list(program.topup_bonuses),
        "bonus_spend_rule": program.bonus_spend_rule,
        "points_expire_months": program.points_expire_months,
        "tier_downgrade": program.tier_downgrade,
    }


def snapshot_tiers(snapshot: dict[str, Any]) -> list[rules.TierRule]:
    return [
        rules.TierRule(
            code=t["code"],
            name=t["name"],
            rank=t["rank"],
            discount_percent=t["discount_percent"],
            earn_points_per_unit=Decimal(t["earn_points_per_unit"]),
            upgrade_min_spend_12m=t["upgrade_min_spend_12m"],
        )
        for t in snapshot["tiers"]
    ]


def version_schema(version: ProgramVersion, currency: str) -> schemas.ProgramRuleVersion:
    snapshot = version.rules
    return schemas.ProgramRuleVersion(
        program_id=version.program_id,
        version=version.version,
        created_by=version.created_by,
        created_at=version.created_at,
        tiers=[tier_schema(t, currency) for t in snapshot_tiers(snapshot)],
        points_expire_months=snapshot["points_expire_months"],
        redeem=schemas.RedeemRule(points_per_currency_unit=snapshot["redeem_points_per_unit"]),
        topup_bonuses=_bonus_schemas(snapshot["topup_bonuses"], currency),
        bonus_spend_rule=snapshot["bonus_spend_rule"],
        # versions written before the rule existed had none: cards were never moved down
        tier_downgrade=snapshot.get("tier_downgrade", False),
    )


def _tier_values(t: schemas.TierCreate) -> dict[str, Any]:
    threshold = t.upgrade.min_spend_12m
    return {
        "name": t.name.strip(),
        "rank": t.rank,
        "discount_percent": t.discount_percent,
        "earn_points_per_unit": t.earn.points_per_currency_unit,
        "upgrade_min_spend_12m": threshold.amount if threshold is not None else None,
    }


def _bonus_values(bonuses: list[schemas.TopupBonusRule]) -> list[dict[str, int]]:
    return [
        {"min_amount": r.min_amount.amount, "bonus": r.bonus.amount}
        for r in sorted(bonuses, key=lambda r: r.min_amount.amount)
    ]


# -- the service -------------------------------------------------------------------------------


async def create_program(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    data: schemas.ProgramCreate,
    created_by: uuid.UUID | None = None,
) -> schemas.Program:
    program = Program(
        merchant_id=merchant_id,
        name=data.name.strip(),
        description=data.description,
        currency=data.currency,
        rule_version=1,
        points_expire_months=data.points_expire_months,
        redeem_points_per_unit=data.redeem.points_per_currency_unit,
        bonus_spend_rule=data.bonus_spend_rule,
        tier_downgrade=data.tier_downgrade,
        topup_bonuses=_bonus_values(data.topup_bonuses),
    )
    tiers = [
        Tier(merchant_id=merchant_id, code=t.code, **_tier_values(t))
        for t in sorted(data.tiers, key=lambda t: t.rank)
    ]
    repo = ProgramRepository(session)
    await repo.add(program, tiers)
    await repo.add_version(
        ProgramVersion(
            program_id=program.id,
            version=1,
            merchant_id=merchant_id,
            rules=rules_snapshot(program, tiers),
            created_by=created_by,
        )
    )
    await session.refresh(program)
    return program_schema(program, tiers)


async def update_program(
    session: AsyncSession,
    *,
    program_id: uuid.UUID,
    merchant_id: uuid.UUID,
    data: schemas.ProgramUpdate,
    user_id: uuid.UUID,
) -> schemas.Program:
    """Apply a PATCH under the programme's row lock (concurrent PATCHes queue; versions
    follow each other without gaps); a change of the rules is the next rule version."""
    repo = ProgramRepository(session)
    program = await repo.lock(program_id)
    if program is None or program.merchant_id != merchant_id:
        raise ProgramNotFound()
    fields = data.model_fields_set
    for loc, currency in foreign_amounts(program.currency, data.tiers, data.topup_bonuses):
        raise CurrencyMismatch(
            localised(
                f"会员计划以 {program.currency} 计价，此金额为 {currency}",
                f"The programme counts in {program.currency}, this amount is in {currency}",
            ),
            loc=["body", *loc, "currency"],
        )
    tiers = (await repo.tiers([program.id]))[program.id]
    before = rules_snapshot(program, tiers)

    if "name" in fields and data.name is not None:
        program.name = data.name.strip()
    if "description" in fields:
        program.description = (data.description or "").strip() or None
    if "points_expire_months" in fields:
        program.points_expire_months = data.points_expire_months
    if data.redeem is not None:
        program.redeem_points_per_unit = data.redeem.points_per_currency_unit
    if data.topup_bonuses is not None:
        program.topup_bonuses = _bonus_values(data.topup_bonuses)
    if data.bonus_spend_rule is not None:
        program.bonus_spend_rule = data.bonus_spend_rule
    if data.tier_downgrade is not None:
        program.tier_downgrade = data.tier_downgrade
    if data.tiers is not None:
        tiers = await _replace_tiers(repo, program, tiers, data.tiers)

    after = rules_snapshot(program, tiers)
    if after != before:
        program.rule_version += 1
        await repo.add_version(
            ProgramVersion(
                program_id=program.id,
                version=program.rule_version,
                merchant_id=program.merchant_id,
                rules=after,
                created_by=user_id,
            )
        )
    await session.flush()
    await session.refresh(program)
    return program_schema(program, tiers)


async def _replace_tiers(
    repo: ProgramRepository,
    program: Program,
    current: list[Tier],
    wanted: list[schemas.TierCreate],
) -> list[Tier]:
    """The tiers made equal to `wanted`, matched by code: edited in place (cards keep their
    tier), new ones added, left-out ones removed unless a card still holds them."""
    by_code = {t.code: t for t in current}
    wanted_codes = {t.code for t in wanted}
    removed = [t for t in current if t.code not in wanted_codes]
    if removed:
        held = await repo.tiers_holding_cards([t.id for t in removed])
        if held:
            codes = sorted(t.code for t in removed if t.id in held)
            names = [t.name for t in sorted(removed, key=lambda t: t.code) if t.id in held]
            raise TierInUse(
                localised(
                    f"仍有会员卡属于等级{'、'.join(names)}，请先调整这些卡的等级",
                    f"Cards are still in the tier {', '.join(names)}: move them first",
                ),
                extra={"tiers": codes},
            )
        if not await repo.delete_tiers([t.id for t in removed]):
            # a card was upgraded into one of them since the check (the foreign key refused)
            raise TierInUse(
                localised(
                    "刚有会员卡升入了要删除的等级", "A card moved into a removed tier meanwhile"
                )
            )
    kept = [t for t in current if t.code in wanted_codes]
    # ranks are unique per programme: park the kept tiers on free (negative) ranks first, so
    # that a swap of two ranks never meets the constraint half-way
    await repo.park_ranks([t.id for t in kept])
    result: list[Tier] = []
    for spec in wanted:
        values = _tier_values(spec)
        tier = by_code.get(spec.code)
        if tier is None:
            tier = Tier(program_id=program.id, merchant_id=program.merchant_id, code=spec.code)
            for name, value in values.items():
                setattr(tier, name, value)
            repo.session.add(tier)
        else:
            for name, value in values.items():
                setattr(tier, name, value)
        result.append(tier)
    await repo.session.flush()
    return sorted(result, key=lambda t: t.rank)


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


async def list_rule_versions(
    session: AsyncSession, *, program_id: uuid.UUID, cursor: str | None, limit: int
) -> schemas.Page[schemas.ProgramRuleVersion]:
    """The programme's rule versions, newest first."""
    repo = ProgramRepository(session)
    program = await repo.get(program_id)
    if program is None:
        raise ProgramNotFound()
    rows = await repo.versions(program_id, seq_cursor(cursor), limit)
    next_cursor = encode_cursor({"seq": rows[limit - 1].version}) if len(rows) > limit else None
    return schemas.Page[schemas.ProgramRuleVersion](
        items=[version_schema(v, program.currency) for v in rows[:limit]],
        next_cursor=next_cursor,
    )


async def rule_version_tiers(
    db: Db, *, program_id: uuid.UUID, version: int
) -> list[rules.TierRule]:
    """The tiers as a rule version defined them (a transaction keeps to the version it read)."""
    connection = await connection_of(db)
    snapshot = await version_rules(connection, program_id, version)
    if snapshot is None:  # a programme seeded without its snapshot: its rows are the only truth
        return [tier_rule(t) for t in await current_tiers(connection, program_id)]
    return snapshot_tiers(snapshot)
