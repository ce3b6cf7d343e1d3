"""Segment rules compiled to SQL over the customers table, and saved segments."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, Uuid, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncSession

from core.lean import Connection, Statement
from customers.models import Customer, Segment
from customers.schemas.segments import SegmentRules


def _range(column: Any, bounds: Any) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if bounds.min is not None:
        out.append(column >= bounds.min)
    if bounds.max is not None:
        out.append(column <= bounds.max)
    return out


def compile_rules(rules: SegmentRules, *, now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE conditions (ANDed) on `customers` that a segment's rules mean.

    Relative rules (no visit for N days) are evaluated against `now`, so a saved segment's
    membership moves with time. RFM rules read the stored scores (see customers.refresh_rfm).
    """
    c = Customer
    conds: list[ColumnElement[bool]] = []
    if rules.r_score:
        conds += _range(c.r_score, rules.r_score)
    if rules.f_score:
        conds += _range(c.f_score, rules.f_score)
    if rules.m_score:
        conds += _range(c.m_score, rules.m_score)
    if rules.rfm_segments:
        conds.append(c.rfm_segment.in_(rules.rfm_segments))
    if rules.visits:
        conds += _range(c.visits, rules.visits)
    if rules.total_spend:
        conds += _range(c.total_spend, rules.total_spend)
    if rules.last_visit_before is not None:
        conds.append(c.last_visit_at < rules.last_visit_before)
    if rules.last_visit_after is not None:
        conds.append(c.last_visit_at >= rules.last_visit_after)
    if rules.no_visit_for_days is not None:
        # never visited counts as "no visit for N days" once the customer is that old
        cutoff = now - timedelta(days=rules.no_visit_for_days)
        conds.append(func.coalesce(c.last_visit_at, c.first_seen_at) < cutoff)
    if rules.visited_within_days is not None:
        conds.append(c.last_visit_at >= now - timedelta(days=rules.visited_within_days))
    if rules.tiers:
        conds.append(c.tier.in_(rules.tiers))
    if rules.tags_any:
        conds.append(c.tags.overlap(array([literal(t) for t in rules.tags_any])))
    if rules.tags_all:
        conds.append(c.tags.contains(array([literal(t) for t in rules.tags_all])))
    if rules.refuses_calls is not None:
        conds.append(c.refuses_calls.is_(rules.refuses_calls))
    if rules.no_shows_at_least is not None:
        conds.append(c.no_shows >= rules.no_shows_at_least)
    return conds


class SegmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, segment: Segment) -> Segment:
        self.session.add(segment)
        await self.session.flush()
        await self.session.refresh(segment)
        return segment

    async def get(self, merchant_id: uuid.UUID, segment_id: uuid.UUID) -> Segment | None:
        stmt = select(Segment).where(Segment.merchant_id == merchant_id, Segment.id == segment_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self, merchant_id: uuid.UUID, after: uuid.UUID | None, limit: int
    ) -> list[Segment]:
        stmt = select(Segment).where(Segment.merchant_id == merchant_id)
        if after is not None:
            stmt = stmt.where(Segment.id < after)
        stmt = stmt.order_by(Segment.id.desc()).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def count(self, merchant_id: uuid.UUID, conds: list[ColumnElement[bool]]) -> int:
        stmt = (
            select(func.count())
            .select_from(Customer)
            .where(Customer.merchant_id == merchant_id, *conds)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    @staticmethod
    def user_ids_select(merchant_id: uuid.UUID, conds: list[ColumnElement[bool]]) -> Select[Any]:
        return select(Customer.user_id).where(Customer.merchant_id == merchant_id, *conds)

    async def user_ids(
        self, merchant_id: uuid.UUID, conds: list[ColumnElement[bool]]
    ) -> list[uuid.UUID]:
        stmt = self.user_ids_select(merchant_id, conds).order_by(Customer.user_id)
        return list((await self.session.execute(stmt)).scalars())


# A claim of a segment campaign tests the claimant on the claim's transaction (a lean route's
# connection or a session's: core.lean)
@cache
def _rules_statement() -> Statement:
    s = Segment.__table__.c
    return Statement(
        select(s.rules).where(
            s.merchant_id == bindparam("merchant_id", type_=Uuid),
            s.id == bindparam("segment_id", type_=Uuid),
        )
    )


async def saved_rules(
    connection: Connection, merchant_id: uuid.UUID, segment_id: uuid.UUID
) -> dict[str, Any] | None:
    """The merchant's saved segment's rules (None: no such segment)."""
    params = {"merchant_id": merchant_id, "segment_id": segment_id}
    row = await _rules_statement().one(connection, params)
    return row[0] if row is not None else None


async def contains(
    connection: Connection,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
    conds: list[ColumnElement[bool]],
) -> bool:
    """Whether the user is the merchant's customer matching `conds`. The conditions are a
    segment's own: the statement is compiled for this call, its values bound in it."""
    statement = Statement(
        select(Customer.id)
        .where(Customer.merchant_id == merchant_id, Customer.user_id == user_id, *conds)
        .limit(1)
    )
    return await statement.one(connection, {}) is not None
