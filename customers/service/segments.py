"""Saved segments: rules compiled to SQL, counted live, and audiences for other packages.

Campaigns and flash offers use `segment_user_ids`, `segment_contains` or
`segment_user_ids_select` (a SELECT of user ids to embed in their own targeting query).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession

from core.lean import Db, connection_of
from core.pagination import decode_cursor, encode_cursor
from core.timezones import utcnow
from customers import schemas
from customers.models import Segment
from customers.repository.segments import (
    SegmentRepository,
    compile_rules,
    contains,
    saved_rules,
)
from customers.service.errors import SegmentNotFound


def _rules(segment: Segment) -> schemas.SegmentRules:
    return schemas.SegmentRules.model_validate(segment.rules)


async def _get(session: AsyncSession, merchant_id: uuid.UUID, segment_id: uuid.UUID) -> Segment:
    segment = await SegmentRepository(session).get(merchant_id, segment_id)
    if segment is None:
        raise SegmentNotFound()
    return segment


async def segment_conditions(
    session: AsyncSession, *, merchant_id: uuid.UUID, segment_id: uuid.UUID, now: datetime
) -> list[ColumnElement[bool]]:
    segment = await _get(session, merchant_id, segment_id)
    return compile_rules(_rules(segment), now=now)


async def _segment_schema(
    session: AsyncSession, segment: Segment, now: datetime
) -> schemas.Segment:
    count = await SegmentRepository(session).count(
        segment.merchant_id, compile_rules(_rules(segment), now=now)
    )
    return schemas.Segment(
        id=segment.id,
        merchant_id=segment.merchant_id,
        name=segment.name,
        rules=segment.rules,
        customers=count,
        created_at=segment.created_at,
    )


async def create_segment(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    created_by: uuid.UUID,
    data: schemas.SegmentCreate,
    now: datetime,
) -> schemas.Segment:
    segment = await SegmentRepository(session).add(
        Segment(
            merchant_id=merchant_id,
            name=data.name.strip(),
            rules=data.rules.model_dump(mode="json", exclude_none=True),
            created_by=created_by,
        )
    )
    return await _segment_schema(session, segment, now)


async def get_segment(
    session: AsyncSession, *, merchant_id: uuid.UUID, segment_id: uuid.UUID, now: datetime
) -> schemas.Segment:
    return await _segment_schema(session, await _get(session, merchant_id, segment_id), now)


async def list_segments(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> tuple[list[schemas.Segment], str | None]:
    after = decode_cursor(cursor, ("id",))
    rows = await SegmentRepository(session).page(
        merchant_id, uuid.UUID(after["id"]) if after else None, limit + 1
    )
    items = [await _segment_schema(session, s, now) for s in rows[:limit]]
    next_cursor = encode_cursor({"id": str(rows[limit - 1].id)}) if len(rows) > limit else None
    return items, next_cursor


async def preview(
    session: AsyncSession, *, merchant_id: uuid.UUID, rules: schemas.SegmentRules, now: datetime
) -> int:
    return await SegmentRepository(session).count(merchant_id, compile_rules(rules, now=now))


# -- audiences for other packages -----------------------------------------------------------


async def segment_user_ids(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    segment_id: uuid.UUID,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """User ids of the segment's customers right now (raises SegmentNotFound)."""
    conds = await segment_conditions(
        session, merchant_id=merchant_id, segment_id=segment_id, now=now or utcnow()
    )
    return await SegmentRepository(session).user_ids(merchant_id, conds)


async def segment_contains(
    db: Db,
    *,
    merchant_id: uuid.UUID,
    segment_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> bool:
    """Whether the user is in the merchant's segment now (a claim's audience test, on the
    claim's transaction: `Db`)."""
    connection = await connection_of(db)
    rules = await saved_rules(connection, merchant_id, segment_id)
    if rules is None:
        raise SegmentNotFound()
    conds = compile_rules(schemas.SegmentRules.model_validate(rules), now=now or utcnow())
    return await contains(connection, merchant_id, user_id, conds)


async def segment_user_ids_select(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    segment_id: uuid.UUID,
    now: datetime | None = None,
) -> Select[Any]:
    """`SELECT user_id FROM customers WHERE …` for use as a subquery in a targeting query."""
    conds = await segment_conditions(
        session, merchant_id=merchant_id, segment_id=segment_id, now=now or utcnow()
    )
    return SegmentRepository.user_ids_select(merchant_id, conds)
