"""GET /v1/me/export and DELETE /v1/me: everything held, then erased in one transaction; no
endpoint, export or CSV shows the phone or the name afterwards."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.security import create_access_token
from core.settings import Settings
from core.timezones import utcnow
from tests.accounts.test_sms_signin import ask_code, last_code
from tests.coupons.helpers import claim, published_campaign, shopfront
from tests.helpers import Actor, ApiClient, assert_problem
from tests.memberships.helpers import money, program_body
from tests.memberships.test_topups import topped_up

NAME = "注销测试王五"


async def _busy_customer(client: ApiClient) -> tuple[Any, Actor, dict[str, Any], dict[str, Any]]:
    """A customer known to a merchant in every way: coupon redeemed, card, review, device,
    subscription, location, booking note."""
    front = await shopfront(client)
    me = await client.register(name=NAME)
    campaign = await published_campaign(client, front, min_spend=None)
    coupon = await claim(client, campaign["id"], me)
    r = await client.post(
        "/v1/counter/redeem",
        json={"code": coupon["code"], "shop_id": front.shop_id},
        headers=front.clerk.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/v1/merchants/{front.merchant_id}/programs",
        json=program_body(),
        headers=front.owner.headers,
    )
    program = r.json()
    r = await client.post(f"/v1/programs/{program['id']}/join", headers=me.headers)
    assert r.status_code == 201, r.text
    card = r.json()
    r = await client.post(
        f"/v1/shops/{front.shop_id}/reviews",
        json={"rating": 4, "text": "不错", "redemption_id": None},
        headers=me.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/me/devices", json={"token": "tok-" + "x" * 20, "platform": "ios"}, headers=me.headers
    )
    assert r.status_code == 201, r.text
    r = await client.put(
        "/v1/me/subscriptions", json={"categories": ["dining"]}, headers=me.headers
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/me/locations", json={"location": {"lat": 31.23, "lng": 121.47}}, headers=me.headers
    )
    assert r.status_code == 201, r.text
    return front, me, card, program


async def test_export_then_delete_leaves_no_phone_or_name_anywhere(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    front, me, card, _ = await _busy_customer(client)
    local = me.phone.removeprefix("+86")

    r = await client.get("/v1/me/export", headers=me.headers)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["account"][0]["phone"] == me.phone and data["account"][0]["display_name"] == NAME
    assert "password_hash" not in data["account"][0] and "pin_hash" not in data["cards"][0]
    for key in (
        "coupons",
        "redemptions",
        "cards",
        "card_ledger",
        "reviews",
        "devices",
        "subscriptions",
        "location_pings",
        "customer_records",
        "orders",
        "bookings",
    ):
        assert key in data, key
    assert len(data["coupons"]) == 1 and len(data["reviews"]) == 1 and len(data["devices"]) == 1
    assert data["location_pings"][0]["location"]["lat"] == pytest.approx(31.23)
    assert data["customer_records"][0]["phone"] == me.phone

    # wrong proof: nothing happens
    r = await client.request(
        "DELETE", "/v1/me", json={"password": "wrong-password"}, headers=me.headers
    )
    assert_problem(r, 401, "invalid_credentials")
    r = await client.request("DELETE", "/v1/me", json={}, headers=me.headers)
    assert_problem(r, 422, "validation_error")
    r = await client.request(
        "DELETE", "/v1/me", json={"password": "s3cret-pass", "code": "123456"}, headers=me.headers
    )
    assert_problem(r, 422, "validation_error")
    assert (await client.get("/v1/me", headers=me.headers)).json()["phone"] == me.phone

    r = await client.request(
        "DELETE", "/v1/me", json={"password": "s3cret-pass"}, headers=me.headers
    )
    assert r.status_code == 204, r.text

    owner = front.owner.headers
    mid = front.merchant_id
    seen = []
    customers = await client.get(f"/v1/merchants/{mid}/customers", headers=owner)
    seen.append(customers.text)
    for c in customers.json()["items"]:
        seen.append(
            (await client.get(f"/v1/merchants/{mid}/customers/{c['id']}", headers=owner)).text
        )
    seen.append((await client.get(f"/v1/merchants/{mid}/customers/export.csv", headers=owner)).text)
    seen.append(
        (
            await client.get(
                f"/v1/merchants/{mid}/customers", params={"q": local[-4:]}, headers=owner
            )
        ).text
    )
    seen.append((await client.get(f"/v1/shops/{front.shop_id}/reviews")).text)
    seen.append((await client.get(f"/v1/shops/{front.shop_id}/page")).text)
    seen.append((await client.get(f"/v1/merchants/{mid}/staff", headers=owner)).text)
    seen.append(
        (
            await client.post(
                "/v1/counter/members/lookup",
                json={"phone": local, "shop_id": front.shop_id},
                headers=front.clerk.headers,
            )
        ).text
    )
    for page in seen:
        assert local not in page
        assert NAME not in page
    assert len(customers.json()["items"]) == 1  # the record stays, anonymised

    # the account: gone for its holder (every request with its access token is refused at
    # once, not when the token expires), its phone free for a new one
    for method, url in (("GET", "/v1/me"), ("GET", "/v1/me/export"), ("GET", "/v1/me/coupons"),
                        ("GET", "/v1/me/orders"), ("GET", "/v1/me/bookings")):  # fmt: skip
        r = await client.request(method, url, headers=me.headers)
        assert_problem(r, 401, "invalid_token")
    r = await client.post("/v1/auth/token", data={"username": me.phone, "password": "s3cret-pass"})
    assert_problem(r, 401, "invalid_credentials")
    r = await client.post("/v1/auth/refresh", json={"refresh_token": me.refresh_token})
    assert r.status_code == 401
    again = await client.register(phone=local, name="新用户")
    assert again.user_id != me.user_id
    async with sessionmaker() as session:
        row = (
            await session.execute(
                text("SELECT phone, email, display_name, is_active FROM users WHERE id = :id"),
                {"id": uuid.UUID(me.user_id)},
            )
        ).one()
        assert row.phone is None and row.email.endswith("@deleted.invalid") and not row.is_active
        left = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM push_devices WHERE user_id = :id)"
                    " + (SELECT count(*) FROM push_location_pings WHERE user_id = :id)"
                    " + (SELECT count(*) FROM push_subscriptions WHERE user_id = :id)"
                ),
                {"id": uuid.UUID(me.user_id)},
            )
        ).scalar_one()
        assert left == 0
        kept = (
            await session.execute(
                text("SELECT count(*) FROM coupons WHERE user_id = :id"),
                {"id": uuid.UUID(me.user_id)},
            )
        ).scalar_one()
        assert kept == 1  # financial records stay, under the pseudonymous id


async def test_stored_value_blocks_deletion_until_forfeited_by_sms_code(
    client: ApiClient, test_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    front, me, card, _ = await _busy_customer(client)
    await topped_up(client, test_settings, me, card["id"], 50_000)
    await ask_code(client, me.phone, "delete")
    code = last_code(test_settings, me.phone, "delete_code")
    r = await client.request("DELETE", "/v1/me", json={"code": code}, headers=me.headers)
    body = assert_problem(r, 409, "balance_remaining")
    assert body["cards"] == [
        {
            "card_id": card["id"],
            "program_id": card["program_id"],
            "merchant_id": front.merchant_id,
            "card_number": card["card_number"],
            "balance": money(55_000),  # 500.00 and its 50.00 bonus
        }
    ]
    # nothing was erased, and the code was spent on the refused attempt: ask again
    assert (await client.get("/v1/me", headers=me.headers)).json()["display_name"] == NAME
    r = await client.request(
        "DELETE", "/v1/me", json={"code": code, "forfeit_balance": True}, headers=me.headers
    )
    assert_problem(r, 400, "sms_code_invalid")
    r = await client.request(
        "DELETE",
        "/v1/me",
        json={"password": "s3cret-pass", "forfeit_balance": True},
        headers=me.headers,
    )
    assert r.status_code == 204, r.text
    async with sessionmaker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT principal, bonus, (SELECT kind FROM card_ledger WHERE card_id = c.id"
                    " ORDER BY seq DESC LIMIT 1) AS last FROM cards c WHERE id = :id"
                ),
                {"id": uuid.UUID(card["id"])},
            )
        ).one()
    assert (row.principal, row.bonus, row.last) == (0, 0, "adjustment")


async def test_export_is_only_ever_the_caller_s(client: ApiClient) -> None:
    a = await client.register(name="甲")
    b = await client.register(name="乙")
    r = await client.get("/v1/me/export", headers=a.headers)
    text_a = json.dumps(r.json(), ensure_ascii=False)
    assert "甲" in text_a and "乙" not in text_a and b.phone not in text_a
    assert (await client.get("/v1/me/export")).status_code == 401


async def test_a_deleted_user_s_tokens_are_refused_whatever_their_sign_in(
    client: ApiClient, test_settings: Settings
) -> None:
    me = await client.register(name=NAME)
    # a token that names no sign-in (tools mint these) is refused too
    bare = create_access_token(test_settings, uuid.UUID(me.user_id), utcnow())
    second = await client.login(me.phone, "s3cret-pass")
    assert (await client.get("/v1/me", headers=_bearer(bare))).status_code == 200
    r = await client.request(
        "DELETE", "/v1/me", json={"password": "s3cret-pass"}, headers=me.headers
    )
    assert r.status_code == 204, r.text
    for token in (me.token, second["access_token"], bare):
        assert_problem(await client.get("/v1/me", headers=_bearer(token)), 401, "invalid_token")
    # someone else is untouched
    other = await client.register()
    assert (await client.get("/v1/me", headers=other.headers)).status_code == 200


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_sole_owner_must_hand_over_before_deleting(client: ApiClient) -> None:
    owner = await client.register(name=NAME)
    merchant = await client.merchant(owner, name="独资小店")
    body = assert_problem(
        await client.request(
            "DELETE", "/v1/me", json={"password": "s3cret-pass"}, headers=owner.headers
        ),
        409,
        "sole_owner",
    )
    assert body["merchants"] == [{"merchant_id": merchant["id"], "name": "独资小店"}]
    assert (await client.get("/v1/me", headers=owner.headers)).status_code == 200
    # a manager is not an owner: still refused
    await client.staff(owner, merchant["id"], "manager")
    r = await client.request(
        "DELETE", "/v1/me", json={"password": "s3cret-pass"}, headers=owner.headers
    )
    assert_problem(r, 409, "sole_owner")
    # hand over: a second owner accepts, then the first may leave; the merchant keeps one
    heir = await client.staff(owner, merchant["id"], "owner")
    r = await client.request(
        "DELETE", "/v1/me", json={"password": "s3cret-pass"}, headers=owner.headers
    )
    assert r.status_code == 204, r.text
    staff = await client.get(f"/v1/merchants/{merchant['id']}/staff", headers=heir.headers)
    assert [(s["user_id"], s["role"]) for s in staff.json() if s["role"] == "owner"] == [
        (heir.user_id, "owner")
    ]
    r = await client.request(
        "DELETE", "/v1/me", json={"password": "s3cret-pass"}, headers=heir.headers
    )
    assert_problem(r, 409, "sole_owner")


async def test_two_owners_deleting_at_once_leave_one(client: ApiClient) -> None:
    for _ in range(3):
        first = await client.register()
        merchant = await client.merchant(first)
        second = await client.staff(first, merchant["id"], "owner")
        results = await asyncio.gather(
            *(
                client.request(
                    "DELETE", "/v1/me", json={"password": "s3cret-pass"}, headers=who.headers
                )
                for who in (first, second)
            )
        )
        assert sorted(r.status_code for r in results) == [204, 409], [r.text for r in results]
        loser = first if results[0].status_code == 409 else second
        assert_problem(results[0] if loser is first else results[1], 409, "sole_owner")
        staff = await client.get(f"/v1/merchants/{merchant['id']}/staff", headers=loser.headers)
        assert [s["user_id"] for s in staff.json() if s["role"] == "owner"] == [loser.user_id]
