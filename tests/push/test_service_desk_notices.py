"""Overdue complaints are escalated once (`escalated_at`) and the managers notified: push to
their devices through the real firebase-admin client, SMS (the log sink) when they have none.
Tested with a moved clock, run twice and run concurrently."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.sms import read_log
from customers.service.desk import escalate_overdue_complaints
from push.service.personal import send_service_desk_notices
from push.service.senders import Senders
from tests.customers.helpers import customer, shop_with_owner
from tests.helpers import ApiClient
from tests.push.fake_fcm import FakeFcmServer


async def test_overdue_complaints_escalate_once_and_reach_managers(
    client: ApiClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_fcm: FakeFcmServer,
    fcm_senders: Senders,
    tmp_path: Path,
) -> None:
    owner, mid = await shop_with_owner(client)  # no device: gets an SMS
    manager = await client.staff(owner, mid, "manager")
    clerk = await client.staff(owner, mid, "clerk")  # not a manager: not notified
    device = {"token": "tok-manager-0123456789", "platform": "android"}
    r = await client.post("/v1/me/devices", json=device, headers=manager.headers)
    assert r.status_code == 201, r.text
    _, cid = await customer(client, sessionmaker, mid, [("followed", datetime.now(UTC), 0)])
    url = f"/v1/merchants/{mid}/complaints"
    body = {"customer_id": cid, "category": "hygiene", "content": "桌子很脏"}
    late = (await client.post(url, json=body, headers=clerk.headers)).json()
    answered = (await client.post(url, json=body, headers=clerk.headers)).json()
    r = await client.patch(
        f"{url}/{answered['id']}",
        json={"status": "responded", "response": "已清洁"},
        headers=clerk.headers,
    )
    assert r.status_code == 200
    opened = datetime.fromisoformat(late["opened_at"])

    async def escalate(now: datetime) -> int:
        async with sessionmaker.begin() as session:
            return await escalate_overdue_complaints(session, now=now)

    assert await escalate(opened + timedelta(hours=47)) == 0  # within the 48 hours
    moved = opened + timedelta(hours=49)
    # concurrent runs (two workers) and a later one: escalated exactly once
    results = await asyncio.gather(escalate(moved), escalate(moved))
    assert sorted(results) == [0, 1]
    assert await escalate(moved + timedelta(hours=1)) == 0
    r = await client.get(f"{url}/{late['id']}", headers=owner.headers)
    assert datetime.fromisoformat(r.json()["escalated_at"]) == moved
    r = await client.get(f"{url}/{answered['id']}", headers=owner.headers)
    assert r.json()["escalated_at"] is None  # answered in time: nothing to escalate

    async with sessionmaker() as session:
        notices = (
            await session.execute(
                text("SELECT user_id::text FROM service_desk_notices WHERE complaint_id = :c"),
                {"c": late["id"]},
            )
        ).all()
    assert sorted(n[0] for n in notices) == sorted([owner.user_id, manager.user_id])

    # the push job: the manager by push, the owner by SMS; a second run sends nothing
    for expected in (2, 0):
        async with sessionmaker.begin() as session:
            sent = await send_service_desk_notices(
                session, sender=fcm_senders.push, sms=fcm_senders.sms, now=moved
            )
        assert sent == expected
    [request] = fake_fcm.state.requests
    assert request["message"]["token"] == "tok-manager-0123456789"
    assert request["message"]["data"]["type"] == "complaint_escalated"
    [sms] = read_log(tmp_path / "sms.jsonl")
    me = (await client.get("/v1/me", headers=owner.headers)).json()
    assert sms["to"] == me["phone"] and sms["kind"] == "service_desk"
    assert "投诉超时升级" in str(sms["text"]) and "卫生" in str(sms["text"])
    async with sessionmaker() as session:
        channels = (
            await session.execute(
                text(
                    "SELECT channel, status FROM service_desk_notices "
                    "WHERE complaint_id = :c ORDER BY channel"
                ),
                {"c": late["id"]},
            )
        ).all()
    assert [tuple(c) for c in channels] == [("push", "sent"), ("sms", "sent")]
