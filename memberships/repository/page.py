"""The memberships package's statements of a shop's page (`GET /v1/shops/{shop_id}/page`).

Core statements built once with bind parameters and compiled once for the driver
(core.lean.Statement), run on the page's psycopg connection; rows come back as tuples and
become read-only views with the entities' attribute names (core.lean `Detached.view`) for
the package's schema builders. A fixed
number whatever the counts: programmes, their tiers, their count products; signed in, the
caller's cards there (each with its context, 12-month spend and physical number) and their
paid count passes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import DateTime, Integer, Uuid, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from core.lean import Connection, Detached, Statement
from memberships.models import (
    Card,
    CountPass,
    CountProduct,
    LedgerEntry,
    PhysicalCard,
    Program,
    Tier,
)
from memberships.repository.cards import CardContext

_PROGRAM = Detached(Program)
_TIER = Detached(Tier)
_PRODUCT = Detached(CountProduct)
_CARD = Detached(Card)
_PASS = Detached(CountPass)


def _program_ids() -> Any:
    return bindparam("program_ids", type_=ARRAY(Uuid))


@cache
def _programs_statement() -> Statement:
    p = Program.__table__.c
    return Statement(
        select(*_PROGRAM.columns)
        .where(p.merchant_id == bindparam("merchant_id", type_=Uuid))
        .order_by(p.created_at, p.id)
        .limit(bindparam("limit", type_=Integer))
    )


async def programs_of_merchant(
    connection: Connection, merchant_id: uuid.UUID, limit: int
) -> list[Program]:
    """The merchant's first `limit` programmes by creation."""
    rows = await _programs_statement().all(connection, {"merchant_id": merchant_id, "limit": limit})
    return [_PROGRAM.view(row) for row in rows]


@cache
def _tiers_statement() -> Statement:
    t = Tier.__table__.c
    return Statement(select(*_TIER.columns).where(t.program_id == func.any(_program_ids()))
                     .order_by(t.rank))  # fmt: skip


async def tiers_of(
    connection: Connection, program_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Tier]]:
    grouped: dict[uuid.UUID, list[Tier]] = {pid: [] for pid in program_ids}
    for row in await _tiers_statement().all(connection, {"program_ids": list(program_ids)}):
        tier: Tier = _TIER.view(row)
        grouped[tier.program_id].append(tier)
    return grouped


@cache
def _products_statement() -> Statement:
    c = CountProduct.__table__.c
    return Statement(
        select(*_PRODUCT.columns)
        .where(c.program_id == func.any(_program_ids()), c.active.is_(True))
        .order_by(c.created_at, c.id)
    )


async def active_products_of(
    connection: Connection, program_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CountProduct]]:
    grouped: dict[uuid.UUID, list[CountProduct]] = {pid: [] for pid in program_ids}
    for row in await _products_statement().all(connection, {"program_ids": list(program_ids)}):
        product: CountProduct = _PRODUCT.view(row)
        grouped[product.program_id].append(product)
    return grouped


@dataclass(frozen=True)
class PageCard:
    context: CardContext
    spend_since: int  # the card's spend since the given instant (never below 0)
    physical_number: str | None


@cache
def _cards_statement() -> Statement:
    """The user's cards of these programmes, each with its programme, tier, the spend that
    reaches the next tier, the spend since `since` and its bound physical number."""
    card, tier = Card.__table__.c, Tier.__table__.c
    higher = Tier.__table__.alias("higher")
    ledger, physical = LedgerEntry.__table__.c, PhysicalCard.__table__.c
    next_threshold = (
        select(func.min(higher.c.upgrade_min_spend_12m))
        .where(higher.c.program_id == card.program_id, higher.c.rank > tier.rank)
        .scalar_subquery()
    )
    spend = func.coalesce(
        select(func.sum(ledger.spend_delta))
        .where(
            ledger.card_id == card.id,
            ledger.created_at >= bindparam("since", type_=DateTime(timezone=True)),
        )
        .scalar_subquery(),
        0,
    )
    number = select(physical.number).where(physical.card_id == card.id).limit(1).scalar_subquery()
    return Statement(
        select(*_CARD.columns, *_PROGRAM.columns, *_TIER.columns, next_threshold, spend, number)
        .join_from(Card.__table__, Program.__table__, Program.id == card.program_id)
        .join(Tier.__table__, tier.id == card.tier_id)
        .where(
            card.user_id == bindparam("user_id", type_=Uuid),
            card.program_id == func.any(_program_ids()),
        )
    )


async def cards_of_user_in(
    connection: Connection, user_id: uuid.UUID, program_ids: Sequence[uuid.UUID], since: datetime
) -> list[PageCard]:
    """The user's cards of these programmes (one per programme at most): one statement."""
    rows = await _cards_statement().all(
        connection, {"user_id": user_id, "program_ids": list(program_ids), "since": since}
    )
    a, b = len(_CARD.keys), len(_CARD.keys) + len(_PROGRAM.keys)
    c = b + len(_TIER.keys)
    return [
        PageCard(
            CardContext(_CARD.view(row[:a]), _PROGRAM.view(row[a:b]), _TIER.view(row[b:c]),
                        row[c]),
            max(0, int(row[c + 1])),
            row[c + 2],
        )
        for row in rows
    ]  # fmt: skip


@cache
def _passes_statement() -> Statement:
    p = CountPass.__table__.c
    return Statement(
        select(*_PASS.columns)
        .where(p.card_id == func.any(bindparam("card_ids", type_=ARRAY(Uuid))),
               p.status == "active")
        .order_by(p.created_at.desc(), p.id.desc())
    )  # fmt: skip


async def paid_passes_of(
    connection: Connection, card_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CountPass]]:
    """The cards' paid (active) count passes, newest first."""
    grouped: dict[uuid.UUID, list[CountPass]] = {cid: [] for cid in card_ids}
    for row in await _passes_statement().all(connection, {"card_ids": list(card_ids)}):
        found: CountPass = _PASS.view(row)
        grouped[found.card_id].append(found)
    return grouped
