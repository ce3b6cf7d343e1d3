"""Birthday greetings (issue 19 point 3): the rule's route, and the job with a moved clock —
the merchant's timezone, a year boundary, Feb 29, once a year per customer under concurrent
runs, the coupon issued, the message by push or SMS."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from core.sms import read_log, sms_sender
from core.standins.aliyun_sms import AliyunSmsStandin
from core.standins.server import StandinServer
from push.service.birthdays import (
    celebrated_on,
    next_celebration,
    send_birthday_greetings,
    window_month_days,
)
from push.service.senders import LogPushSender, Senders
from tests.accounts.test_sms_signin import ask_code, last_code
from tests.coupons.helpers import Shopfront, published_campaign, shopfront
from tests.helpers import Actor, ApiClient, assert_problem, fresh_phone, sms_settings
from tests.memberships.helpers import sms_actor
from tests.push.fake_fcm import FakeFcmServer

Maker = async_sessionmaker[AsyncSession]


def test_celebration_days() -> None:
    leapling = date(1992, 2, 29)
    assert celebrated_on(leapling, 2027) == date(2027, 2, 28)
    assert celebrated_on(leapling, 2028) == date(2028, 2, 29)
    assert celebrated_on(date(1990, 1, 2), 2027) == date(2027, 1, 2)
    # across the year boundary: Dec 30 with 3 days before reaches Jan 2 of the next year
    assert window_month_days(date(2026, 12, 30), 3) == [(12, 30), (12, 31), (1, 1), (1, 2)]
    assert next_celebration(date(1990, 1, 2), date(2026, 12, 30), 3) == date(2027, 1, 2)
    assert next_celebration(date(1990, 1, 3), date(2026, 12, 30), 3) is None
    # Feb 28 of a common year stands for Feb 29 too; in a leap year it does not
    assert (2, 29) in window_month_days(date(2027, 2, 25), 3)
    assert (2, 29) not in window_month_days(date(2028, 2, 25), 3)
    assert next_celebration(leapling, date(2027, 2, 25), 3) == date(2027, 2, 28)
    assert next_celebration(leapling, date(2028, 2, 25), 3) is None  # Feb 29 is 4 days off
    assert next_celebration(leapling, date(2028, 2, 26), 3) == date(2028, 2, 29)
    assert next_celebration(date(1990, 6, 1), date(2026, 6, 1), 0) == date(2026, 6, 1)


async def _rule(client: ApiClient, front: Shopfront, **body: Any) -> Any:
    return await client.put(
        f"/v1/merchants/{front.merchant_id}/birthday-rule",
        json=body,
        headers=front.owner.headers,
    )


async def test_rule_route(client: ApiClient) -> None:
    front = await shopfront(client)
    url = f"/v1/merchants/{front.merchant_id}/birthday-rule"
    r = await client.get(url, headers=front.clerk.headers)
    assert r.status_code == 200, r.text
    assert r.json() | {"merchant_id": None} == {
        "merchant_id": None,
        "enabled": False,
        "days_before": 3,
        "campaign_id": None,
        "channel": "push",
        "message": "",
        "updated_at": None,
    }
    good = {"enabled": True, "days_before": 3, "channel": "sms", "message": "{name}，生日快乐！"}
    r = await client.put(url, json=good, headers=front.clerk.headers)
    assert_problem(r, 403, "forbidden")
    for bad in (
        {**good, "days_before": 61},
        {**good, "days_before": -1},
        {**good, "days_before": "3天"},
        {**good, "channel": "wechat"},
        {**good, "message": "长" * 201},
        {**good, "message": ""},  # enabled with nothing to give
        {**good, "campaign_id": "not-a-uuid"},
        {**good, "extra": 1},
        {"enabled": True},
    ):
        assert_problem(await _rule(client, front, **bad), 422, "validation_error")
    other = await shopfront(client, name="别家")
    foreign = await published_campaign(client, other)
    for campaign_id in (foreign["id"], "01a2357d-dce9-7e7c-a34d-9496564aa571"):
        r = await _rule(client, front, **good, campaign_id=campaign_id)
        body = assert_problem(r, 422, "birthday_campaign_invalid")
        assert body["errors"][0]["loc"] == ["body", "campaign_id"]
    assert (await client.get(url, headers=front.owner.headers)).json()["updated_at"] is None
    mine = await published_campaign(client, front)
    r = await _rule(client, front, **good, campaign_id=mine["id"])
    assert r.status_code == 200, r.text
    assert r.json()["campaign_id"] == mine["id"] and r.json()["updated_at"]
    assert (await client.get(url, headers=front.clerk.headers)).json() == r.json()
    # off again: the rest is kept
    r = await _rule(client, front, **{**good, "enabled": False, "message": ""})
    assert r.status_code == 200 and r.json()["enabled"] is False


async def _customer(client: ApiClient, front: Shopfront, phone: str, birthday: str) -> str:
    r = await client.post(
        f"/v1/merchants/{front.merchant_id}/customers",
        json={"phone": phone, "name": "小李", "birthday": birthday},
        headers=front.owner.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


async def test_greetings_with_a_moved_clock(
    client: ApiClient,
    sessionmaker: Maker,
    fake_fcm: FakeFcmServer,
    fcm_senders: Senders,
    tmp_path: Path,
    test_settings: Settings,
    redis: Redis,
) -> None:
    sms_front = await shopfront(client)  # Asia/Shanghai: SMS and a coupon
    push_front = await shopfront(client, name="隔壁理发")  # push, message only
    # signed in by SMS code: the phone is proved, so the merchants' records of it are this
    # account's (a password registration alone is not linked to them)
    app_user: Actor = await sms_actor(client, test_settings, fresh_phone())
    phone = (await client.get("/v1/me", headers=app_user.headers)).json()["phone"]
    device = {"token": "tok-birthday-0123456789", "platform": "ios"}
    assert (await client.post("/v1/me/devices", json=device, headers=app_user.headers)).is_success
    far = (datetime.now(UTC) + timedelta(days=900)).isoformat()
    campaign = await published_campaign(
        client, sms_front, name="生日券", valid_until=far, per_user_limit=5
    )
    for front, channel, extra in (
        (sms_front, "sms", {"campaign_id": campaign["id"]}),
        (push_front, "push", {}),
    ):
        r = await _rule(
            client,
            front,
            enabled=True,
            days_before=3,
            channel=channel,
            message="{name}，生日快乐！",
            **extra,
        )
        assert r.status_code == 200, r.text
    # the app user (born Jan 2) at both merchants; a walk-in leapling at the SMS merchant
    await _customer(client, sms_front, phone, "1990-01-02")
    await _customer(client, push_front, phone, "1990-01-02")
    leapling = await _customer(client, sms_front, "13900001111", "1992-02-29")

    async def run(now: datetime) -> int:
        async with sessionmaker.begin() as session:
            return await send_birthday_greetings(
                session, sender=fcm_senders.push, sms=fcm_senders.sms, now=now
            )

    def sms_lines() -> list[dict[str, object]]:
        path = tmp_path / "sms.jsonl"
        return read_log(path) if path.exists() else []

    # Dec 29 23:00 in Shanghai (15:00 UTC): Jan 2 is four days off — nothing yet
    assert await run(datetime(2026, 12, 29, 15, tzinfo=UTC)) == 0
    # Dec 30 00:30 in Shanghai while it is still Dec 29 in UTC: three days before, next year
    moved = datetime(2026, 12, 29, 16, 30, tzinfo=UTC)
    results = await asyncio.gather(run(moved), run(moved), run(moved))
    assert sorted(results) == [0, 0, 2]  # two merchants' greetings, made by one run
    assert await run(moved + timedelta(hours=1)) == 0
    assert await run(datetime(2027, 1, 2, 4, tzinfo=UTC)) == 0  # on the day: already greeted
    [sms] = sms_lines()
    assert sms["to"] == phone and sms["kind"] == "birthday" and sms["text"] == "小李，生日快乐！"
    [push] = fake_fcm.state.requests
    assert push["message"]["token"] == "tok-birthday-0123456789"
    assert push["message"]["data"]["type"] == "birthday"
    wallet = (await client.get("/v1/me/coupons", headers=app_user.headers)).json()["items"]
    assert [c["campaign_id"] for c in wallet] == [campaign["id"]]
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT year, birthday_on, greeted_on, coupon_issued, channel, delivery "
                    "FROM birthday_greetings ORDER BY channel"
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (2027, date(2027, 1, 2), date(2026, 12, 30), False, "push", "sent"),
        (2027, date(2027, 1, 2), date(2026, 12, 30), True, "sms", "sent"),
    ]

    # Feb 29 in a common year: greeted three days before Feb 28, by SMS, without a coupon
    assert await run(datetime(2027, 2, 24, 12, tzinfo=UTC)) == 0
    assert await run(datetime(2027, 2, 25, 12, tzinfo=UTC)) == 1
    assert await run(datetime(2027, 2, 27, 12, tzinfo=UTC)) == 0
    assert [line["to"] for line in sms_lines()][1:] == ["+8613900001111"]
    # the next year's birthday comes round for the Jan 2 customer; 2028 is a leap year
    assert await run(datetime(2027, 12, 30, 12, tzinfo=UTC)) == 2
    assert await run(datetime(2028, 2, 25, 12, tzinfo=UTC)) == 0  # Feb 29 is four days off
    assert await run(datetime(2028, 2, 26, 12, tzinfo=UTC)) == 1
    async with sessionmaker() as session:
        years = (
            await session.execute(
                text(
                    "SELECT year, birthday_on FROM birthday_greetings "
                    "WHERE customer_id = :c ORDER BY year"
                ),
                {"c": leapling},
            )
        ).all()
    assert [tuple(y) for y in years] == [(2027, date(2027, 2, 28)), (2028, date(2028, 2, 29))]
    # a disabled rule greets no one
    await _rule(client, sms_front, enabled=False, days_before=3, channel="sms", message="")
    await _rule(client, push_front, enabled=False, days_before=3, channel="push", message="")
    assert await run(datetime(2028, 12, 30, 12, tzinfo=UTC)) == 0

    # the merchant sees the greetings made, latest first, a page at a time
    url = f"/v1/merchants/{sms_front.merchant_id}/birthday-greetings"
    first = (await client.get(url, params={"limit": 2}, headers=sms_front.clerk.headers)).json()
    rest = (
        await client.get(
            url, params={"cursor": first["next_cursor"]}, headers=sms_front.clerk.headers
        )
    ).json()
    seen = first["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [(g["year"], g["coupon_issued"], g["delivery"]) for g in seen] == [
        (2028, False, "sent"),  # the leapling (a walk-in: no wallet for a coupon)
        (2028, True, "sent"),
        (2027, False, "sent"),
        (2027, True, "sent"),
    ]
    assert {g["customer_name"] for g in seen} == {"小李"}
    r = await client.get(url, params={"cursor": "garbage"}, headers=sms_front.owner.headers)
    assert r.status_code == 422, r.text

    # the export lists the greetings; deleting the account erases them and the birthday
    export = (await client.get("/v1/me/export", headers=app_user.headers)).json()
    assert "birthday_greetings" in str(export)
    await redis.delete(f"sms:gap:{app_user.phone}")  # a minute after the sign-in code
    await ask_code(client, app_user.phone, "delete")
    code = last_code(test_settings, app_user.phone, "delete_code")
    r = await client.request("DELETE", "/v1/me", json={"code": code}, headers=app_user.headers)
    assert r.status_code in (200, 204), r.text
    async with sessionmaker() as session:
        left = await session.scalar(
            text(
                "SELECT count(*) FROM birthday_greetings g JOIN customers c "
                "ON c.id = g.customer_id WHERE c.user_id = :u OR c.birthday IS NOT NULL "
                "AND c.id <> :leapling"
            ),
            {"u": app_user.user_id, "leapling": leapling},
        )
    assert left == 0


async def test_birthday_sms_carry_the_merchants_signature(
    client: ApiClient,
    sessionmaker: Maker,
    aliyun: tuple[AliyunSmsStandin, StandinServer],
    test_settings: Settings,
) -> None:
    """A greeting by SMS through Aliyun (its stand-in) is signed with the merchant's own SMS
    signature when it set one; without it, the platform's."""
    standin, server = aliyun
    standin.sign_names.add("街角理发")
    templates = standin.settings(server.base_url)["sms_templates"] + ",birthday:SMS_100000005"
    sms = sms_sender(sms_settings(test_settings, standin, server, sms_templates=templates))
    signed, unsigned = await shopfront(client, name="街角理发店"), await shopfront(client)
    r = await client.patch(
        f"/v1/merchants/{signed.merchant_id}",
        json={"sms_sign_name": "街角理发"},
        headers=signed.owner.headers,
    )
    assert r.status_code == 200, r.text
    phones = {}
    for front in (signed, unsigned):
        r = await _rule(
            client, front, enabled=True, days_before=0, channel="sms", message="{name}，生日快乐！"
        )
        assert r.status_code == 200, r.text
        phones[front.merchant_id] = fresh_phone()
        await _customer(client, front, phones[front.merchant_id], "1990-03-04")
    before = len(standin.sent)
    async with sessionmaker.begin() as session:
        made = await send_birthday_greetings(
            session, sender=LogPushSender(), sms=sms, now=datetime(2027, 3, 4, 2, tzinfo=UTC)
        )
    assert made == 2
    texts = {m["to"]: m["text"] for m in standin.sent[before:]}
    assert texts == {
        phones[signed.merchant_id].removeprefix("+86"): "【街角理发】小李，生日快乐！",
        phones[unsigned.merchant_id].removeprefix("+86"): "【街角】小李，生日快乐！",
    }
