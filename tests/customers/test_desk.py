"""The service desk (issue 19 point 5): assignees on follow-up tasks and complaints, the
hand-over when a staff member leaves, the follow-ups a resolved complaint and churn risk
trigger, and the per-staff figures of the monthly report."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customers.service import record_activity
from customers.service.desk import schedule_churn_follow_ups
from tests.customers.helpers import customer, shop_with_owner
from tests.helpers import Actor, ApiClient, assert_problem

Maker = async_sessionmaker[AsyncSession]


async def _task(client: ApiClient, mid: str, cid: str, who: Actor, days: int = 1) -> str:
    """A pending task (a follow-up's `next_at`) for the customer; returns its id."""
    at = datetime.now(UTC) + timedelta(days=days, minutes=1)
    r = await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": cid, "method": "phone", "content": "回访", "next_at": at.isoformat()},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    profile = (await client.get(f"/v1/merchants/{mid}/customers/{cid}", headers=who.headers)).json()
    due = {t["due_at"]: t["id"] for t in profile["open_follow_up_tasks"]}
    return next(i for d, i in due.items() if datetime.fromisoformat(d) == at)


async def _assign(client: ApiClient, mid: str, task_id: str, who: Actor, assignee: Any) -> Any:
    return await client.patch(
        f"/v1/merchants/{mid}/follow-up-tasks/{task_id}",
        json={"assignee": assignee},
        headers=who.headers,
    )


async def test_assigning_tasks_and_filters(client: ApiClient, sessionmaker: Maker) -> None:
    owner, mid = await shop_with_owner(client)
    manager = await client.staff(owner, mid, "manager")
    clerk = await client.staff(owner, mid, "clerk")
    other_clerk = await client.staff(owner, mid, "clerk")
    _, cid = await customer(client, sessionmaker, mid, [("followed", datetime.now(UTC), 0)])
    task = await _task(client, mid, cid, owner)

    r = await _assign(client, mid, task, manager, clerk.user_id)
    assert r.status_code == 200 and r.json()["assignee"] == clerk.user_id, r.text
    # a clerk gives no work to others and takes none from others
    assert_problem(
        await _assign(client, mid, task, other_clerk, other_clerk.user_id),
        403,
        "assignment_managers_only",
    )
    assert_problem(
        await _assign(client, mid, task, clerk, manager.user_id), 403, "assignment_managers_only"
    )
    # …but gives back their own, and takes a free one
    assert (await _assign(client, mid, task, clerk, None)).json()["assignee"] is None
    assert (await _assign(client, mid, task, other_clerk, other_clerk.user_id)).status_code == 200
    # not staff here, garbage, another merchant's task
    stranger = await client.register()
    assert_problem(
        await _assign(client, mid, task, owner, stranger.user_id), 422, "assignee_not_staff"
    )
    for bad in ("me", "", 12, "00000000-0000-0000-0000-00000000000g"):
        assert_problem(await _assign(client, mid, task, owner, bad), 422, "validation_error")
    r = await client.patch(
        f"/v1/merchants/{mid}/follow-up-tasks/{task}", json={}, headers=owner.headers
    )
    assert_problem(r, 422, "validation_error")
    other_owner, other_mid = await shop_with_owner(client)
    assert_problem(
        await _assign(client, other_mid, task, other_owner, None), 404, "follow_up_task_not_found"
    )
    # the due list by assignee (the day of the task)
    day = (datetime.now(UTC) + timedelta(days=2)).astimezone().date().isoformat()
    url = f"/v1/merchants/{mid}/follow-ups/due"

    async def due(who: Actor, assignee: str) -> Any:
        return await client.get(
            url, params={"date": day, "assignee": assignee}, headers=who.headers
        )

    assert [i["task"]["id"] for i in (await due(other_clerk, "me")).json()["items"]] == [task]
    assert (await due(clerk, "me")).json()["items"] == []
    assert (await due(owner, "none")).json()["items"] == []
    mine = (await due(owner, other_clerk.user_id)).json()["items"]
    assert [i["task"]["assignee"] for i in mine] == [other_clerk.user_id]
    assert_problem(await due(owner, "someone"), 422, "assignee_filter_invalid")
    # a done task can no longer be assigned
    await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": cid, "method": "phone", "content": "已回访", "task_id": task},
        headers=other_clerk.headers,
    )
    assert_problem(
        await _assign(client, mid, task, owner, clerk.user_id), 409, "follow_up_task_not_pending"
    )


