"""Subscriptions: what each user wants to hear about, and followed merchants."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from push.models import Subscription


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_subscription(self, user_id: uuid.UUID) -> Subscription | None:
        return await self.session.get(Subscription, user_id)

    async def put_subscription(self, values: dict[str, Any]) -> Subscription:
        stmt = (
            insert(Subscription)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[Subscription.user_id],
                set_={k: v for k, v in values.items() if k != "user_id"}
                | {"updated_at": func.now()},
            )
            .returning(Subscription)
        )
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one()

    async def follow_merchant(self, *, user_id: uuid.UUID, merchant_id: uuid.UUID) -> bool:
        """Add the merchant to the user's list atomically; True when it was not followed yet."""
        row = await self.session.execute(
            text("""
                INSERT INTO push_subscriptions AS s (user_id, merchant_ids)
                VALUES (:user_id, ARRAY[CAST(:merchant_id AS uuid)])
                ON CONFLICT (user_id) DO UPDATE
                  SET merchant_ids = array_append(s.merchant_ids, CAST(:merchant_id AS uuid)),
                      updated_at = now()
                  WHERE NOT (CAST(:merchant_id AS uuid) = ANY(s.merchant_ids))
                RETURNING 1
            """),
            {"user_id": user_id, "merchant_id": merchant_id},
        )
        return row.first() is not None

    async def unfollow_merchant(self, *, user_id: uuid.UUID, merchant_id: uuid.UUID) -> bool:
        stmt = (
            update(Subscription)
            .where(Subscription.user_id == user_id, Subscription.merchant_ids.any_() == merchant_id)
            .values(merchant_ids=func.array_remove(Subscription.merchant_ids, merchant_id))
        )
        return (await self.session.execute(stmt)).rowcount > 0  # type: ignore[attr-defined, no-any-return]
