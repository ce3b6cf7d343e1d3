"""Queries of cards: joining, the counter's context, the atomic totals update posting a ledger
entry (statements built once, cached), tiers, PINs and QR token uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.lean import RoleSql, ShopSql
from memberships.models import Card, LedgerEntry, Program, QrTokenUse, Tier

_LEDGER_VALUES = (
    "card_id",
    "merchant_id",
    "kind",
    "points_delta",
    "principal_delta",
    "bonus_delta",
    "currency",
    "amount",
    "paid_amount",
    "spend_delta",
    "shop_id",
    "staff_user_id",
    "reverses_entry_id",
    "topup_id",
    "count_pass_id",
    "uses_delta",
    "uses_after",
    "note",
    "rule_version",
)


@dataclass(frozen=True)
class CardContext:
    """A card with what the counter needs in one round trip."""

    card: Card
    program: Program
    tier: Tier
    next_threshold: int | None


@dataclass(frozen=True)
class Totals:
    points: int
    principal: int
    bonus: int
    lifetime_spend: int


def cards_with_context() -> Any:
    """Cards with their program, tier and the spend that reaches the next tier (None at the
    top): the columns of a `CardContext`."""
    higher = Tier.__table__.alias("higher")
    next_threshold = (
        select(func.min(higher.c.upgrade_min_spend_12m))
        .where(higher.c.program_id == Card.program_id, higher.c.rank > Tier.rank)
        .scalar_subquery()
    )
    return (
        select(Card, Program, Tier, next_threshold)
        .join(Program, Program.id == Card.program_id)
        .join(Tier, Tier.id == Card.tier_id)
    )


@cache
def _context_statement(by: str) -> Any:
    """A card's context by id (`p_card_id`) or by number (`p_number`), built once."""
    stmt = cards_with_context()
    if by == "id":
        return stmt.where(Card.id == bindparam("p_card_id", type_=Card.id.type))
    return stmt.where(Card.card_number == bindparam("p_number", type_=Card.card_number.type))


# The counter's statements are built once with bind parameters: building and cache-keying
# them per request cost more CPU than running them.
@cache
def _counter_context_statement(by: str, staff_role: RoleSql, shop_owned: ShopSql) -> Any:
    return _context_statement(by).add_columns(
        staff_role(Card.merchant_id, bindparam("p_staff_user_id", type_=Card.id.type)),
        shop_owned(Card.merchant_id, bindparam("p_shop_id", type_=Card.id.type)),
    )


@cache
def _post_statement() -> Any:
    """The conditional card UPDATE feeding the ledger INSERT: one statement, one round trip.
    Core tables (an ORM insert run with a parameter dict would be a bulk insert); parameters
    are prefixed so that none is taken for a SET column."""
    c = Card.__table__.c
    points = bindparam("p_points", type_=c.points.type)
    principal = bindparam("p_principal", type_=c.principal.type)
    bonus = bindparam("p_bonus", type_=c.bonus.type)
    spend = bindparam("p_spend", type_=c.lifetime_spend.type)
    card = (
        update(Card.__table__)  # type: ignore[arg-type]
        .where(
            c.id == bindparam("p_card_id", type_=c.id.type),
            c.points + points >= 0,
            c.principal + principal >= 0,
            c.bonus + bonus >= 0,
        )
        .values(
            points=c.points + points,
            principal=c.principal + principal,
            bonus=c.bonus + bonus,
            lifetime_spend=func.greatest(c.lifetime_spend + spend, 0),
            updated_at=func.now(),
        )
        .returning(c.points, c.principal, c.bonus, c.lifetime_spend)
        .cte("card")
    )
    e = LedgerEntry.__table__.c
    entry = (
        insert(LedgerEntry.__table__)  # type: ignore[arg-type]
        .from_select(
            ["id", *_LEDGER_VALUES, "points_after", "principal_after", "bonus_after"],
            select(
                bindparam("p_id", type_=e.id.type),
                *(bindparam(f"p_{name}", type_=e[name].type) for name in _LEDGER_VALUES),
                card.c.points,
                card.c.principal,
                card.c.bonus,
            ),
        )
        .returning(*e)
        .cte("entry")
    )
    return select(entry, card.c.lifetime_spend).select_from(entry.join(card, true()))


def holders_in_tiers_select(
    merchant_id: uuid.UUID, tier_codes: list[str], *, program_id: uuid.UUID | None = None
) -> Select[uuid.UUID]:
    """SELECT DISTINCT user_id of the merchant's card holders at these tier codes."""
    stmt = (
        select(Card.user_id)
        .join(Tier, Tier.id == Card.tier_id)
        .where(
            Card.merchant_id == merchant_id,
            Tier.code.in_(tier_codes),
            Card.user_id.is_not(None),  # a walk-in's card has nobody to send to yet
        )
        .distinct()
    )
    if program_id is not None:
        stmt = stmt.where(Card.program_id == program_id)
    return stmt  # type: ignore[return-value]


class CardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> Card | None:
        """The new card, or None when the user already has one or the number is taken."""
        stmt = insert(Card).values(**values).on_conflict_do_nothing().returning(Card)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def holders_in_tiers(
        self,
        merchant_id: uuid.UUID,
        tier_codes: list[str],
        *,
        program_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Users holding a card of the merchant at one of these tier codes."""
        stmt = holders_in_tiers_select(merchant_id, tier_codes, program_id=program_id)
        if user_id is not None:
            stmt = stmt.where(Card.user_id == user_id)
        return list((await self.session.execute(stmt)).scalars())

    async def holder_has_card(
        self,
        program_id: uuid.UUID,
        user_id: uuid.UUID | None,
        customer_id: uuid.UUID | None = None,
        legacy_number: str | None = None,
    ) -> bool:
        """Whether a card of the programme already belongs to this user or customer record,
        or carries this member-book number."""
        holders = []
        if user_id is not None:
            holders.append(Card.user_id == user_id)
        if customer_id is not None:
            holders.append(Card.customer_id == customer_id)
        if legacy_number is not None:
            holders.append(Card.legacy_number == legacy_number)
        if not holders:
            return False
        stmt = select(Card.id).where(Card.program_id == program_id, or_(*holders))
        return (await self.session.execute(stmt)).first() is not None

    async def context(
        self, *, card_id: uuid.UUID | None = None, card_number: str | None = None
    ) -> CardContext | None:
        params: dict[str, Any]
        if card_id is not None:
            stmt, params = _context_statement("id"), {"p_card_id": card_id}
        else:
            stmt, params = _context_statement("number"), {"p_number": card_number}
        row = (await self.session.execute(stmt, params)).one_or_none()
        if row is None:
            return None
        return CardContext(row[0], row[1], row[2], row[3])

    async def contexts_for_user(
        self, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[CardContext]:
        stmt = cards_with_context().where(Card.user_id == user_id)
        if after is not None:
            stmt = stmt.where(
                or_(
                    Card.created_at < after[0],
                    and_(Card.created_at == after[0], Card.id < after[1]),
                )
            )
        stmt = stmt.order_by(Card.created_at.desc(), Card.id.desc()).limit(limit + 1)
        return [CardContext(r[0], r[1], r[2], r[3]) for r in await self.session.execute(stmt)]

    async def counter_context(
        self,
        *,
        card_id: uuid.UUID | None = None,
        card_number: str | None = None,
        staff_user_id: uuid.UUID,
        shop_id: uuid.UUID,
        staff_role: RoleSql,
        shop_owned: ShopSql,
    ) -> tuple[CardContext, str | None, bool] | None:
        """`context` plus the caller's role at the card's merchant and whether the counter's
        shop is that merchant's, in one statement: `staff_role` and `shop_owned` (from the
        accounts and merchants services) build those SQL expressions over `Card.merchant_id`
        and a bind parameter."""
        by = "id" if card_id is not None else "number"
        stmt = _counter_context_statement(by, staff_role, shop_owned)
        params: dict[str, Any] = {"p_staff_user_id": staff_user_id, "p_shop_id": shop_id}
        if card_id is not None:
            params["p_card_id"] = card_id
        else:
            params["p_number"] = card_number
        row = (await self.session.execute(stmt, params)).one_or_none()
        if row is None:
            return None
        return CardContext(row[0], row[1], row[2], row[3]), row[4], bool(row[5])

    async def post(
        self,
        values: dict[str, Any],
        *,
        points: int,
        principal: int,
        bonus: int,
        spend: int,
    ) -> tuple[LedgerEntry, Totals] | None:
        """`apply` and the ledger INSERT with the totals after it, in one statement; None
        (and nothing written) when a total would go negative. `values` are the entry's
        columns in `_LEDGER_VALUES`."""
        params = {f"p_{name}": values.get(name) for name in _LEDGER_VALUES}
        params["p_uses_delta"] = values.get("uses_delta") or 0
        params.update(
            p_id=new_id(),
            p_points=points,
            p_principal=principal,
            p_bonus=bonus,
            p_spend=spend,
        )
        row = (await self.session.execute(_post_statement(), params)).one_or_none()
        if row is None:
            return None
        mapping = dict(row._mapping)
        lifetime_spend = mapping.pop("lifetime_spend")
        # a detached instance carrying the inserted row (entries are never updated)
        entry = LedgerEntry(**mapping)
        totals = Totals(
            entry.points_after, entry.principal_after, entry.bonus_after, lifetime_spend
        )
        return entry, totals

    async def lock(self, card_id: uuid.UUID) -> Totals | None:
        c = Card.__table__.c
        stmt = (
            select(c.points, c.principal, c.bonus, c.lifetime_spend)
            .where(c.id == card_id)
            .with_for_update()
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return Totals(row[0], row[1], row[2], row[3]) if row else None

    async def set_pin_hash(self, card_id: uuid.UUID, pin_hash: str) -> None:
        await self.session.execute(
            update(Card)
            .where(Card.id == card_id)
            .values(pin_hash=pin_hash, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )

    async def spend_since(self, card_ids: list[uuid.UUID], since: datetime) -> dict[uuid.UUID, int]:
        stmt = (
            select(LedgerEntry.card_id, func.coalesce(func.sum(LedgerEntry.spend_delta), 0))
            .where(LedgerEntry.card_id.in_(card_ids), LedgerEntry.created_at >= since)
            .group_by(LedgerEntry.card_id)
        )
        found = {row[0]: int(row[1]) for row in await self.session.execute(stmt)}
        return {cid: max(0, found.get(cid, 0)) for cid in card_ids}

    async def use_qr_token(self, token_id: str, card_id: uuid.UUID) -> bool:
        """Consume a QR token; False if it was used before (a replayed screenshot)."""
        stmt = (
            insert(QrTokenUse)
            .values(token_id=token_id, card_id=card_id)
            .on_conflict_do_nothing()
            .returning(QrTokenUse.token_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def purge_qr_token_uses(self, before: datetime) -> int:
        result = await self.session.execute(delete(QrTokenUse).where(QrTokenUse.used_at < before))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
