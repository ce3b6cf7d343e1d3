"""Bookings: slots from opening hours, capacity under concurrency, reschedule, cancel,
reminders, the staff's day view."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.timezones import utcnow, zone
from merchants.opening import periods_on
from orders import service, slots
from orders.models import BookingReminder
from tests.coupons.helpers import fast_users
from tests.helpers import ApiClient, assert_problem
from tests.orders.helpers import Store

SHANGHAI = zone("Asia/Shanghai")


def _tomorrow() -> date:
    return (utcnow().astimezone(SHANGHAI) + timedelta(days=1)).date()


def _at(day: date, hhmm: str) -> str:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=SHANGHAI).isoformat()


async def _book(client: ApiClient, store: Store, who: Any, starts_at: str, **extra: Any) -> Any:
    return await client.post(
        f"/v1/shops/{store.shop_id}/bookings",
        json={"offering_id": store.haircut["id"], "starts_at": starts_at, **extra},
        headers=who.headers,
    )


def test_slot_grid_pure() -> None:
    periods = [
        {"day": 0, "open": "09:00", "close": "11:00"},
        {"day": 0, "open": "22:00", "close": "01:00"},
    ]
    monday = date(2026, 11, 23)

    def weekly(day: date) -> list[tuple[int, int]]:
        return periods_on(periods, [], day)

    starts = slots.slot_starts(weekly, monday, 60, SHANGHAI)
    local = [s.astimezone(SHANGHAI).strftime("%d %H:%M") for s in starts]
    assert local == ["23 09:00", "23 10:00", "23 22:00", "23 23:00", "24 00:00"]
    after_midnight = datetime(2026, 11, 24, 0, 0, tzinfo=SHANGHAI)
    assert slots.is_slot_start(weekly, after_midnight, 60, SHANGHAI)
    assert not slots.is_slot_start(
        weekly, datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI), 60, SHANGHAI
    )
    assert not slots.is_slot_start(
        weekly, datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI), 60, SHANGHAI
    )
    assert slots.slot_starts(weekly, monday, 180, SHANGHAI) == [
        datetime(2026, 11, 23, 22, 0, tzinfo=SHANGHAI).astimezone(UTC)
    ]
    # special hours replace that Monday's periods (the late one's tail included)
    special = [{"date": "2026-11-23", "closed": False, "open": "10:00", "close": "12:00"}]

    def holiday(day: date) -> list[tuple[int, int]]:
        return periods_on(periods, special, day)

    local = [s.astimezone(SHANGHAI).strftime("%d %H:%M") for s in slots.slot_starts(
        holiday, monday, 60, SHANGHAI)]  # fmt: skip
    assert local == ["23 10:00", "23 11:00"]
    assert not slots.is_slot_start(holiday, after_midnight, 60, SHANGHAI)
    closed = [{"date": "2026-11-23", "closed": True}]
    assert slots.slot_starts(lambda d: periods_on(periods, closed, d), monday, 60, SHANGHAI) == []


async def test_slots_book_reschedule_cancel(
    client: ApiClient, store: Store, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    rule_url = f"/v1/offerings/{store.haircut['id']}/booking-rule"
    assert (await client.get(rule_url)).json() == {
        "offering_id": store.haircut["id"],
        "slot_minutes": 60,
        "capacity": 1,
    }
    r = await client.put(
        rule_url, json={"slot_minutes": 30, "capacity": 2}, headers=store.clerk.headers
    )
    assert_problem(r, 403, "forbidden")
    stranger = await client.register()
    r = await client.put(
        rule_url, json={"slot_minutes": 30, "capacity": 2}, headers=stranger.headers
    )
    assert_problem(r, 404, "offering_not_found")
    r = await client.put(
        rule_url, json={"slot_minutes": 30, "capacity": 2}, headers=store.manager.headers
    )
    assert r.status_code == 200, r.text

    day = _tomorrow()
    listing = await client.get(
        f"/v1/shops/{store.shop_id}/slots",
        params={"offering_id": store.haircut["id"], "date": day.isoformat()},
    )
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert len(items) == 25  # 09:00 … 21:00 every 30 minutes (the last ends at 21:30)
    assert items[0]["starts_at"] == _at(day, "09:00") and items[0]["available"] == 2

    r = await _book(client, store, store.customer, _at(day, "10:00"), party_size=2, note="两位")
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["status"] == "booked" and booking["offering_name"] == "洗剪吹"
    assert booking["ends_at"] == _at(day, "10:30")
    items = (
        await client.get(
            f"/v1/shops/{store.shop_id}/slots",
            params={"offering_id": store.haircut["id"], "date": day.isoformat()},
        )
    ).json()["items"]
    assert [i["available"] for i in items if i["starts_at"] == _at(day, "10:00")] == [0]
    other = await client.register()
    assert_problem(await _book(client, store, other, _at(day, "10:00")), 409, "slot_full")

    # refusals: off the grid, outside opening hours, in the past, not bookable
    assert_problem(await _book(client, store, other, _at(day, "10:10")), 422, "slot_invalid")
    assert_problem(await _book(client, store, other, _at(day, "21:30")), 422, "slot_invalid")
    yesterday = day - timedelta(days=2)
    assert_problem(await _book(client, store, other, _at(yesterday, "10:00")), 422, "slot_in_past")
    r = await client.post(
        f"/v1/shops/{store.shop_id}/bookings",
        json={"offering_id": store.noodles["id"], "starts_at": _at(day, "10:00")},
        headers=other.headers,
    )
    assert_problem(r, 409, "offering_not_bookable")

    # reschedule frees the old slot and takes the new one
    url = f"/v1/bookings/{booking['id']}"
    r = await client.patch(
        url, json={"starts_at": _at(day, "11:00")}, headers=store.customer.headers
    )
    assert r.status_code == 200 and r.json()["starts_at"] == _at(day, "11:00"), r.text
    r = await _book(client, store, other, _at(day, "10:00"), party_size=2)
    assert r.status_code == 201, r.text
    r = await client.patch(
        url, json={"starts_at": _at(day, "10:00")}, headers=store.customer.headers
    )
    assert_problem(r, 409, "slot_full")
    r = await client.patch(url, json={"party_size": 3}, headers=store.customer.headers)
    assert_problem(r, 409, "slot_full")
    assert_problem(
        await client.patch(url, json={"party_size": 1}, headers=stranger.headers),
        404,
        "booking_not_found",
    )
    r = await client.patch(url, json={"party_size": 1}, headers=store.customer.headers)
    assert r.status_code == 200 and r.json()["party_size"] == 1

    # the reminder follows the booking
    async with sessionmaker() as session:
        reminder = (
            await session.execute(
                select(BookingReminder).where(BookingReminder.booking_id == booking["id"])
            )
        ).scalar_one()
        assert reminder.status == "pending"
        assert reminder.remind_at == datetime.fromisoformat(_at(day, "11:00")) - timedelta(hours=2)
    async with sessionmaker.begin() as session:
        assert await service.mark_reminders_due(session, now=utcnow()) == 0
        assert await service.mark_reminders_due(session, now=utcnow() + timedelta(days=3)) == 2

    # staff see the day; the customer sees their own
    day_view = await client.get(
        f"/v1/merchants/{store.merchant_id}/bookings",
        params={"date": day.isoformat()},
        headers=store.clerk.headers,
    )
    assert day_view.status_code == 200
    assert [b["starts_at"] for b in day_view.json()["items"]] == [
        _at(day, "10:00"),
        _at(day, "11:00"),
    ]
    shop_view = await client.get(
        f"/v1/shops/{store.shop_id}/bookings",
        params={"date": day.isoformat()},
        headers=store.clerk.headers,
    )
    assert len(shop_view.json()["items"]) == 2
    mine = await client.get(f"/v1/shops/{store.shop_id}/bookings", headers=store.customer.headers)
    assert [b["id"] for b in mine.json()["items"]] == [booking["id"]]
    assert (
        await client.get(f"/v1/shops/{store.shop_id}/bookings", headers=stranger.headers)
    ).json()["items"] == []
    assert_problem(await client.get(url, headers=stranger.headers), 404, "booking_not_found")
    assert (await client.get(url, headers=store.clerk.headers)).status_code == 200

    assert_problem(
        await client.post(f"{url}/cancel", headers=stranger.headers), 404, "booking_not_found"
    )
    r = await client.post(f"{url}/cancel", headers=store.customer.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_problem(
        await client.post(f"{url}/cancel", headers=store.customer.headers), 409, "booking_cancelled"
    )
    async with sessionmaker() as session:
        reminder = (
            await session.execute(
                select(BookingReminder).where(BookingReminder.booking_id == booking["id"])
            )
        ).scalar_one()
        assert reminder.status == "cancelled"
    items = (
        await client.get(
            f"/v1/shops/{store.shop_id}/slots",
            params={"offering_id": store.haircut["id"], "date": day.isoformat()},
        )
    ).json()["items"]
    assert [i["booked"] for i in items if i["starts_at"] == _at(day, "11:00")] == [0]


async def test_concurrent_booking_of_the_last_seat(
    client: ApiClient,
    store: Store,
    sessionmaker: async_sessionmaker[AsyncSession],
    test_settings: Any,
) -> None:
    r = await client.put(
        f"/v1/offerings/{store.haircut['id']}/booking-rule",
        json={"slot_minutes": 60, "capacity": 3},
        headers=store.owner.headers,
    )
    assert r.status_code == 200
    day = _tomorrow()
    start = _at(day, "15:00")
    assert (await _book(client, store, store.customer, start, party_size=2)).status_code == 201
    people = await fast_users(sessionmaker, test_settings, 12)
    results = await asyncio.gather(*(_book(client, store, p, start) for p in people))
    assert sorted(r.status_code for r in results) == [201] + [409] * 11, [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            assert_problem(r, 409, "slot_full")
    items = (
        await client.get(
            f"/v1/shops/{store.shop_id}/slots",
            params={"offering_id": store.haircut["id"], "date": day.isoformat()},
        )
    ).json()["items"]
    assert [(i["booked"], i["available"]) for i in items if i["starts_at"] == start] == [(3, 0)]
