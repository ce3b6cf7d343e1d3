"""The bookings board (issue 19 point 6): staff move bookings booked → arrived → completed |
no_show, book for a customer who phoned (a walk-in customer made from the phone), and no-shows
reach the customer's profile and segments."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from core.timezones import utcnow, zone
from tests.helpers import Actor, ApiClient, assert_problem, fresh_phone
from tests.orders.helpers import Store

SHANGHAI = zone("Asia/Shanghai")


def _tomorrow() -> date:
    return (utcnow().astimezone(SHANGHAI) + timedelta(days=1)).date()


def _at(day: date, hhmm: str) -> str:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=SHANGHAI).isoformat()


async def _book(client: ApiClient, store: Store, who: Actor, starts_at: str, **extra: Any) -> Any:
    return await client.post(
        f"/v1/shops/{store.shop_id}/bookings",
        json={"offering_id": store.haircut["id"], "starts_at": starts_at, **extra},
        headers=who.headers,
    )


async def _status(client: ApiClient, booking_id: str, who: Actor, status: str) -> Any:
    return await client.patch(
        f"/v1/bookings/{booking_id}", json={"status": status}, headers=who.headers
    )


def _after(monkeypatch: pytest.MonkeyPatch, starts_at: str, minutes: int = 5) -> None:
    """Move the routes' clock to a few minutes after a booking's start."""
    moved = datetime.fromisoformat(starts_at) + timedelta(minutes=minutes)
    monkeypatch.setattr("orders.routes.bookings.utcnow", lambda: moved)


async def test_board_moves_and_refusals(
    client: ApiClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = _tomorrow()
    first = (await _book(client, store, store.customer, _at(day, "10:00"))).json()
    second = (await _book(client, store, store.customer, _at(day, "11:00"))).json()
    assert first["status"] == "booked" and first["customer_id"]

    # the holder may not move it on the board; a stranger does not see it
    r = await _status(client, first["id"], store.customer, "arrived")
    assert_problem(r, 403, "booking_status_staff_only")
    stranger = await client.register()
    assert_problem(
        await _status(client, first["id"], stranger, "arrived"), 404, "booking_not_found"
    )
    # status with other fields, unknown statuses
    r = await client.patch(
        f"/v1/bookings/{first['id']}",
        json={"status": "arrived", "note": "x"},
        headers=store.clerk.headers,
    )
    assert_problem(r, 422, "booking_update_mixed")
    for bad in ("booked", "cancelled", "ARRIVED", "", None, 1):
        r = await client.patch(
            f"/v1/bookings/{first['id']}", json={"status": bad}, headers=store.clerk.headers
        )
        if bad is None:  # an explicit null is "no status change": nothing else given either
            assert r.status_code == 200, r.text
            continue
        assert_problem(r, 422, "validation_error")
    # a no-show before the booking has started
    assert_problem(
        await _status(client, first["id"], store.clerk, "no_show"), 409, "booking_not_started"
    )

    # booked → arrived → completed; nothing after completed
    r = await _status(client, first["id"], store.clerk, "arrived")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "arrived" and r.json()["arrived_at"]
    assert r.json()["customer_name"] == "李四"
    assert "****" in r.json()["customer_phone"]  # masked for a clerk
    r = await client.patch(
        f"/v1/bookings/{first['id']}",
        json={"starts_at": _at(day, "12:00")},
        headers=store.clerk.headers,
    )
    body = assert_problem(r, 409, "booking_transition_invalid")
    assert body["from"] == "arrived"
    r = await _status(client, first["id"], store.manager, "completed")
    assert r.status_code == 200 and r.json()["completed_at"], r.text
    assert "****" not in r.json()["customer_phone"]  # a manager sees it whole
    for later in ("arrived", "no_show", "completed"):
        body = assert_problem(
            await _status(client, first["id"], store.clerk, later),
            409,
            "booking_transition_invalid",
        )
        assert (body["from"], body["to"]) == ("completed", later)
    r = await client.post(f"/v1/bookings/{first['id']}/cancel", headers=store.customer.headers)
    assert_problem(r, 409, "booking_transition_invalid")

    # booked → no_show once started; then no arrival
    _after(monkeypatch, second["starts_at"])
    r = await _status(client, second["id"], store.clerk, "no_show")
    assert r.status_code == 200 and r.json()["no_show_at"], r.text
    body = assert_problem(
        await _status(client, second["id"], store.owner, "arrived"),
        409,
        "booking_transition_invalid",
    )
    assert (body["from"], body["to"]) == ("no_show", "arrived")

    # the board lists every status of the shop's day, filterable
    r = await client.get(
        f"/v1/shops/{store.shop_id}/bookings",
        params={"date": day.isoformat()},
        headers=store.clerk.headers,
    )
    assert [(b["id"], b["status"]) for b in r.json()["items"]] == [
        (first["id"], "completed"),
        (second["id"], "no_show"),
    ]
    r = await client.get(
        f"/v1/shops/{store.shop_id}/bookings",
        params={"date": day.isoformat(), "status": "no_show"},
        headers=store.clerk.headers,
    )
    assert [b["id"] for b in r.json()["items"]] == [second["id"]]
    r = await client.get(
        f"/v1/merchants/{store.merchant_id}/bookings",
        params={"date": day.isoformat(), "status": "completed"},
        headers=store.manager.headers,
    )
    assert [b["id"] for b in r.json()["items"]] == [first["id"]]

    # the no-show is on the customer's profile and in a segment
    customer_id = second["customer_id"]
    profile = (
        await client.get(
            f"/v1/merchants/{store.merchant_id}/customers/{customer_id}",
            headers=store.manager.headers,
        )
    ).json()
    assert profile["no_shows"] == 1
    assert profile["no_show_bookings"] == [
        {"booking_id": second["id"], "starts_at": profile["no_show_bookings"][0]["starts_at"]}
    ]
    assert datetime.fromisoformat(profile["no_show_bookings"][0]["starts_at"]) == (
        datetime.fromisoformat(second["starts_at"])
    )
    assert any(e["kind"] == "no_show" for e in profile["timeline"])
    r = await client.post(
        f"/v1/merchants/{store.merchant_id}/segments/preview",
        json={"no_shows_at_least": 1},
        headers=store.manager.headers,
    )
    assert r.status_code == 200 and r.json()["customers"] == 1, r.text
    r = await client.post(
        f"/v1/merchants/{store.merchant_id}/segments",
        json={"name": "爽约两次", "rules": {"no_shows_at_least": 2}},
        headers=store.manager.headers,
    )
    assert r.status_code == 201 and r.json()["customers"] == 0, r.text
    r = await client.post(
        f"/v1/merchants/{store.merchant_id}/segments",
        json={"name": "坏规则", "rules": {"no_shows_at_least": 0}},
        headers=store.manager.headers,
    )
    assert_problem(r, 422, "validation_error")


async def test_conflicting_statuses_at_once_one_wins(
    client: ApiClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two staff press different buttons for the same booking at the same moment: one move
    happens, the other is refused with 409 — never both, never a lost update."""
    day = _tomorrow()
    r = await client.put(
        f"/v1/offerings/{store.haircut['id']}/booking-rule",
        json={"slot_minutes": 60, "capacity": 10},
        headers=store.owner.headers,
    )
    assert r.status_code == 200
    bookings = [
        (await _book(client, store, store.customer, _at(day, "15:00"))).json() for _ in range(6)
    ]
    _after(monkeypatch, bookings[0]["starts_at"])
    for booking in bookings:
        results = await asyncio.gather(
            _status(client, booking["id"], store.clerk, "arrived"),
            _status(client, booking["id"], store.manager, "no_show"),
        )
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200).json()["status"]
        loser = next(r for r in results if r.status_code == 409)
        body = assert_problem(loser, 409, "booking_transition_invalid")
        assert body["from"] == winner
        final = await client.get(f"/v1/bookings/{booking['id']}", headers=store.clerk.headers)
        assert final.json()["status"] == winner
    profile = (
        await client.get(
            f"/v1/merchants/{store.merchant_id}/customers/{bookings[0]['customer_id']}",
            headers=store.owner.headers,
        )
    ).json()
    # exactly the no-shows that won are counted
    finals = [
        (await client.get(f"/v1/bookings/{b['id']}", headers=store.clerk.headers)).json()["status"]
        for b in bookings
    ]
    assert profile["no_shows"] == finals.count("no_show")