async def test_complaint_assignee_resolution_follow_up(
    client: ApiClient, sessionmaker: Maker
) -> None:
    owner, mid = await shop_with_owner(client)
    manager = await client.staff(owner, mid, "manager")
    clerk = await client.staff(owner, mid, "clerk")
    _, cid = await customer(client, sessionmaker, mid, [("followed", datetime.now(UTC), 0)])
    url = f"/v1/merchants/{mid}/complaints"
    body = {"customer_id": cid, "category": "waiting", "content": "等了一小时"}
    r = await client.post(url, json={**body, "assignee": manager.user_id}, headers=clerk.headers)
    assert_problem(r, 403, "assignment_managers_only")
    stranger = await client.register()
    r = await client.post(url, json={**body, "assignee": stranger.user_id}, headers=owner.headers)
    assert_problem(r, 422, "assignee_not_staff")
    listed = (await client.get(url, headers=owner.headers)).json()["items"]
    assert listed == []  # neither refusal wrote anything
    r = await client.post(url, json={**body, "assignee": clerk.user_id}, headers=manager.headers)
    assert r.status_code == 201, r.text
    complaint = r.json()
    assert complaint["assignee"] == clerk.user_id and complaint["escalated_at"] is None
    unassigned = (await client.post(url, json=body, headers=clerk.headers)).json()

    async def ids(**params: str) -> list[str]:
        r = await client.get(url, params=params, headers=clerk.headers)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    assert await ids(assignee="me") == [complaint["id"]]
    assert await ids(assignee="none") == [unassigned["id"]]
    assert await ids(assignee=clerk.user_id, status="resolved") == []
    # a clerk may not hand it on; a manager may
    one = f"{url}/{complaint['id']}"
    r = await client.patch(one, json={"assignee": manager.user_id}, headers=clerk.headers)
    assert_problem(r, 403, "assignment_managers_only")
    r = await client.patch(one, json={"assignee": manager.user_id}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["assignee"] == manager.user_id, r.text
    # resolving schedules one follow-up for the assignee, three days on
    for status, extra in (("responded", {"response": "已致歉"}), ("resolved", {})):
        r = await client.patch(one, json={"status": status, **extra}, headers=clerk.headers)
        assert r.status_code == 200, r.text
    resolved_at = datetime.fromisoformat(r.json()["resolved_at"])
    profile = (
        await client.get(f"/v1/merchants/{mid}/customers/{cid}", headers=owner.headers)
    ).json()
    [task] = [t for t in profile["open_follow_up_tasks"] if t["reason"] == "complaint_resolved"]
    assert task["complaint_id"] == complaint["id"] and task["assignee"] == manager.user_id
    assert datetime.fromisoformat(task["due_at"]) - resolved_at == timedelta(days=3)
    # closing after it does not make another, nor does a second resolve attempt
    r = await client.patch(one, json={"status": "resolved"}, headers=clerk.headers)
    assert_problem(r, 409, "complaint_transition_invalid")
    r = await client.patch(one, json={"status": "closed"}, headers=clerk.headers)
    assert r.status_code == 200
    async with sessionmaker() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM follow_up_tasks WHERE complaint_id = :c"),
            {"c": complaint["id"]},
        )
    assert count == 1
    r = await client.patch(one, json={"assignee": None}, headers=owner.headers)
    assert_problem(r, 409, "complaint_closed")


async def test_removing_staff_hands_open_work_to_managers(
    client: ApiClient, sessionmaker: Maker
) -> None:
    owner, mid = await shop_with_owner(client)
    manager = await client.staff(owner, mid, "manager")
    clerk = await client.staff(owner, mid, "clerk")
    _, cid = await customer(client, sessionmaker, mid, [("followed", datetime.now(UTC), 0)])
    tasks = [await _task(client, mid, cid, owner, days=d) for d in (1, 2, 3)]
    for t in tasks:
        assert (await _assign(client, mid, t, owner, clerk.user_id)).status_code == 200
    # one of them done: it stays the clerk's (their work, counted in the report)
    done = tasks[0]
    await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": cid, "method": "phone", "content": "已回访", "task_id": done},
        headers=clerk.headers,
    )
    url = f"/v1/merchants/{mid}/complaints"
    body = {"customer_id": cid, "category": "service", "content": "态度差"}
    open_ids = []
    for _ in range(3):
        r = await client.post(url, json={**body, "assignee": clerk.user_id}, headers=owner.headers)
        open_ids.append(r.json()["id"])
    # the manager already has one open complaint: the owner takes more of the clerk's work
    r = await client.post(url, json={**body, "assignee": manager.user_id}, headers=owner.headers)
    managers_own = r.json()["id"]

    r = await client.delete(f"/v1/merchants/{mid}/staff/{clerk.user_id}", headers=owner.headers)
    assert r.status_code == 204, r.text
    async with sessionmaker() as session:
        task_rows: dict[str, str] = dict(
            (
                await session.execute(
                    text("SELECT id::text, assignee::text FROM follow_up_tasks WHERE id = ANY(:i)"),
                    {"i": tasks},
                )
            ).all()
        )
        complaint_rows: dict[str, str] = dict(
            (
                await session.execute(
                    text("SELECT id::text, assignee::text FROM complaints WHERE merchant_id = :m"),
                    {"m": mid},
                )
            ).all()
        )
    assert task_rows[done] == clerk.user_id
    handed = [task_rows[t] for t in tasks[1:]] + [complaint_rows[c] for c in open_ids]
    assert set(handed) <= {owner.user_id, manager.user_id}
    loads = {
        who: handed.count(who) + (who == manager.user_id)
        for who in (owner.user_id, manager.user_id)
    }
    assert sorted(loads.values()) == [3, 3], loads  # 5 items + the manager's 1, balanced
    assert complaint_rows[managers_own] == manager.user_id
    # the list filter shows the handed-over work under its new assignee
    r = await client.get(url, params={"assignee": owner.user_id}, headers=owner.headers)
    assert {c["id"] for c in r.json()["items"]} <= set(open_ids)


