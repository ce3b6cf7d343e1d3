"""Nearby discovery: filters, crs, exact order and pagination, and the query plan."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo import crs
from merchants.repository.nearby import NearbyFilters, _filters, _statement
from tests.helpers import ApiClient, assert_problem, create_shop

CENTRE = (31.2290, 121.4450)  # Jing'an


async def _nearby(client: ApiClient, **params: Any) -> dict[str, Any]:
    r = await client.get("/v1/shops/nearby", params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _all_pages(client: ApiClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await _nearby(client, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_filters_and_crs(client: ApiClient) -> None:
    owner = await client.register()
    m = (await client.merchant(owner))["id"]
    lat, lng = CENTRE
    noodles = await create_shop(client, owner, m, name="老王牛肉面", category="noodles",
                                location={"lat": lat + 0.001, "lng": lng})  # fmt: skip
    laundry = await create_shop(client, owner, m, name="Clean Laundry 洁净洗衣",
                                category="dry_cleaning",
                                location={"lat": lat, "lng": lng + 0.002})  # fmt: skip
    far = await create_shop(client, owner, m, name="远方面馆", category="noodles",
                            location={"lat": lat + 0.05, "lng": lng})  # fmt: skip
    r = await client.post(f"/v1/shops/{laundry['id']}/offerings", headers=owner.headers,
                          json={"name": "衬衫熨烫 shirt ironing",
                                "price": {"amount": 800, "currency": "CNY"}})  # fmt: skip
    assert r.status_code == 201, r.text

    page = await _nearby(client, lat=lat, lng=lng)
    assert [i["id"] for i in page["items"]] == [noodles["id"], laundry["id"]]
    first = page["items"][0]
    assert set(first) >= {"id", "name", "category", "location", "distance_m", "address",
                          "rating", "review_count", "open_now"}  # fmt: skip
    assert abs(first["distance_m"] - 110.9) < 1.0
    assert first["rating"] is None and first["review_count"] == 0

    wide = await _nearby(client, lat=lat, lng=lng, radius_m=10_000)
    assert [i["id"] for i in wide["items"]][-1] == far["id"]
    assert [i["id"] for i in (await _nearby(client, lat=lat, lng=lng, category="dining"))[
        "items"]] == [noodles["id"]]  # fmt: skip
    assert [i["id"] for i in (await _nearby(client, lat=lat, lng=lng, category="laundry"))[
        "items"]] == [laundry["id"]]  # fmt: skip
    for q, expected in (("牛肉", noodles), ("LAUNDRY", laundry), ("熨烫", laundry),
                        ("ironing", laundry), ("洗衣", laundry), ("面馆", noodles)):  # fmt: skip
        found = (await _nearby(client, lat=lat, lng=lng, q=q))["items"]
        assert [i["id"] for i in found] == [expected["id"]], q
    assert (await _nearby(client, lat=lat, lng=lng, q="100%"))["items"] == []
    assert (await _nearby(client, lat=lat, lng=lng, has_offers=True))["items"] == []

    # the same search asked in GCJ-02 answers in GCJ-02, with the same distances
    glat, glng = crs.wgs84_to_gcj02(lat, lng)
    gcj = await _nearby(client, lat=glat, lng=glng, crs="gcj02")
    assert [i["id"] for i in gcj["items"]] == [noodles["id"], laundry["id"]]
    assert abs(gcj["items"][0]["distance_m"] - first["distance_m"]) < 0.2
    moved = crs.wgs84_to_gcj02(lat + 0.001, lng)
    assert abs(gcj["items"][0]["location"]["lat"] - moved[0]) < 1e-6
    blat, blng = crs.from_wgs84(lat, lng, "bd09")
    bd = await _nearby(client, lat=blat, lng=blng, crs="bd09")
    assert [i["id"] for i in bd["items"]] == [noodles["id"], laundry["id"]]

    bad: dict[str, Any]
    for bad in ({"radius_m": 0}, {"radius_m": 50_001}, {"category": "spaceport"},
                {"crs": "mars"}, {"sort": "price"}, {"lat": 91}):  # fmt: skip
        base: dict[str, Any] = {"lat": lat, "lng": lng}
        r = await client.get("/v1/shops/nearby", params=base | bad)
        assert_problem(r, 422, "validation_error")
    r = await client.get("/v1/shops/nearby", params={"lat": lat, "lng": lng, "cursor": "xx"})
    assert_problem(r, 422, "invalid_cursor")


async def test_open_now_in_merchant_timezone(client: ApiClient) -> None:
    owner = await client.register()
    m = (await client.merchant(owner))["id"]
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    yesterday = (now.weekday() - 1) % 7
    started = (now - timedelta(hours=2)).strftime("%H:%M")
    ends = (now + timedelta(hours=1)).strftime("%H:%M")
    # a place that opened yesterday at 23:00 and closes after midnight, an hour from now
    if now.hour < 22:
        hours = [{"day": yesterday, "open": "23:00", "close": ends}]
    else:
        hours = [{"day": now.weekday(), "open": started, "close": ends}]
    lat, lng = CENTRE
    open_shop = await create_shop(client, owner, m, opening_hours=hours, name="open",
                                  location={"lat": lat, "lng": lng})  # fmt: skip
    closed_hours = [{"day": (now.weekday() + 3) % 7, "open": "09:00", "close": "10:00"}]
    await create_shop(client, owner, m, opening_hours=closed_hours, name="closed",
                      location={"lat": lat, "lng": lng + 0.001})  # fmt: skip
    everything = await _nearby(client, lat=lat, lng=lng)
    assert [i["open_now"] for i in everything["items"]] == [True, False]
    only_open = await _nearby(client, lat=lat, lng=lng, open_now=True)
    assert [i["id"] for i in only_open["items"]] == [open_shop["id"]]


async def test_open_at_function_past_midnight(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    hours = '[{"day": 4, "open": "18:00", "close": "02:00"}, {"day": 0, "open": "00:00", "close": "00:00"}]'  # noqa: E501
    cases = [
        ("2026-11-27 19:00+08", "Asia/Shanghai", True),  # Friday evening
        ("2026-11-28 01:59+08", "Asia/Shanghai", True),  # Saturday, Friday's period runs on
        ("2026-11-28 02:00+08", "Asia/Shanghai", False),
        ("2026-11-27 17:59+08", "Asia/Shanghai", False),
        ("2026-11-27 11:00+00", "Asia/Shanghai", True),  # 19:00 in Shanghai
        ("2026-11-27 11:00+00", "Europe/London", False),  # 11:00 in London
        ("2026-11-30 23:59+08", "Asia/Shanghai", True),  # Monday, open around the clock
        ("2026-12-01 00:30+08", "Asia/Shanghai", False),
    ]
    async with sessionmaker() as session:
        for at, tz, expected in cases:
            sql = "SELECT corner_shop_open_at(CAST(:h AS jsonb), :tz, CAST(:at AS timestamptz))"
            params = {"h": hours, "tz": tz, "at": at}
            value = (await session.execute(text(sql), params)).scalar_one()
            assert value is expected, (at, tz)


async def _seed(session: AsyncSession, merchant_id: uuid.UUID, n: int, seed: int) -> None:
    """n shops: a uniform spread over ~20 km plus a dense cluster with exact duplicates."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        if i % 3 == 0:
            lat, lng = CENTRE[0] + rng.gauss(0, 0.003), CENTRE[1] + rng.gauss(0, 0.003)
        else:
            lat, lng = CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.1, 0.1)
        if i % 50 == 1:
            lat, lng = CENTRE  # ties: several shops at one point, ordered by id
        rows.append({"id": uuid.uuid4(), "m": merchant_id, "name": f"shop {i}",
                     "cat": rng.choice(["noodles", "cafe", "barber", "gym"]),
                     "lat": lat, "lng": lng, "rating": rng.choice([0, 3.5, 4, 4.5, 5]),
                     "n": rng.randint(0, 3)})  # fmt: skip
    await session.execute(
        text(
            "INSERT INTO shops (id, merchant_id, name, category, location, address,"
            " opening_hours, rating, review_count, rating_total) VALUES (:id, :m, :name, :cat,"
            " ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography, 'addr', '[]', :rating,"
            " CASE WHEN :rating = 0 THEN 0 ELSE :n + 1 END, 0)"
        ),
        rows,
    )