async def test_staff_book_for_a_customer(client: ApiClient, store: Store) -> None:
    day = _tomorrow()
    url = f"/v1/merchants/{store.merchant_id}/customers"
    phone = fresh_phone()
    # a phone the merchant does not know: a walk-in customer is made
    r = await _book(
        client, store, store.clerk, _at(day, "10:00"), phone=phone, customer_name="王阿姨"
    )
    assert r.status_code == 201, r.text
    walk_in = r.json()
    assert walk_in["user_id"] is None and walk_in["booked_by"] == store.clerk.user_id
    assert walk_in["customer_name"] == "王阿姨"
    listing = (await client.get(url, params={"q": "王阿姨"}, headers=store.owner.headers)).json()
    assert [c["id"] for c in listing["items"]] == [walk_in["customer_id"]]
    # the same phone again (written another way): the same customer, no second record
    e164 = "+86" + phone.removeprefix("+86")
    r = await _book(client, store, store.manager, _at(day, "11:00"), phone=e164)
    assert r.status_code == 201, r.text
    assert r.json()["customer_id"] == walk_in["customer_id"]
    assert r.json()["customer_phone"] == e164  # a manager sees it whole
    # by customer id: the app customer (their booking holds their user, so it is in /me)
    mine = (await _book(client, store, store.customer, _at(day, "12:00"))).json()
    r = await _book(client, store, store.owner, _at(day, "13:00"), customer_id=mine["customer_id"])
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == store.customer.user_id
    me = (await client.get("/v1/me/bookings", headers=store.customer.headers)).json()
    assert r.json()["id"] in [b["id"] for b in me["items"]]

    # refusals, none of which writes anything
    before = (await client.get(url, headers=store.owner.headers)).json()["items"]
    r = await _book(
        client, store, store.clerk, _at(day, "14:00"), phone=phone, customer_id=mine["customer_id"]
    )
    assert_problem(r, 422, "booking_customer_ambiguous")
    r = await _book(client, store, store.customer, _at(day, "14:00"), phone=fresh_phone())
    assert_problem(r, 403, "booking_customer_staff_only")
    other = await client.register()
    other_merchant = await client.merchant(other, name="别家")
    foreign = await client.post(
        f"/v1/merchants/{other_merchant['id']}/customers",
        json={"phone": fresh_phone(), "name": "别家客户"},
        headers=other.headers,
    )
    assert foreign.status_code == 201, foreign.text
    r = await _book(client, store, store.clerk, _at(day, "14:00"), customer_id=foreign.json()["id"])
    assert_problem(r, 404, "customer_not_found")
    for bad in ("12345", "", "not a phone", "+86" + "1" * 40):
        r = await _book(client, store, store.clerk, _at(day, "14:00"), phone=bad)
        assert_problem(r, 422, "validation_error")
    # a full slot after a new phone: the walk-in customer is not left behind
    r = await client.put(
        f"/v1/offerings/{store.haircut['id']}/booking-rule",
        json={"slot_minutes": 60, "capacity": 1},
        headers=store.owner.headers,
    )
    r = await _book(client, store, store.clerk, _at(day, "10:00"), phone=fresh_phone())
    assert_problem(r, 409, "slot_full")
    after = (await client.get(url, headers=store.owner.headers)).json()["items"]
    assert sorted(c["id"] for c in after) == sorted(c["id"] for c in before)

    # a walk-in customer's no-show counts on their record
    r = await client.get(
        f"/v1/shops/{store.shop_id}/bookings",
        params={"date": day.isoformat()},
        headers=store.clerk.headers,
    )
    names = {b["id"]: b["customer_name"] for b in r.json()["items"]}
    assert names[walk_in["id"]] == "王阿姨"
