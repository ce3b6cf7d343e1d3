"""Special hours (holidays, closures, changed hours on a date): validation, `open_now` in the
shop view and the nearby filter, SQL and Python agreeing, and booking slots."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.timezones import zone
from merchants.opening import is_open_at_with_special, special_overlaps
from tests.helpers import ApiClient, assert_problem, create_shop


def _today_local(days: int = 0) -> str:
    return (datetime.now(zone("Asia/Shanghai")).date() + timedelta(days=days)).isoformat()


async def test_special_hours_validation_and_open_now(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    # open around the clock every day: only special hours can close it
    always = [{"day": d, "open": "00:00", "close": "00:00"} for d in range(7)]
    shop = await create_shop(client, owner, merchant["id"], opening_hours=always)
    url = f"/v1/shops/{shop['id']}"
    assert shop["special_hours"] == [] and shop["open_now"] is True

    today = _today_local()
    r = await client.patch(url, json={"special_hours": [{"date": today, "closed": True,
                                                         "note": "盘点"}]},
                           headers=owner.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["open_now"] is False
    assert r.json()["special_hours"][0] == {
        "date": today, "until": today, "closed": True, "open": None, "close": None, "note": "盘点"
    }  # fmt: skip

    nearby = {"lat": 31.2304, "lng": 121.4737, "radius_m": 50}
    found = (await client.get("/v1/shops/nearby", params=nearby)).json()["items"]
    mine = [s for s in found if s["id"] == shop["id"]]
    assert mine and mine[0]["open_now"] is False
    open_ids = {s["id"] for s in (await client.get(
        "/v1/shops/nearby", params={**nearby, "open_now": "true"})).json()["items"]}  # fmt: skip
    assert shop["id"] not in open_ids

    # a multi-day holiday that ended yesterday no longer matters
    r = await client.patch(
        url,
        json={"special_hours": [{"date": _today_local(-5), "until": _today_local(-1),
                                 "closed": True}]},
        headers=owner.headers,
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["open_now"] is True
    open_ids = {s["id"] for s in (await client.get(
        "/v1/shops/nearby", params={**nearby, "open_now": "true"})).json()["items"]}  # fmt: skip
    assert shop["id"] in open_ids

    bad: list[tuple[list[dict[str, Any]], str]] = [
        ([{"date": today, "closed": True}, {"date": today, "open": "10:00", "close": "12:00"}],
         "special_hours_overlap"),
        ([{"date": today, "open": "10:00", "close": "14:00"},
          {"date": today, "open": "13:00", "close": "18:00"}], "special_hours_overlap"),
        # last night's late period runs into this morning's changed hours
        ([{"date": _today_local(-1), "open": "20:00", "close": "03:00"},
          {"date": today, "open": "02:00", "close": "05:00"}], "special_hours_overlap"),
        ([{"date": _today_local(-3), "until": today, "closed": True},
          {"date": _today_local(-1), "open": "09:00", "close": "10:00"}],
         "special_hours_overlap"),
        ([{"date": "2026-13-01", "closed": True}], "validation_error"),
        ([{"date": "0000-01-01", "closed": True}], "validation_error"),
        ([{"date": today, "until": _today_local(-1), "closed": True}], "validation_error"),
        ([{"date": today, "closed": True, "open": "10:00", "close": "12:00"}],
         "validation_error"),
        ([{"date": today, "open": "10:00"}], "validation_error"),
        ([{"date": today, "open": "25:00", "close": "26:00"}], "validation_error"),
        ([{"date": today, "until": "2099-01-01", "closed": True}], "validation_error"),
        ([{"date": today, "closed": True, "note": "假" * 500}], "validation_error"),
    ]  # fmt: skip
    for entries, code in bad:
        r = await client.patch(url, json={"special_hours": entries}, headers=owner.headers)
        assert_problem(r, 422, code)
    r = await client.patch(url, json={"special_hours": None}, headers=owner.headers)
    assert_problem(r, 422, "validation_error")
    # nothing of the refused writes landed
    assert (await client.get(url)).json()["special_hours"][0]["until"] == _today_local(-1)

    fine = [
        {"date": today, "open": "10:00", "close": "12:00"},
        {"date": today, "open": "12:00", "close": "14:00"},
        {"date": _today_local(1), "open": "20:00", "close": "02:00"},
        {"date": _today_local(2), "open": "02:00", "close": "05:00"},
    ]
    r = await client.patch(url, json={"special_hours": fine}, headers=owner.headers)
    assert r.status_code == 200, r.text


def test_overlap_rule_pure() -> None:
    def e(day: str, o: str | None = None, c: str | None = None, **kw: Any) -> dict[str, Any]:
        return {"date": day, "until": kw.get("until", day), "closed": o is None,
                "open": o, "close": c}  # fmt: skip

    assert special_overlaps([e("2026-12-01", "10:00", "12:00"),
                             e("2026-12-01", "12:00", "14:00")]) is None  # fmt: skip
    assert special_overlaps([e("2026-12-01", "10:00", "12:00"),
                             e("2026-12-01", "11:59", "14:00")]) == (0, 1)  # fmt: skip
    assert special_overlaps([e("2026-12-01", "00:00", "00:00"),
                             e("2026-12-01", "23:00", "23:30")]) == (0, 1)  # fmt: skip
    assert special_overlaps([e("2026-12-01", until="2026-12-07"),
                             e("2026-12-07")]) == (0, 1)  # fmt: skip
    assert special_overlaps([e("2026-12-01", until="2026-12-07"), e("2026-12-08")]) is None


async def test_sql_and_python_agree_on_special_hours(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The nearby filter (SQL) and the page's `open_now` (Python) answer alike on random
    weekly hours, special hours and moments, across time zones and midnight."""
    rng = random.Random(1031)
    marks = ["00:00", "02:00", "09:00", "12:30", "18:00", "21:30", "23:59"]
    base = date(2026, 11, 23)
    cases = []
    for _ in range(300):
        hours = [{"day": rng.randrange(7), "open": rng.choice(marks), "close": rng.choice(marks)}
                 for _ in range(rng.randrange(3))]  # fmt: skip
        special = []
        for _ in range(rng.randrange(3)):
            first = base + timedelta(days=rng.randrange(9))
            until = first + timedelta(days=rng.randrange(3))
            if rng.random() < 0.4:
                special.append({"date": first.isoformat(), "until": until.isoformat(),
                                "closed": True, "open": None, "close": None})  # fmt: skip
            else:
                special.append({"date": first.isoformat(), "until": until.isoformat(),
                                "closed": False, "open": rng.choice(marks),
                                "close": rng.choice(marks)})  # fmt: skip
        at = datetime(2026, 11, 23, tzinfo=UTC) + timedelta(minutes=rng.randrange(9 * 24 * 60))
        tz = rng.choice(["Asia/Shanghai", "Europe/London", "America/New_York"])
        cases.append((hours, special, tz, at))
    sql = text("SELECT corner_shop_open_at(CAST(:h AS jsonb), CAST(:s AS jsonb), :tz, :at)")
    async with sessionmaker() as session:
        for hours, special, tz, at in cases:
            params = {"h": json.dumps(hours), "s": json.dumps(special), "tz": tz, "at": at}
            expected = (await session.execute(sql, params)).scalar_one()
            assert is_open_at_with_special(hours, special, tz, at) is expected, (
                hours, special, tz, at)  # fmt: skip


