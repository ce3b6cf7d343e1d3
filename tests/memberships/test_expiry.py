from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from core.timezones import utcnow
from memberships.jobs import expire_points
from memberships.models import LedgerEntry
from tests.helpers import ApiClient
from tests.memberships.helpers import counter, join, make_setup, money, set_pin


async def test_points_expire_fifo_by_earning_date(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    setup = await make_setup(client, points_expire_months=12)
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    number = card["card_number"]
    now = utcnow()

    async def earn(amount: int, age: timedelta) -> None:
        r = await counter(client, setup.clerk, setup, number, "purchase", amount=money(amount))
        async with sessionmaker.begin() as session:  # back-date the earning (test only)
            await session.execute(
                update(LedgerEntry)
                .where(LedgerEntry.id == uuid.UUID(r.json()["entry"]["id"]))
                .values(created_at=now - age)
            )

    await earn(10_000, timedelta(days=400))  # 100 points, 13 months old
    await earn(5_000, timedelta(days=180))  # 50 points, 6 months old
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=30, pin="135790")
    assert r.status_code == 201

    # the 30 spent came out of the oldest 100: 70 of them are left to expire
    assert await expire_points(sessionmaker, now=now) == 1
    assert await expire_points(sessionmaker, now=now) == 0  # nothing due twice
    ledger = (await client.get(f"/v1/cards/{card['id']}/ledger", headers=member.headers)).json()[
        "items"
    ]
    assert (ledger[0]["kind"], ledger[0]["points_delta"], ledger[0]["points_after"]) == (
        "expiry",
        -70,
        50,
    )

    # seven months on, the second batch has expired too
    assert await expire_points(sessionmaker, now=now + timedelta(days=215)) == 1
    card_now = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    assert card_now["points"] == 0


async def test_programs_without_expiry_keep_points(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    setup = await make_setup(client)
    member, card = await join(client, setup)
    await counter(client, setup.clerk, setup, card["card_number"], "purchase", amount=money(10_000))
    assert await expire_points(sessionmaker, now=utcnow() + timedelta(days=3650)) == 0