async def _merchant(client: ApiClient) -> uuid.UUID:
    owner = await client.register()
    return uuid.UUID((await client.merchant(owner))["id"])


async def test_matches_brute_force_with_pagination(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    merchant_id = await _merchant(client)
    async with sessionmaker.begin() as session:
        await _seed(session, merchant_id, 1500, seed=11)
    rng = random.Random(5)
    async with sessionmaker() as session:
        for trial in range(8):
            lat = CENTRE[0] + rng.uniform(-0.05, 0.05) * (trial % 2)
            lng = CENTRE[1] + rng.uniform(-0.05, 0.05) * (trial % 2)
            radius = rng.choice([300, 1000, 2500])
            category = rng.choice([None, "dining"])
            params: dict[str, Any] = {"lat": lat, "lng": lng, "radius_m": radius, "limit": 7}
            cat_sql = ""
            if category:
                params["category"] = category
                cat_sql = " AND category IN ('noodles', 'cafe')"
            brute = (await session.execute(text(
                "SELECT id::text, ST_Distance(location, ST_SetSRID(ST_MakePoint(:lng, :lat),"
                " 4326)::geography) AS d FROM shops WHERE ST_Distance(location,"
                " ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography) <= :r" + cat_sql
                + " ORDER BY d, id"), {"lat": lat, "lng": lng, "r": radius})).all()  # fmt: skip
            got = await _all_pages(client, **params)
            assert [i["id"] for i in got] == [row[0] for row in brute], trial
            for item, row in zip(got, brute, strict=True):
                assert abs(item["distance_m"] - row[1]) <= 0.05
            by_rating = await _all_pages(client, **params, sort="rating")
            assert sorted(i["id"] for i in by_rating) == sorted(row[0] for row in brute)
            keys = [(-(i["rating"] or 0), i["distance_m"]) for i in by_rating]
            assert keys == sorted(keys)


async def test_plan_uses_the_spatial_index(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    merchant_id = await _merchant(client)
    async with sessionmaker.begin() as session:
        for part in range(4):
            await _seed(session, merchant_id, 1500, seed=part)
    async with sessionmaker.begin() as session:
        await session.execute(text("ANALYZE shops"))
    variants = [
        NearbyFilters(lat=CENTRE[0], lng=CENTRE[1], radius_m=2000, at=datetime.now()),
        NearbyFilters(
            lat=CENTRE[0],
            lng=CENTRE[1],
            radius_m=50_000,
            at=datetime.now(),
            categories=["noodles"],
            open_now=True,
            q_pattern="%shop 1%",
            q_categories=[],
        ),  # fmt: skip
        NearbyFilters(lat=40.0, lng=100.0, radius_m=2000, at=datetime.now()),
    ]
    async with sessionmaker.begin() as session:
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        for f in variants:
            statement = _statement("distance", _filters(f), False)
            params = {"lat": f.lat, "lng": f.lng, "radius": f.radius_m, "now": f.at, "n1": 21,
                      "candidates": 50, "categories": f.categories, "q": f.q_pattern,
                      "q_categories": f.q_categories}  # fmt: skip
            explain = text("EXPLAIN " + statement.text)
            plan = "\n".join(r[0] for r in (await session.execute(explain, params)).all())
            assert "Seq Scan on shops" not in plan, plan
            assert "Bitmap Heap Scan on shops" not in plan, plan
            assert "Index Scan using ix_shops_location on shops" in plan, plan
            assert "Order By: (location <->" in plan, plan


async def test_python_opening_hours_agree_with_sql(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    import json
    from datetime import UTC

    from merchants.opening import is_open_at

    rng = random.Random(99)
    marks = ["00:00", "02:00", "09:00", "12:30", "18:00", "21:30", "23:59"]
    cases = []
    for _ in range(300):
        hours = [{"day": rng.randrange(7), "open": rng.choice(marks), "close": rng.choice(marks)}
                 for _ in range(rng.randrange(3))]  # fmt: skip
        at = datetime(2026, 11, 23, tzinfo=UTC) + timedelta(minutes=rng.randrange(7 * 24 * 60))
        tz = rng.choice(["Asia/Shanghai", "Europe/London", "America/New_York"])
        cases.append((hours, tz, at))
    sql = text("SELECT corner_shop_open_at(CAST(:h AS jsonb), :tz, :at)")
    async with sessionmaker() as session:
        for hours, tz, at in cases:
            params = {"h": json.dumps(hours), "tz": tz, "at": at}
            expected = (await session.execute(sql, params)).scalar_one()
            assert is_open_at(hours, tz, at) is expected, (hours, tz, at)
