"""GET /v1/me/bookings: upcoming first (soonest first), then past and cancelled (latest
first), across merchants, paged with a cursor that keeps its order while time passes."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.timezones import utcnow, zone
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import make_store

SHANGHAI = zone("Asia/Shanghai")


def _at(days: int, hhmm: str) -> str:
    day: date = (utcnow().astimezone(SHANGHAI) + timedelta(days=days)).date()
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=SHANGHAI).isoformat()


async def _all_pages(client: ApiClient, headers: dict[str, str], limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/v1/me/bookings", params=params, headers=headers)
        assert r.status_code == 200, r.text
        seen += [b["id"] for b in r.json()["items"]]
        assert len(r.json()["items"]) <= limit
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ended")


async def test_upcoming_first_then_the_rest_latest_first_on_every_page_size(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    store = await make_store(client)
    other = await make_store(client)  # a second merchant: the list spans merchants
    customer = store.customer

    async def book(s, starts_at: str) -> str:  # type: ignore[no-untyped-def]
        r = await client.post(
            f"/v1/shops/{s.shop_id}/bookings",
            json={"offering_id": s.haircut["id"], "starts_at": starts_at},
            headers=customer.headers,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    day2_10 = await book(store, _at(2, "10:00"))
    day1_11 = await book(other, _at(1, "11:00"))
    day1_10 = await book(store, _at(1, "10:00"))
    cancelled = await book(store, _at(3, "10:00"))
    r = await client.post(f"/v1/bookings/{cancelled}/cancel", headers=customer.headers)
    assert r.status_code == 200, r.text
    old = await book(store, _at(4, "10:00"))
    older = await book(other, _at(5, "10:00"))
    async with sessionmaker.begin() as session:  # two bookings that already happened
        for booking_id, days_ago in ((old, 2), (older, 9)):
            await session.execute(
                text(
                    "UPDATE bookings SET starts_at = now() - make_interval(days => :d),"
                    " ends_at = now() - make_interval(days => :d) + interval '1 hour'"
                    " WHERE id = :id"
                ),
                {"id": uuid.UUID(booking_id), "d": days_ago},
            )
    stranger = await client.register()
    r = await client.post(
        f"/v1/shops/{store.shop_id}/bookings",
        json={"offering_id": store.haircut["id"], "starts_at": _at(1, "12:00")},
        headers=stranger.headers,
    )
    assert r.status_code == 201

    # cancelled (day 3) is later than the past ones, so it leads the second part
    expected = [day1_10, day1_11, day2_10, cancelled, old, older]
    for limit in (1, 2, 3, 4, 6, 100):
        assert await _all_pages(client, customer.headers, limit) == expected, limit

    first = (await client.get("/v1/me/bookings", headers=customer.headers)).json()["items"]
    assert first[0]["offering_name"] == "洗剪吹" and first[0]["starts_at"].endswith("+08:00")
    assert first[3]["status"] == "cancelled"
    theirs = (await client.get("/v1/me/bookings", headers=stranger.headers)).json()["items"]
    assert [b["id"] for b in theirs] == [r.json()["id"]]


async def test_a_booking_ending_while_paging_is_neither_repeated_nor_lost(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    store = await make_store(client)
    ids = []
    for days in (1, 2, 3):
        r = await client.post(
            f"/v1/shops/{store.shop_id}/bookings",
            json={"offering_id": store.haircut["id"], "starts_at": _at(days, "10:00")},
            headers=store.customer.headers,
        )
        ids.append(r.json()["id"])
    r = await client.get("/v1/me/bookings", params={"limit": 1}, headers=store.customer.headers)
    assert [b["id"] for b in r.json()["items"]] == ids[:1]
    cursor = r.json()["next_cursor"]
    async with sessionmaker.begin() as session:  # the second one is over now
        await session.execute(
            text(
                "UPDATE bookings SET starts_at = now() - interval '2 hours',"
                " ends_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": uuid.UUID(ids[1])},
        )
    rest: list[str] = []
    while cursor:
        r = await client.get(
            "/v1/me/bookings", params={"limit": 1, "cursor": cursor}, headers=store.customer.headers
        )
        rest += [b["id"] for b in r.json()["items"]]
        cursor = r.json()["next_cursor"]
    assert sorted(ids[:1] + rest) == sorted(ids) and len(rest) == 2


async def test_bad_cursors_and_anonymous_callers(client: ApiClient) -> None:
    actor = await client.register()
    for cursor in (
        "garbage!",
        "eyJuIjoxfQ",
        "eyJuIjogIngiLCAicyI6IDAsICJ0IjogbnVsbCwgImlkIjogbnVsbH0",
    ):
        r = await client.get("/v1/me/bookings", params={"cursor": cursor}, headers=actor.headers)
        assert_problem(r, 422, "invalid_cursor")
    assert (await client.get("/v1/me/bookings")).status_code == 401
    r = await client.get("/v1/me/bookings", params={"limit": 0}, headers=actor.headers)
    assert_problem(r, 422, "validation_error")
