"""Segments (rules → SQL, live counts, audiences) and analytics (RFM, churn, weekly)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from core.timezones import utcnow
from customers import rfm
from customers.models import Customer
from customers.service import segment_contains, segment_user_ids, segment_user_ids_select
from customers.service.analytics import refresh_rfm_scores
from tests.customers.helpers import customer, shop_with_owner
from tests.helpers import ApiClient, assert_problem


async def test_segment_rules_count_live_and_serve_audiences(
    client: ApiClient, sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    now = utcnow()
    recent = now - timedelta(days=2)
    old = now - timedelta(days=90)
    big, big_id = await customer(
        client, sessionmaker, mid, [("card_transaction", recent, 50_000)] * 3, name="大客户"
    )
    lapsed, lapsed_id = await customer(
        client, sessionmaker, mid, [("card_transaction", old, 2_000)], name="流失客户"
    )
    await customer(client, sessionmaker, mid, [("coupon_claimed", recent, 0)], name="新关注")
    await client.patch(
        f"/v1/merchants/{mid}/customers/{big_id}", json={"tags": ["vip"]}, headers=owner.headers
    )

    url = f"/v1/merchants/{mid}/segments"
    r = await client.post(
        url,
        json={"name": "高价值", "rules": {"total_spend": {"min": 100_000}, "tags_any": ["vip"]}},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    vip = r.json()
    assert vip["customers"] == 1
    r = await client.post(
        url,
        json={"name": "沉睡", "rules": {"no_visit_for_days": 30, "visits": {"min": 1}}},
        headers=owner.headers,
    )
    sleeping = r.json()
    assert sleeping["customers"] == 1
    r = await client.post(
        url,
        json={"name": "x", "rules": {"last_visit_before": (now - timedelta(days=30)).isoformat()}},
        headers=clerk.headers,
    )
    assert_problem(r, 403, "forbidden")
    assert_problem(
        await client.post(url, json={"name": "空", "rules": {}}, headers=owner.headers),
        422,
        "validation_error",
    )
    assert_problem(
        await client.post(
            url,
            json={"name": "坏", "rules": {"visits": {"min": 5, "max": 1}}},
            headers=owner.headers,
        ),
        422,
        "validation_error",
    )
    r = await client.post(
        f"{url}/preview",
        json={"last_visit_after": (now - timedelta(days=7)).isoformat()},
        headers=clerk.headers,
    )
    assert r.json() == {"customers": 1}

    listed = await client.get(url, headers=clerk.headers)
    assert {s["name"]: s["customers"] for s in listed.json()["items"]} == {"高价值": 1, "沉睡": 1}
    r = await client.get(
        f"/v1/merchants/{mid}/customers",
        params={"segment_id": sleeping["id"]},
        headers=owner.headers,
    )
    assert [c["id"] for c in r.json()["items"]] == [lapsed_id]
    r = await client.get(
        f"/v1/merchants/{mid}/customers",
        params={"segment_id": str(uuid.uuid4())},
        headers=owner.headers,
    )
    assert_problem(r, 404, "segment_not_found")

    async with sessionmaker() as session:
        m, s = uuid.UUID(mid), uuid.UUID(vip["id"])
        assert await segment_user_ids(session, merchant_id=m, segment_id=s) == [
            uuid.UUID(big.user_id)
        ]
        assert await segment_contains(
            session, merchant_id=m, segment_id=s, user_id=uuid.UUID(big.user_id)
        )
        assert not await segment_contains(
            session, merchant_id=m, segment_id=s, user_id=uuid.UUID(lapsed.user_id)
        )
        query = await segment_user_ids_select(session, merchant_id=m, segment_id=s)
        assert list((await session.execute(query)).scalars()) == [uuid.UUID(big.user_id)]
        # another merchant's segment id is not found from here
        other_owner, other_mid = await shop_with_owner(client)
        from customers.service import SegmentNotFound

        try:
            await segment_user_ids(session, merchant_id=uuid.UUID(other_mid), segment_id=s)
        except SegmentNotFound:
            pass
        else:
            raise AssertionError("segment leaked across merchants")


async def test_rfm_scores_match_ntile_and_feed_segments(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    now = utcnow()
    spend = [3_000, 500, 12_000, 800, 40_000, 2_200, 100, 7_700, 15_000, 950, 60_000, 4_100]
    ids = []
    for i, amount in enumerate(spend):
        at = now - timedelta(days=3 * i + 1)
        events = [
            ("card_transaction", at - timedelta(days=10 * k), amount) for k in range(i % 4 + 1)
        ]
        ids.append((await customer(client, sessionmaker, mid, events, name=f"c{i}"))[1])
    await customer(client, sessionmaker, mid, [("followed", now, 0)], name="只关注")
    r = await client.post(f"/v1/merchants/{mid}/analytics/rfm-refresh", headers=owner.headers)
    assert r.json()["updated"] == len(spend)

    async with sessionmaker() as session:
        rows = (
            (
                await session.execute(
                    select(Customer).where(
                        Customer.merchant_id == uuid.UUID(mid), Customer.visits > 0
                    )
                )
            )
            .scalars()
            .all()
        )
    by_id = {str(c.id): c for c in rows}
    ordered = [by_id[i] for i in ids]

    # same tie-breaking as the SQL: value, then id
    def expected(values: list[tuple[object, uuid.UUID]]) -> list[int]:
        return rfm.quintiles([float(rank) for rank in _ranks(values)])

    r_exp = expected([(c.last_visit_at, c.id) for c in ordered])
    f_exp = expected([(c.visits, c.id) for c in ordered])
    m_exp = expected([(c.total_spend, c.id) for c in ordered])
    assert [c.r_score for c in ordered] == r_exp
    assert [c.f_score for c in ordered] == f_exp
    assert [c.m_score for c in ordered] == m_exp
    assert [c.rfm_segment for c in ordered] == [
        rfm.rfm_segment(r, f, m) for r, f, m in zip(r_exp, f_exp, m_exp, strict=True)
    ]

    champions = sum(1 for c in ordered if c.rfm_segment == "champions")
    r = await client.post(
        f"/v1/merchants/{mid}/segments/preview",
        json={"rfm_segments": ["champions"]},
        headers=owner.headers,
    )
    assert r.json()["customers"] == champions
    r = await client.post(
        f"/v1/merchants/{mid}/segments/preview", json={"r_score": {"min": 5}}, headers=owner.headers
    )
    assert r.json()["customers"] == r_exp.count(5)

    analytics = (await client.get(f"/v1/merchants/{mid}/analytics", headers=owner.headers)).json()
    assert analytics["rfm"]["scored_customers"] == len(spend)
    assert analytics["rfm"]["unscored_customers"] == 1
    live = {s["segment"]: s["customers"] for s in analytics["rfm"]["segments"]}
    assert live["champions"] == champions
    assert sum(live.values()) == len(spend)


def _ranks(values: list[tuple[object, uuid.UUID]]) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: values[i])  # type: ignore[arg-type, return-value]
    ranks = [0] * len(values)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks


async def test_weekly_figures_in_merchant_timezone_and_churn(
    client: ApiClient, sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client, timezone="Asia/Shanghai")
    clerk = await client.staff(owner, mid, "clerk")
    now = utcnow()
    local_monday = (now + timedelta(hours=8)).date() - timedelta(
        days=(now + timedelta(hours=8)).weekday()
    )
    # Monday 00:30 Shanghai = Sunday 16:30 UTC: belongs to this week locally
    this_week = datetime(local_monday.year, local_monday.month, local_monday.day, tzinfo=UTC) - (
        timedelta(hours=7, minutes=30)
    )
    last_week = this_week - timedelta(days=7)
    # a regular (visits last week and this week) and a newcomer this week
    await customer(
        client,
        sessionmaker,
        mid,
        [("card_transaction", last_week, 1000), ("card_transaction", this_week, 2000)],
    )
    await customer(client, sessionmaker, mid, [("coupon_redeemed", this_week, 0)])
    # a customer who came every 3 days and stopped 30 days ago: at risk at k=2
    start = now - timedelta(days=60)
    _, lapsed_id = await customer(
        client,
        sessionmaker,
        mid,
        [("card_transaction", start + timedelta(days=3 * k), 500) for k in range(11)],
        name="老主顾",
    )

    assert_problem(
        await client.get(f"/v1/merchants/{mid}/analytics", headers=clerk.headers), 403, "forbidden"
    )
    r = await client.get(
        f"/v1/merchants/{mid}/analytics", params={"weeks": 4}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    weekly = body["weekly"]
    assert weekly["labels"][-1] == local_monday.isoformat()
    assert weekly["labels"][-2] == (local_monday - timedelta(days=7)).isoformat()
    series = {s["name"]: s["data"] for s in weekly["series"]}
    assert series["revenue"][-1] == 2000
    assert series["revenue"][-2] >= 1000
    assert series["new_customers"][-1] == 1
    assert series["returning_customers"][-1] == 1
    assert series["visits"][-1] == 2
    assert all(len(d) == 4 for d in series.values())
    churn = body["churn_risk"]
    assert [c["customer_id"] for c in churn["items"]] == [lapsed_id]
    assert churn["items"][0]["usual_interval_days"] == 3.0
    assert churn["items"][0]["overdue_ratio"] > 2
    assert body["timezone"] == "Asia/Shanghai"


async def test_rfm_job_scores_every_merchant(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    _, a = await shop_with_owner(client)
    _, b = await shop_with_owner(client)
    now = utcnow()
    await customer(client, sessionmaker, a, [("card_transaction", now, 100)])
    await customer(client, sessionmaker, b, [("card_transaction", now, 100)])
    async with sessionmaker.begin() as session:
        assert await refresh_rfm_scores(session, now=now) == 2
    async with sessionmaker.begin() as session:
        assert await refresh_rfm_scores(session, now=now) == 0  # unchanged rows are not rewritten


async def test_rfm_refresh_restores_the_visibility_map(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    """The manual refresh vacuums customers once its scores are committed (segment counts stay
    index-only scans after a refresh rewrote the rows)."""
    owner, mid = await shop_with_owner(client)
    await customer(client, sessionmaker, mid, [("card_transaction", utcnow(), 100)])
    last_vacuum = text("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'customers'")
    async with sessionmaker() as session:
        before = await session.scalar(last_vacuum)
    r = await client.post(f"/v1/merchants/{mid}/analytics/rfm-refresh", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1
    async with sessionmaker() as session:
        after = await session.scalar(last_vacuum)
    assert after is not None and after != before
