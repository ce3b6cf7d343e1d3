"""The per-user claim counter: one conditional upsert per claim (or one per bulk issue).

Invariant: a user's count for a campaign never passes the campaign's per-user limit; a
concurrent twin waits on the row and re-checks the limit, so of two claims at `limit - 1`
exactly one is counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache

from sqlalchemy import bindparam, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.lean import Connection, Statement
from coupons.models import ClaimCounter


class ClaimCounterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def increment_many(
        self, campaign_id: uuid.UUID, user_ids: Sequence[uuid.UUID], *, limit: int
    ) -> list[uuid.UUID]:
        """+1 for each user below the limit; returns those counted (sorted: a fixed lock order
        keeps concurrent bulk issues from deadlocking)."""
        if not user_ids:
            return []
        users = select(
            func.unnest(cast(sorted(set(user_ids)), ARRAY(Uuid))).label("user_id")
        ).subquery("users")
        source = select(
            literal(campaign_id, Uuid).label("campaign_id"), users.c.user_id, literal(1)
        )
        base = insert(ClaimCounter).from_select(
            ["campaign_id", "user_id", "count"], source.order_by(users.c.user_id)
        )
        stmt = base.on_conflict_do_update(
            index_elements=[ClaimCounter.campaign_id, ClaimCounter.user_id],
            set_={"count": ClaimCounter.count + 1},
            where=ClaimCounter.count < limit,
        ).returning(ClaimCounter.user_id)
        return sorted((await self.session.execute(stmt)).scalars())

    async def decrement_many(self, campaign_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> None:
        if not user_ids:
            return
        await self.session.execute(
            update(ClaimCounter)
            .where(ClaimCounter.campaign_id == campaign_id, ClaimCounter.user_id.in_(user_ids))
            .values(count=ClaimCounter.count - 1)
        )


@cache
def _increment_statement() -> Statement:
    c = ClaimCounter.__table__.c
    base = insert(ClaimCounter.__table__).values(  # type: ignore[arg-type]
        campaign_id=bindparam("campaign_id", type_=Uuid),
        user_id=bindparam("user_id", type_=Uuid),
        count=1,
    )
    return Statement(
        base.on_conflict_do_update(
            index_elements=["campaign_id", "user_id"],
            set_={"count": c.count + 1},
            where=c.count < bindparam("per_user_limit", type_=c.count.type),
        ).returning(c.user_id)
    )


async def increment(
    connection: Connection, campaign_id: uuid.UUID, user_id: uuid.UUID, *, limit: int
) -> bool:
    """+1 unless the user is at `limit`; a concurrent twin waits on the row and re-checks."""
    params = {"campaign_id": campaign_id, "user_id": user_id, "per_user_limit": limit}
    return await _increment_statement().one(connection, params) is not None
