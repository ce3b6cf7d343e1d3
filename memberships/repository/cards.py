"""Queries of cards: joining, the counter's context, the atomic totals update posting a ledger
entry, tiers, PINs and QR token uses.

The counter's statements (its card context, the ledger post, the row lock, the 12-month spend,
a QR token's use) are built once and compiled once for the driver (`core.lean.Statement`):
they run on the transaction's psycopg connection, a lean route's or an ORM session's
(`core.lean.connection_of`), and the rows they load are detached objects, never flushed: the
card an instance (its totals and tier are mirrored after a post or a move), its programme,
tier and ledger entries read-only views (`Detached.view`: named tuples with the entity's
attribute names, built in a hundredth of an instance's time; nothing ever writes them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Select,
    Uuid,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.lean import Connection, Detached, RoleSql, ShopSql, Statement
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
    """A card with what the counter needs in one round trip (`program` and `tier` are
    read-only views, see the module's docstring)."""

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


def next_threshold() -> Any:
    """The spend that reaches the card's next tier (None at the top)."""
    higher = Tier.__table__.alias("higher")
    return (
        select(func.min(higher.c.upgrade_min_spend_12m))
        .where(higher.c.program_id == Card.__table__.c.program_id, higher.c.rank > Tier.rank)
        .scalar_subquery()
    )


def _with_program_and_tier() -> Any:
    c = Card.__table__.c
    return Card.__table__.join(Program.__table__, Program.__table__.c.id == c.program_id).join(
        Tier.__table__, Tier.__table__.c.id == c.tier_id
    )


def cards_with_context() -> Any:
    """Cards with their program, tier and the spend that reaches the next tier (None at the
    top): the columns of a `CardContext` (ORM entities, for lists)."""
    return select(Card, Program, Tier, next_threshold()).select_from(_with_program_and_tier())


_CARD, _PROGRAM, _TIER = Detached(Card), Detached(Program), Detached(Tier)
_LEDGER = Detached(LedgerEntry)
_CONTEXT_WIDTH = len(_CARD.keys) + len(_PROGRAM.keys) + len(_TIER.keys) + 1


@cache
def _context_statement(
    by: str, staff_role: RoleSql | None = None, shop_owned: ShopSql | None = None
) -> Statement:
    """A card's context by id (`p_card_id`) or number (`p_number`); with `staff_role` and
    `shop_owned`, also the caller's role at the card's merchant (`p_staff_user_id`) and
    whether the counter's shop (`p_shop_id`) is that merchant's."""
    c = Card.__table__.c
    columns = [*_CARD.columns, *_PROGRAM.columns, *_TIER.columns, next_threshold()]
    if staff_role is not None and shop_owned is not None:
        columns.append(staff_role(c.merchant_id, bindparam("p_staff_user_id", type_=Uuid)))
        columns.append(shop_owned(c.merchant_id, bindparam("p_shop_id", type_=Uuid)))
    where = (
        c.id == bindparam("p_card_id", type_=Uuid)
        if by == "id"
        else c.card_number == bindparam("p_number", type_=c.card_number.type)
    )
    return Statement(select(*columns).select_from(_with_program_and_tier()).where(where))


def _context_of(row: Any) -> CardContext:
    program_at = len(_CARD.keys)
    tier_at = program_at + len(_PROGRAM.keys)
    end = tier_at + len(_TIER.keys)
    return CardContext(
        _CARD.build(row[:program_at]),
        _PROGRAM.view(row[program_at:tier_at]),
        _TIER.view(row[tier_at:end]),
        row[end],
    )


async def card_context(connection: Connection, card_id: uuid.UUID) -> CardContext | None:
    """The card with its programme and tier (detached objects) in one statement."""
    row = await _context_statement("id").one(connection, {"p_card_id": card_id})
    return _context_of(row) if row is not None else None


async def counter_context(
    connection: Connection,
    *,
    card_id: uuid.UUID | None = None,
    card_number: str | None = None,
    staff_user_id: uuid.UUID,
    shop_id: uuid.UUID,
    staff_role: RoleSql,
    shop_owned: ShopSql,
) -> tuple[CardContext, str | None, bool] | None:
    """`card_context` (by id or number) plus the caller's role at the card's merchant and whether
    the counter's shop is that merchant's, in one statement: `staff_role` and `shop_owned`
    (from the accounts and merchants services) build those SQL expressions over the card's
    merchant id and a bind parameter."""
    by = "id" if card_id is not None else "number"
    params: dict[str, Any] = {"p_staff_user_id": staff_user_id, "p_shop_id": shop_id}
    if card_id is not None:
        params["p_card_id"] = card_id
    else:
        params["p_number"] = card_number
    row = await _context_statement(by, staff_role, shop_owned).one(connection, params)
    if row is None:
        return None
    return _context_of(row), row[_CONTEXT_WIDTH], bool(row[_CONTEXT_WIDTH + 1])


@cache
def _post_statement() -> Statement:
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
    return Statement(select(entry, card.c.lifetime_spend).select_from(entry.join(card, true())))


async def post_totals(
    connection: Connection,
    values: dict[str, Any],
    *,
    points: int,
    principal: int,
    bonus: int,
    spend: int,
) -> tuple[LedgerEntry, Totals] | None:
    """The conditional totals UPDATE of the card and the ledger INSERT with the totals after
    it, in one statement; None (and nothing written) when a total would go negative. `values`
    are the entry's columns in `_LEDGER_VALUES`; the entry comes back as a read-only view
    (entries are never updated)."""
    params = {f"p_{name}": values.get(name) for name in _LEDGER_VALUES}
    params["p_uses_delta"] = values.get("uses_delta") or 0
    params.update(
        p_id=new_id(), p_points=points, p_principal=principal, p_bonus=bonus, p_spend=spend
    )
    row = await _post_statement().one(connection, params)
    if row is None:
        return None
    entry: LedgerEntry = _LEDGER.view(row[:-1])
    totals = Totals(entry.points_after, entry.principal_after, entry.bonus_after, row[-1])
    return entry, totals


@cache
def _lock_statement() -> Statement:
    c = Card.__table__.c
    return Statement(
        select(c.points, c.principal, c.bonus, c.lifetime_spend)
        .where(c.id == bindparam("card_id", type_=Uuid))
        .with_for_update()
    )


async def lock_card(connection: Connection, card_id: uuid.UUID) -> Totals | None:
    """The card's row lock (held to the end of the transaction) and its totals."""
    row = await _lock_statement().one(connection, {"card_id": card_id})
    return Totals(row[0], row[1], row[2], row[3]) if row else None


@cache
def _spend_statement() -> Statement:
    e = LedgerEntry.__table__.c
    ids = bindparam("card_ids", type_=ARRAY(Uuid()))
    return Statement(
        select(e.card_id, func.coalesce(func.sum(e.spend_delta), 0))
        .where(e.card_id == func.any(ids), e.created_at >= bindparam("since"))
        .group_by(e.card_id)
    )


async def spend_since(
    connection: Connection, card_ids: list[uuid.UUID], since: datetime
) -> dict[uuid.UUID, int]:
    """Each card's spend in its ledger since `since` (never below 0)."""
    rows = await _spend_statement().all(connection, {"card_ids": card_ids, "since": since})
    found = {row[0]: int(row[1]) for row in rows}
    return {cid: max(0, found.get(cid, 0)) for cid in card_ids}


@cache
def _qr_use_statement() -> Statement:
    q = QrTokenUse.__table__
    return Statement(
        insert(q)  # type: ignore[arg-type]
        .values(token_id=bindparam("p_token_id"), card_id=bindparam("p_card_id", type_=Uuid))
        .on_conflict_do_nothing()
        .returning(q.c.token_id)
    )


async def use_qr_token(connection: Connection, token_id: str, card_id: uuid.UUID) -> bool:
    """Consume a QR token; False if it was used before (a replayed screenshot)."""
    row = await _qr_use_statement().one(connection, {"p_token_id": token_id, "p_card_id": card_id})
    return row is not None


# the columns a new card's row gives (memberships.service.cards.issue_card); the totals start
# at 0 (their defaults are the model's, which a compiled statement does not apply), the other
# columns have server defaults
_NEW_CARD_VALUES = ("id", "program_id", "merchant_id", "user_id", "customer_id", "legacy_number",
                    "card_number", "tier_id", "currency")  # fmt: skip


@cache
def _insert_statement() -> Statement:
    c = Card.__table__.c
    return Statement(
        insert(Card.__table__)  # type: ignore[arg-type]
        .values(
            {name: bindparam(f"p_{name}", type_=c[name].type) for name in _NEW_CARD_VALUES}
            | {"points": 0, "principal": 0, "bonus": 0, "lifetime_spend": 0}
        )
        .on_conflict_do_nothing()
        .returning(*_CARD.columns)
    )


async def insert_card(connection: Connection, values: dict[str, Any]) -> Card | None:
    """The new card (detached), or None when a unique key refused it: the holder already has
    one in the programme, the member-book number or the random card number is taken."""
    params = {f"p_{name}": values.get(name) for name in _NEW_CARD_VALUES}
    params["p_id"] = new_id()
    row = await _insert_statement().one(connection, params)
    return _CARD.build(row) if row is not None else None


@cache
def _holder_statement() -> Statement:
    c = Card.__table__.c
    # a NULL parameter compares to nothing: only the holders given can match
    return Statement(
        select(c.id)
        .where(
            c.program_id == bindparam("program_id", type_=Uuid),
            or_(
                c.user_id == bindparam("user_id", type_=Uuid),
                c.customer_id == bindparam("customer_id", type_=Uuid),
                c.legacy_number == bindparam("legacy_number", type_=c.legacy_number.type),
            ),
        )
        .limit(1)
    )


async def holder_has_card(
    connection: Connection,
    program_id: uuid.UUID,
    user_id: uuid.UUID | None,
    customer_id: uuid.UUID | None = None,
    legacy_number: str | None = None,
) -> bool:
    """Whether a card of the programme already belongs to this user or customer record, or
    carries this member-book number."""
    params = {"program_id": program_id, "user_id": user_id, "customer_id": customer_id,
              "legacy_number": legacy_number}  # fmt: skip
    return await _holder_statement().one(connection, params) is not None


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


@cache
def _holders_in_tiers_statement() -> Statement:
    c, t = Card.__table__.c, Tier.__table__.c
    program_id = bindparam("program_id", type_=Uuid)
    user_id = bindparam("user_id", type_=Uuid)
    return Statement(
        select(c.user_id)
        .select_from(Card.__table__.join(Tier.__table__, t.id == c.tier_id))
        .where(
            c.merchant_id == bindparam("merchant_id", type_=Uuid),
            t.code == func.any(bindparam("tier_codes", type_=ARRAY(t.code.type))),
            c.user_id.is_not(None),  # a walk-in's card has nobody to send to yet
            or_(program_id.is_(None), c.program_id == program_id),
            or_(user_id.is_(None), c.user_id == user_id),
        )
        .distinct()
    )


async def holders_in_tiers(
    connection: Connection,
    merchant_id: uuid.UUID,
    tier_codes: list[str],
    *,
    program_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Users holding a card of the merchant at one of these tier codes (of one programme
    when `program_id` is given); `user_id` narrows it to a membership test."""
    params = {"merchant_id": merchant_id, "tier_codes": tier_codes, "program_id": program_id,
              "user_id": user_id}  # fmt: skip
    return [row[0] for row in await _holders_in_tiers_statement().all(connection, params)]


class CardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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

    async def set_pin_hash(self, card_id: uuid.UUID, pin_hash: str) -> None:
        await self.session.execute(
            update(Card)
            .where(Card.id == card_id)
            .values(pin_hash=pin_hash, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )

    async def purge_qr_token_uses(self, before: datetime) -> int:
        result = await self.session.execute(delete(QrTokenUse).where(QrTokenUse.used_at < before))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
