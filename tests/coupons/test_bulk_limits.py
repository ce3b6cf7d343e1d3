"""Issue 17, finding 8: bulk inserts stay under PostgreSQL's 65,535 bind parameters.

Before: a paper sheet past ~6,553 coupons, or an issue to 10,000 users, was one INSERT with
more than 65,535 parameters, and the driver's refusal was answered 503 as a database outage.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.bulk import BIND_PARAMETER_LIMIT, rows_per_statement
from coupons.models import Coupon
from coupons.service.claim import MAX_PAPER_ISSUED_PER_REQUEST
from tests.coupons.helpers import published_campaign, shopfront
from tests.helpers import ApiClient, assert_problem


def test_batches_fit_the_parameter_limit() -> None:
    assert rows_per_statement(10) * 10 <= BIND_PARAMETER_LIMIT
    assert rows_per_statement(1) < BIND_PARAMETER_LIMIT


async def test_a_paper_sheet_far_down_the_campaign(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front, total_quantity=50_000, min_spend=None)
    url = f"/v1/campaigns/{campaign['id']}/paper-sheet.pdf"
    r = await client.get(url, params={"start": 6600, "count": 12}, headers=front.owner.headers)
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF")
    async with sessionmaker() as session:
        paper = await session.scalar(select(func.count()).where(Coupon.source == "paper"))
    assert paper == 6612
    # one request issues a bounded number of earlier coupons
    far = {"start": 6612 + MAX_PAPER_ISSUED_PER_REQUEST, "count": 1}
    r = await client.get(url, params=far, headers=front.owner.headers)
    assert_problem(r, 422, "validation_error")


async def test_issue_to_ten_thousand_users(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    front = await shopfront(client)
    campaign = await published_campaign(client, front, total_quantity=10_000, min_spend=None)
    user_ids = [uuid.uuid4() for _ in range(10_000)]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO users (id, phone, password_hash, display_name)"
                " SELECT u, '+861' || lpad((7000000000 + n)::text, 10, '0'), 'x', 'bulk'"
                " FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS t(u, n)"
            ),
            {"ids": user_ids},
        )
    r = await client.post(
        f"/v1/campaigns/{campaign['id']}/issue",
        json={"user_ids": [str(u) for u in user_ids]},
        headers=front.owner.headers,
    )
    assert r.status_code == 200, r.text[:500]
    assert r.json()["issued"] == 10_000
    async with sessionmaker() as session:
        issued = await session.scalar(select(func.count()).where(Coupon.source == "issue"))
    assert issued == 10_000
