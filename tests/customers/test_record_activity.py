from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

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


async def test_weekly_rollup_matches_the_timeline_under_concurrency(
    client: ApiClient, sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    """customer_weeks (written by record_activity's statement) equals the figures recomputed
    from the timeline, with concurrent events of the same customers in the same weeks."""
    owner = await client.register()
    merchant = await client.merchant(owner, timezone="Asia/Shanghai")
    merchant_id = uuid.UUID(merchant["id"])
    users = [uuid.UUID((await client.register()).user_id) for _ in range(3)]
    # Sunday 15:30 UTC = Sunday 23:30 Shanghai; +1 h is already next week locally
    sunday = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    kinds = ["card_transaction", "coupon_claimed", "coupon_redeemed", "card_topup"]

    async def one(i: int) -> None:
        async with sessionmaker.begin() as session:
            await record_activity(session, merchant_id=merchant_id, user_id=users[i % 3],
                                  kind=kinds[i % 4],  # type: ignore[arg-type]
                                  at=sunday + timedelta(hours=(i % 5) - 1, days=7 * (i % 2)),
                                  spend=(i % 4) * 150)  # fmt: skip

    await asyncio.gather(*(one(i) for i in range(48)))
    timeline = text(
        """
        SELECT CAST(date_trunc('week', at AT TIME ZONE 'Asia/Shanghai') AS date) AS week,
               sum(amount) AS revenue, count(*) FILTER (WHERE visit) AS visits,
               count(DISTINCT customer_id) FILTER (WHERE visit) AS visitors
        FROM customer_events WHERE merchant_id = :m GROUP BY 1 ORDER BY 1
        """
    )
    rollup = text(
        """
        SELECT week, sum(revenue) AS revenue, sum(visits) AS visits, sum(visitors) AS visitors
        FROM customer_weeks WHERE merchant_id = :m GROUP BY 1 ORDER BY 1
        """
    )
    async with sessionmaker.begin() as session:
        expected = [tuple(r) for r in await session.execute(timeline, {"m": merchant_id})]
        got = [tuple(r) for r in await session.execute(rollup, {"m": merchant_id})]
    assert len(expected) == 3  # the local week before, the week of, and the week after
    assert got == expected