async def test_booking_slots_follow_special_hours(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"])  # 09:00–21:30 every day
    r = await client.post(f"/v1/shops/{shop['id']}/offerings", headers=owner.headers,
                          json={"name": "洗剪吹", "price": {"amount": 8800, "currency": "CNY"},
                                "bookable": True})  # fmt: skip
    offering = r.json()
    holiday, short = _today_local(3), _today_local(4)
    r = await client.patch(
        f"/v1/shops/{shop['id']}",
        json={"special_hours": [{"date": holiday, "closed": True, "note": "元旦"},
                                {"date": short, "open": "10:00", "close": "12:00"}]},
        headers=owner.headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    slots_url = f"/v1/shops/{shop['id']}/slots"
    r = await client.get(slots_url, params={"date": holiday, "offering_id": offering["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    r = await client.get(slots_url, params={"date": short, "offering_id": offering["id"]})
    assert [s["starts_at"][11:16] for s in r.json()["items"]] == ["10:00", "11:00"]
    booker = await client.register()
    r = await client.post(
        f"/v1/shops/{shop['id']}/bookings",
        json={"offering_id": offering["id"], "starts_at": f"{holiday}T10:00:00+08:00"},
        headers=booker.headers,
    )
    assert_problem(r, 422, "slot_invalid")
