from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from customers.models import Customer
from customers.service import record_activity
from tests.helpers import ApiClient


async def test_concurrent_activity_is_counted_exactly(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner = await client.register()
    merchant = await client.merchant(owner)
    consumer = await client.register()
    merchant_id, user_id = uuid.UUID(merchant["id"]), uuid.UUID(consumer.user_id)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    async def one(i: int) -> None:
        async with sessionmaker.begin() as session:
            await record_activity(session, merchant_id=merchant_id, user_id=user_id,
                                  kind="card_transaction", at=start + timedelta(hours=i),
                                  spend=100)  # fmt: skip

    await asyncio.gather(*(one(i) for i in range(40)))
    async with sessionmaker.begin() as session:
        await record_activity(session, merchant_id=merchant_id, user_id=user_id,
                              kind="coupon_claimed", at=start - timedelta(days=1))  # fmt: skip
        customer = (await session.execute(select(Customer))).scalar_one()
    assert customer.visits == 40
    assert customer.total_spend == 4000
    assert customer.first_seen_at == start - timedelta(days=1)
    assert customer.last_visit_at == start + timedelta(hours=39)
