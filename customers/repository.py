"""Every query of the customers package."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import case, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from customers.models import Customer


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_activity(
        self,
        *,
        merchant_id: uuid.UUID,
        user_id: uuid.UUID,
        source: str,
        at: datetime,
        spend: int,
        currency: str,
        visit: bool,
    ) -> uuid.UUID:
        stmt = insert(Customer).values(
            merchant_id=merchant_id,
            user_id=user_id,
            first_seen_at=at,
            last_activity_at=at,
            last_visit_at=at if visit else None,
            visits=1 if visit else 0,
            total_spend=spend,
            currency=currency,
            source=source,
        )
        existing = Customer.__table__.c
        upsert = stmt.on_conflict_do_update(
            index_elements=[existing.merchant_id, existing.user_id],
            set_={
                "first_seen_at": func.least(existing.first_seen_at, stmt.excluded.first_seen_at),
                "last_activity_at": func.greatest(
                    existing.last_activity_at, stmt.excluded.last_activity_at
                ),
                "last_visit_at": case(
                    (stmt.excluded.last_visit_at.is_(None), existing.last_visit_at),
                    else_=func.greatest(existing.last_visit_at, stmt.excluded.last_visit_at),
                ),
                "visits": existing.visits + stmt.excluded.visits,
                "total_spend": existing.total_spend + stmt.excluded.total_spend,
            },
        ).returning(existing.id)
        return (await self.session.execute(upsert)).scalar_one()
