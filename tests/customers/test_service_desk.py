"""Follow-ups (consent, plans, due list) and complaints (flow, overdue first, stats, report)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from customers.service.followups import schedule_interval_plans
from tests.customers.helpers import customer, report, shop_with_owner
from tests.helpers import ApiClient, assert_problem

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_refused_calls_only_sms_or_email(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    _, cid = await customer(client, sessionmaker, mid, [("coupon_redeemed", datetime.now(UTC), 0)])
    await client.patch(
        f"/v1/merchants/{mid}/customers/{cid}", json={"refuses_calls": True}, headers=clerk.headers
    )
    url = f"/v1/merchants/{mid}/follow-ups"
    for method in ("phone", "visit", "wechat"):
        r = await client.post(
            url,
            json={"customer_id": cid, "method": method, "content": "回访"},
            headers=clerk.headers,
        )
        assert_problem(r, 409, "customer_refuses_calls")
    r = await client.post(
        url,
        json={
            "customer_id": cid,
            "method": "sms",
            "content": "您好，感谢光临",
            "issues_found": "上菜慢",
            "outcome": "已致歉",
            "satisfaction": 4,
        },
        headers=clerk.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["staff"] == clerk.user_id
    listed = await client.get(url, params={"customer_id": cid}, headers=owner.headers)
    assert [f["method"] for f in listed.json()["items"]] == ["sms"]
    stranger = await client.register()
    r = await client.post(
        url,
        json={"customer_id": cid, "method": "sms", "content": "x", "staff": stranger.user_id},
        headers=owner.headers,
    )
    assert_problem(r, 422, "validation_error")
    r = await client.post(
        url, json={"customer_id": cid, "method": "fax", "content": "x"}, headers=owner.headers
    )
    assert_problem(r, 422, "validation_error")


async def test_first_purchase_plan_schedules_3_and_7_days(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    r = await client.post(
        f"/v1/merchants/{mid}/follow-up-plans",
        json={"name": "新客回访", "trigger": "first_purchase", "offsets_days": [7, 3]},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["offsets_days"] == [3, 7]
    bought = datetime.now(UTC) - timedelta(days=3, hours=1)
    person, cid = await customer(
        client,
        sessionmaker,
        mid,
        [("coupon_claimed", bought - timedelta(days=1), 0), ("card_transaction", bought, 3000)],
    )
    # a second purchase schedules nothing more
    await report(sessionmaker, mid, person.user_id, [("card_transaction", bought, 1000)])
    profile = (
        await client.get(f"/v1/merchants/{mid}/customers/{cid}", headers=owner.headers)
    ).json()
    dues = sorted(t["due_at"] for t in profile["open_follow_up_tasks"])
    assert len(dues) == 2
    assert datetime.fromisoformat(dues[0]) == bought + timedelta(days=3)
    assert datetime.fromisoformat(dues[1]) == bought + timedelta(days=7)

    due = (await client.get(f"/v1/merchants/{mid}/follow-ups/due", headers=owner.headers)).json()
    assert [i["task"]["customer_id"] for i in due["items"]] == [cid]
    assert due["items"][0]["allowed_methods"] == ["phone", "sms", "wechat", "visit", "email"]
    # doing the follow-up settles the task due today; the 7-day one stays
    r = await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": cid, "method": "phone", "content": "用得还好吗"},
        headers=owner.headers,
    )
    assert r.status_code == 201
    due = (await client.get(f"/v1/merchants/{mid}/follow-ups/due", headers=owner.headers)).json()
    assert due["items"] == []
    later = (datetime.now(SHANGHAI) + timedelta(days=5)).date().isoformat()
    due = await client.get(
        f"/v1/merchants/{mid}/follow-ups/due", params={"date": later}, headers=owner.headers
    )
    assert len(due.json()["items"]) == 1
    task_id = due.json()["items"][0]["task"]["id"]
    r = await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": cid, "method": "wechat", "content": "提前回访", "task_id": task_id},
        headers=owner.headers,
    )
    assert r.status_code == 201
    r = await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": cid, "method": "wechat", "content": "again", "task_id": task_id},
        headers=owner.headers,
    )
    assert_problem(r, 409, "follow_up_task_not_pending")


async def test_interest_plan_and_next_at(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    now = datetime.now(UTC)
    _, hot = await customer(client, sessionmaker, mid, [("followed", now - timedelta(days=4), 0)])
    _, cold = await customer(client, sessionmaker, mid, [("followed", now - timedelta(days=4), 0)])
    for cid, level in ((hot, "high"), (cold, "low")):
        await client.patch(
            f"/v1/merchants/{mid}/customers/{cid}",
            json={"interest_level": level},
            headers=owner.headers,
        )
    assert_problem(
        await client.post(
            f"/v1/merchants/{mid}/follow-up-plans",
            json={"name": "x", "trigger": "interest_level", "interest_level": "high"},
            headers=owner.headers,
        ),
        422,
        "validation_error",
    )
    assert_problem(
        await client.post(
            f"/v1/merchants/{mid}/follow-up-plans",
            json={
                "name": "x",
                "trigger": "interest_level",
                "interest_level": "high",
                "every_days": 3,
            },
            headers=clerk.headers,
        ),
        403,
        "forbidden",
    )
    r = await client.post(
        f"/v1/merchants/{mid}/follow-up-plans",
        json={
            "name": "意向高每3天",
            "trigger": "interest_level",
            "interest_level": "high",
            "every_days": 3,
            "method": "wechat",
        },
        headers=owner.headers,
    )
    plan_id = r.json()["id"]
    due = (await client.get(f"/v1/merchants/{mid}/follow-ups/due", headers=clerk.headers)).json()
    assert [i["task"]["customer_id"] for i in due["items"]] == [hot]
    assert due["items"][0]["overdue"] is True  # first_seen + 3 days was yesterday
    assert "****" in due["items"][0]["phone"]
    # the job is idempotent while the task is pending
    async with sessionmaker.begin() as session:
        assert await schedule_interval_plans(session) == 0
    # following up schedules the next one N days later (by the job)
    await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={
            "customer_id": hot,
            "method": "wechat",
            "content": "新品推荐",
            "next_at": (now + timedelta(days=30)).isoformat(),
        },
        headers=clerk.headers,
    )
    async with sessionmaker.begin() as session:
        assert await schedule_interval_plans(session) == 1
    profile = (
        await client.get(f"/v1/merchants/{mid}/customers/{hot}", headers=owner.headers)
    ).json()
    reasons = sorted(t["reason"] for t in profile["open_follow_up_tasks"])
    assert reasons == ["interest_level", "next_at"]
    # deactivating the plan cancels its pending tasks
    r = await client.patch(
        f"/v1/merchants/{mid}/follow-up-plans/{plan_id}",
        json={"active": False},
        headers=owner.headers,
    )
    assert r.json()["active"] is False
    profile = (
        await client.get(f"/v1/merchants/{mid}/customers/{hot}", headers=owner.headers)
    ).json()
    assert [t["reason"] for t in profile["open_follow_up_tasks"]] == ["next_at"]
    plans = await client.get(f"/v1/merchants/{mid}/follow-up-plans", headers=clerk.headers)
    assert len(plans.json()) == 1


async def test_complaint_flow_overdue_first_and_stats(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    now = datetime.now(UTC)
    _, cid = await customer(client, sessionmaker, mid, [("coupon_redeemed", now, 0)])
    url = f"/v1/merchants/{mid}/complaints"

    async def open_(hours_ago: float, category: str = "service") -> dict:  # type: ignore[type-arg]
        r = await client.post(
            url,
            json={
                "customer_id": cid,
                "category": category,
                "content": "等了很久",
                "opened_at": (now - timedelta(hours=hours_ago)).isoformat(),
            },
            headers=clerk.headers,
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    fresh = await open_(1)
    overdue = await open_(50, "hygiene")
    answered = await open_(10)
    assert overdue["overdue"] is True and fresh["overdue"] is False
    assert datetime.fromisoformat(fresh["due_at"]) - datetime.fromisoformat(
        fresh["opened_at"]
    ) == timedelta(hours=48)

    c_url = f"{url}/{answered['id']}"
    assert_problem(
        await client.patch(c_url, json={"status": "resolved"}, headers=clerk.headers),
        409,
        "complaint_transition_invalid",
    )
    assert_problem(
        await client.patch(c_url, json={"status": "responded"}, headers=clerk.headers),
        422,
        "validation_error",
    )
    r = await client.patch(
        c_url, json={"status": "responded", "response": "抱歉，已加派人手"}, headers=clerk.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["response_minutes"] == 600
    assert_problem(
        await client.patch(
            c_url, json={"status": "responded", "response": "again"}, headers=clerk.headers
        ),
        409,
        "complaint_transition_invalid",
    )
    r = await client.patch(
        c_url,
        json={"status": "resolved", "resolution": "赠送优惠券", "satisfaction": 5},
        headers=clerk.headers,
    )
    assert r.json()["status"] == "resolved"
    r = await client.patch(c_url, json={"status": "closed"}, headers=clerk.headers)
    assert r.json()["status"] == "closed"
    assert_problem(
        await client.patch(c_url, json={"satisfaction": 1}, headers=clerk.headers),
        409,
        "complaint_closed",
    )
    assert_problem(
        await client.patch(
            f"{url}/{uuid.uuid4()}", json={"status": "closed"}, headers=clerk.headers
        ),
        404,
        "complaint_not_found",
    )

    listed = (await client.get(url, params={"limit": 2}, headers=clerk.headers)).json()
    assert [c["id"] for c in listed["items"]] == [overdue["id"], fresh["id"]]
    rest = await client.get(url, params={"cursor": listed["next_cursor"]}, headers=clerk.headers)
    assert [c["id"] for c in rest.json()["items"]] == [answered["id"]]
    only_open = await client.get(url, params={"status": "open"}, headers=clerk.headers)
    assert len(only_open.json()["items"]) == 2

    stats = (await client.get(f"{url}/stats", headers=owner.headers)).json()
    assert stats["opened"] == 3
    assert stats["overdue_open"] == 1
    assert stats["responded"] == 1 and stats["responded_within_target"] == 1
    assert stats["response_minutes_p50"] == 600.0
    assert stats["by_category"] == {"service": 2, "hygiene": 1}
    assert_problem(await client.get(f"{url}/stats", headers=clerk.headers), 403, "forbidden")

    # monthly report (this month, merchant's zone), JSON and CSV
    await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": cid, "method": "phone", "content": "回访投诉处理", "satisfaction": 3},
        headers=clerk.headers,
    )
    month = now.astimezone(SHANGHAI).strftime("%Y-%m")
    rep = (
        await client.get(
            f"/v1/merchants/{mid}/reports/customer-service",
            params={"month": month},
            headers=owner.headers,
        )
    ).json()
    assert rep["follow_ups_done"] == 1
    assert rep["follow_ups_by_method"] == {"phone": 1}
    assert rep["satisfaction_avg"] == 4.0 and rep["satisfaction_responses"] == 2
    assert rep["complaints_closed"] == 1
    r = await client.get(
        f"/v1/merchants/{mid}/reports/customer-service.csv",
        params={"month": month},
        headers=owner.headers,
    )
    assert r.content.startswith("\ufeff".encode())
    rows = dict(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows["follow_ups_done"] == "1" and rows["follow_ups_by_method.phone"] == "1"
    bad = await client.get(
        f"/v1/merchants/{mid}/reports/customer-service",
        params={"month": "2026-13"},
        headers=owner.headers,
    )
    assert_problem(bad, 422, "validation_error")


async def test_consumer_opens_a_complaint(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    consumer = await client.register(name="路人甲")
    r = await client.post(
        "/v1/me/complaints",
        json={"merchant_id": mid, "category": "quality", "content": "面是凉的"},
        headers=consumer.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "customer" and r.json()["channel"] == "app"
    mine = await client.get("/v1/me/complaints", headers=consumer.headers)
    assert [c["id"] for c in mine.json()] == [r.json()["id"]]
    staff_view = await client.get(f"/v1/merchants/{mid}/complaints", headers=owner.headers)
    customer_id = staff_view.json()["items"][0]["customer_id"]
    profile = await client.get(
        f"/v1/merchants/{mid}/customers/{customer_id}", headers=owner.headers
    )
    assert profile.json()["name"] == "路人甲"
    assert [e["kind"] for e in profile.json()["timeline"]] == ["complaint_open"]
    r = await client.post(
        "/v1/me/complaints",
        json={"merchant_id": str(uuid.uuid4()), "category": "quality", "content": "x"},
        headers=consumer.headers,
    )
    assert_problem(r, 404, "merchant_not_found")