async def test_churn_risk_follow_ups_once_per_lapse(client: ApiClient, sessionmaker: Maker) -> None:
    owner, mid = await shop_with_owner(client)
    t0 = datetime(2026, 6, 1, 10, tzinfo=UTC)
    visits = [("coupon_redeemed", t0 + timedelta(days=10 * i), 1000) for i in range(4)]
    _, regular = await customer(client, sessionmaker, mid, visits)  # every 10 days until t0+30
    _, steady = await customer(client, sessionmaker, mid, visits[:1])  # one visit: no interval

    async def run(now: datetime) -> int:
        async with sessionmaker.begin() as session:
            return await schedule_churn_follow_ups(session, now=now)

    async def churn_tasks(cid: str) -> list[tuple[str, str]]:
        async with sessionmaker() as session:
            rows = await session.execute(
                text(
                    "SELECT id::text, status FROM follow_up_tasks "
                    "WHERE customer_id = :c AND reason = 'churn_risk' ORDER BY created_at"
                ),
                {"c": cid},
            )
            return [(i, s) for i, s in rows.all()]

    last = t0 + timedelta(days=30)
    await run(last + timedelta(days=19))  # less than 2 intervals late: not yet
    assert await churn_tasks(regular) == []
    # more than two intervals late: one task; runs again (and at once) make no second one
    late = last + timedelta(days=21)
    results = await asyncio.gather(run(late), run(late), run(late + timedelta(hours=1)))
    [(task_id, status)] = await churn_tasks(regular)
    assert status == "pending" and sum(results) == 1
    assert await churn_tasks(steady) == []
    # done: still late, but this lapse was followed up — no new task
    r = await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": regular, "method": "phone", "content": "好久不见", "task_id": task_id},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assert await run(late + timedelta(days=5)) == 0
    # they come back, then lapse again: a new task
    async with sessionmaker.begin() as session:
        await record_activity(
            session,
            merchant_id=uuid.UUID(mid),
            user_id=None,
            customer_id=uuid.UUID(regular),
            kind="coupon_redeemed",
            at=late + timedelta(days=6),
            spend=1000,
        )
    assert await run(late + timedelta(days=100)) == 1
    assert [s for _, s in await churn_tasks(regular)] == ["done", "pending"]


async def test_report_per_staff(client: ApiClient, sessionmaker: Maker) -> None:
    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    _, cid = await customer(client, sessionmaker, mid, [("followed", datetime.now(UTC), 0)])
    task = await _task(client, mid, cid, owner, days=0)
    await _assign(client, mid, task, owner, clerk.user_id)
    r = await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={
            "customer_id": cid,
            "method": "phone",
            "content": "回访",
            "satisfaction": 5,
            "task_id": task,
        },
        headers=clerk.headers,
    )
    assert r.status_code == 201, r.text
    url = f"/v1/merchants/{mid}/complaints"
    body = {"customer_id": cid, "category": "service", "content": "x", "assignee": clerk.user_id}
    complaint = (await client.post(url, json=body, headers=clerk.headers)).json()
    for change in ({"status": "responded", "response": "抱歉"}, {"status": "resolved"},
                   {"satisfaction": 3}):  # fmt: skip
        r = await client.patch(f"{url}/{complaint['id']}", json=change, headers=owner.headers)
        assert r.status_code == 200, r.text
    report = (
        await client.get(f"/v1/merchants/{mid}/reports/customer-service", headers=owner.headers)
    ).json()
    [mine] = [s for s in report["by_staff"] if s["staff_user_id"] == clerk.user_id]
    assert mine["follow_ups_done"] == 1
    # due this month: the task they did, and the resolved complaint's follow-up (three days on)
    local = ZoneInfo("Asia/Shanghai")
    same_month = (datetime.now(local) + timedelta(days=3)).month == datetime.now(local).month
    due = 2 if same_month else 1
    assert (mine["tasks_due"], mine["tasks_done"], mine["tasks_on_time"]) == (due, 1, 1)
    assert (mine["complaints_resolved"], mine["complaints_on_time"]) == (1, 1)
    assert mine["satisfaction_avg"] == 4.0 and mine["satisfaction_responses"] == 2
    assert mine["name"] == "测试用户"
    r = await client.get(f"/v1/merchants/{mid}/reports/customer-service.csv", headers=owner.headers)
    rows = dict(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[f"by_staff.{clerk.user_id}.tasks_on_time"] == "1"
    assert rows[f"by_staff.{clerk.user_id}.satisfaction_avg"] == "4.0"
