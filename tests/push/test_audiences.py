"""Flash-offer audiences owned by other packages: membership tiers and customer segments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from push import service
from push.service import offers
from tests.helpers import Actor, ApiClient, assert_problem
from tests.push.helpers import Pipeline, merchant_with_shop, offer_body, subscriber


def _tier(code: str, rank: int) -> dict:
    return {
        "code": code,
        "name": code.upper(),
        "rank": rank,
        "discount_percent": rank * 5,
        "earn": {"points_per_currency_unit": 1},
    }


async def _program(client: ApiClient, owner: Actor, merchant_id: str, name: str) -> str:
    body = {
        "name": name,
        "redeem": {"points_per_currency_unit": 100},
        "tiers": [_tier("regular", 0), _tier("vip", 1), _tier("gold", 2)],
    }
    r = await client.post(f"/v1/merchants/{merchant_id}/programs", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _member(client: ApiClient, user: Actor, program_id: str, tier: str, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(f"/v1/programs/{program_id}/join", headers=user.headers)
    assert r.status_code == 201, r.text
    if tier != "regular":  # upgrades are the memberships tests' business: set the tier here
        async with sessionmaker.begin() as session:
            await session.execute(
                text("""UPDATE cards SET tier_id = (SELECT id FROM card_tiers
                                                    WHERE program_id = :p AND code = :code)
                        WHERE id = :card"""),
                {"p": uuid.UUID(program_id), "code": tier, "card": uuid.UUID(r.json()["id"])},
            )


async def _deliveries(sessionmaker, offer_id: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """user id -> deliveries sent to that user for the offer."""
    async with sessionmaker() as session:
        rows = await session.execute(
            text("""SELECT user_id, count(*) FROM flash_offer_deliveries
                    WHERE offer_id = :id AND status = 'sent' GROUP BY user_id"""),
            {"id": uuid.UUID(offer_id)},
        )
        return {str(user_id): n for user_id, n in rows}


async def test_tiers_audience_reaches_exactly_the_members_of_those_tiers(
    client: ApiClient, pipeline: Pipeline, log_senders, sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    first = await _program(client, owner, merchant_id, "会员卡")
    second = await _program(client, owner, merchant_id, "储值卡")
    other_owner, other_merchant, _ = await merchant_with_shop(client)
    foreign = await _program(client, other_owner, other_merchant, "别家的卡")

    # subscriptions match nothing nearby and users have no location: tiers ignore them
    vip, _ = await subscriber(client, at=None)
    await _member(client, vip, first, "vip", sessionmaker)
    # vip in one program, gold in the other, two phones: one recipient, two deliveries
    both, _ = await subscriber(client, at=None, devices=2)
    await _member(client, both, first, "vip", sessionmaker)
    await _member(client, both, second, "gold", sessionmaker)
    gold, _ = await subscriber(client, at=None)
    await _member(client, gold, second, "gold", sessionmaker)
    regular, _ = await subscriber(client, at=None)
    await _member(client, regular, first, "regular", sessionmaker)
    stranger_vip, _ = await subscriber(client, at=None)
    await _member(client, stranger_vip, foreign, "vip", sessionmaker)
    opted_out, _ = await subscriber(client, at=None, opted_out=True)
    await _member(client, opted_out, first, "vip", sessionmaker)
    no_device, _ = await subscriber(client, at=None, devices=0)
    await _member(client, no_device, first, "vip", sessionmaker)
    sms_only, _ = await subscriber(client, at=None, devices=0, channels=["sms"])
    await _member(client, sms_only, second, "vip", sessionmaker)
    # already messaged by this merchant today (cap 1 a day)
    capped, _ = await subscriber(client, at=None)
    await _member(client, capped, first, "gold", sessionmaker)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    async with sessionmaker.begin() as session:
        await session.execute(
            text("INSERT INTO push_merchant_daily_counts VALUES (:m, :u, :day, 1)"),
            {"m": uuid.UUID(merchant_id), "u": uuid.UUID(capped.user_id), "day": today},
        )
    # asleep until after the offer expires: not selected
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    asleep = {
        "from": local.strftime("%H:%M"),
        "to": (local.replace(hour=(local.hour + 3) % 24)).strftime("%H:%M"),
    }
    sleeper, _ = await subscriber(client, at=None, quiet_hours=asleep)
    await _member(client, sleeper, first, "vip", sessionmaker)

    url = f"/v1/merchants/{merchant_id}/flash-offers"
    audience: dict[str, Any] = {"tier_codes": ["vip", "gold", "vip"]}
    r = await client.post(
        url, json=offer_body(shop_id, kind="tiers", **audience), headers=owner.headers
    )
    assert r.status_code == 202, r.text
    offer_id = r.json()["id"]
    expected = {vip.user_id: 1, both.user_id: 2, gold.user_id: 1, sms_only.user_id: 1}
    assert r.json()["recipients_estimate"] == len(expected)

    await pipeline.drain(pipeline.consumer(log_senders))
    assert await _deliveries(sessionmaker, offer_id) == expected
    offer = (await client.get(f"/v1/flash-offers/{offer_id}", headers=owner.headers)).json()
    assert offer["audience"] == {
        "kind": "tiers",
        "radius_m": None,
        "segment_id": None,
        "tier_codes": ["gold", "vip"],
        "program_id": None,
    }
    assert (offer["recipients"], offer["sent"], offer["failed"], offer["status"]) == (
        4,
        5,
        0,
        "completed",
    )

    # one program's tiers only (caps are per day: lift them for this second offer)
    async with sessionmaker.begin() as session:
        await session.execute(text("DELETE FROM push_merchant_daily_counts"))
    body = offer_body(shop_id, kind="tiers", tier_codes=["vip"], program_id=second)
    r = await client.post(url, json=body, headers=owner.headers)
    assert r.status_code == 202 and r.json()["recipients_estimate"] == 1  # sms_only
    # another merchant's program or unknown tiers select nobody (and leak nothing)
    nobody: list[dict[str, Any]] = [{"tier_codes": ["vip"], "program_id": foreign}]
    for audience in [*nobody, {"tier_codes": ["nope"]}]:
        r = await client.post(
            url, json=offer_body(shop_id, kind="tiers", **audience), headers=owner.headers
        )
        assert r.status_code == 202 and r.json()["recipients_estimate"] == 0, r.text


async def test_tiers_audience_validation_and_wiring(client: ApiClient) -> None:
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    url = f"/v1/merchants/{merchant_id}/flash-offers"
    for bad in (
        offer_body(shop_id, kind="tiers"),
        offer_body(shop_id, kind="tiers", tier_codes=[]),
        offer_body(shop_id, kind="tiers", tier_codes=["VIP!"]),
        offer_body(shop_id, kind="customers", tier_codes=["vip"]),
        offer_body(shop_id, kind="nearby", program_id=str(uuid.uuid4())),
    ):
        assert_problem(
            await client.post(url, json=bad, headers=owner.headers), 422, "validation_error"
        )
    # without memberships plugged in, a tiers offer is refused, not sent to nobody
    wired = offers._tier_members_select
    service.register_tier_audience(None)
    try:
        r = await client.post(
            url, json=offer_body(shop_id, kind="tiers", tier_codes=["vip"]), headers=owner.headers
        )
        assert_problem(r, 409, "audience_not_available")
    finally:
        service.register_tier_audience(wired)


async def test_segment_audience(
    client: ApiClient, pipeline: Pipeline, log_senders, sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    program = await _program(client, owner, merchant_id, "会员卡")
    insider, _ = await subscriber(client, at=None)
    outsider, _ = await subscriber(client, at=None)
    await _member(client, insider, program, "regular", sessionmaker)
    r = await client.post(
        f"/v1/merchants/{merchant_id}/segments",
        headers=owner.headers,
        json={"name": "会员", "rules": {"tiers": ["regular"]}},
    )
    assert r.status_code == 201, r.text
    body = offer_body(shop_id, kind="segment", segment_id=r.json()["id"])
    r = await client.post(
        f"/v1/merchants/{merchant_id}/flash-offers", json=body, headers=owner.headers
    )
    assert r.status_code == 202 and r.json()["recipients_estimate"] == 1, r.text
    await pipeline.drain(pipeline.consumer(log_senders))
    assert await _deliveries(sessionmaker, r.json()["id"]) == {insider.user_id: 1}
    assert outsider.user_id not in await _deliveries(sessionmaker, r.json()["id"])
