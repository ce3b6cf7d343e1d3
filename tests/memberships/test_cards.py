from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select

from customers.models import Customer
from memberships import cardnumbers
from tests.helpers import ApiClient, assert_problem
from tests.memberships.helpers import Setup, join, make_setup, money, program_body


async def test_program_created_listed_and_read_publicly(client: ApiClient, setup: Setup) -> None:
    program = setup.program
    assert [t["code"] for t in program["tiers"]] == ["regular", "vip"]
    assert program["tiers"][1]["upgrade"]["min_spend_12m"] == money(100_000)
    assert program["redeem"] == {"points_per_currency_unit": 100}
    r = await client.get(f"/v1/merchants/{setup.merchant_id}/programs", headers=setup.clerk.headers)
    assert r.status_code == 200 and [p["id"] for p in r.json()["items"]] == [setup.program_id]
    r = await client.get(f"/v1/programs/{setup.program_id}")
    assert r.status_code == 200 and r.json()["name"] == "老王面馆会员卡"
    stranger = await client.register()
    r = await client.get(f"/v1/merchants/{setup.merchant_id}/programs", headers=stranger.headers)
    assert_problem(r, 404, "merchant_not_found")
    r = await client.post(
        f"/v1/merchants/{setup.merchant_id}/programs",
        json=program_body(),
        headers=setup.clerk.headers,
    )
    assert_problem(r, 403, "forbidden")


async def test_program_validation(client: ApiClient, setup: Setup) -> None:
    tiers: list[dict[str, Any]] = program_body()["tiers"]
    bad: list[dict[str, Any]] = [
        {"tiers": [tiers[0], {**tiers[1], "code": "regular"}]},
        {"tiers": [tiers[0], {**tiers[1], "rank": 0}]},
        {"tiers": []},
        {"tiers": [{**tiers[0], "discount_percent": 100}]},
        {"redeem": {"points_per_currency_unit": 0}},
        {
            "tiers": [
                tiers[0],
                {**tiers[1], "upgrade": {"min_spend_12m": {"amount": 5, "currency": "USD"}}},
            ]
        },
    ]
    for overrides in bad:
        r = await client.post(
            f"/v1/merchants/{setup.merchant_id}/programs",
            json=program_body(**overrides),
            headers=setup.owner.headers,
        )
        assert_problem(r, 422, "validation_error")


async def test_join_gives_one_luhn_card_per_user(
    client: ApiClient, setup: Setup, sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    member, card = await join(client, setup)
    assert cardnumbers.is_valid_card_number(card["card_number"])
    assert card["program_id"] == setup.program_id
    assert card["tier"]["code"] == "regular" and card["tier"]["name"] == "普通卡"
    assert card["points"] == 0 and card["balance"] == money(0)
    r = await client.post(f"/v1/programs/{setup.program_id}/join", headers=member.headers)
    assert_problem(r, 409, "card_exists")

    other = await client.register()
    results = await asyncio.gather(
        *(
            client.post(f"/v1/programs/{setup.program_id}/join", headers=other.headers)
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in results) == [201] + [409] * 5
    async with sessionmaker() as session:
        customers = (await session.execute(select(Customer))).scalars().all()
    assert {str(c.user_id) for c in customers} == {member.user_id, other.user_id}
    assert all(c.source == "card_joined" for c in customers)

    r = await client.post(f"/v1/programs/{uuid.uuid4()}/join", headers=member.headers)
    assert_problem(r, 404, "program_not_found")


async def test_card_visible_to_holder_and_staff_only(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    assert r.status_code == 200
    progress = r.json()["progress"]
    assert progress == {
        "spend_12m": money(0),
        "next_tier": {"code": "vip", "name": "贵宾卡"},
        "remaining": money(100_000),
    }
    r = await client.get(f"/v1/cards/{card['id']}", headers=setup.clerk.headers)
    assert r.status_code == 200 and r.json()["card_number"] == card["card_number"]
    stranger = await client.register()
    other_merchant = await make_setup(client)
    for who in (stranger, other_merchant.owner):
        for path in ("", "/ledger", "/image.png", "/qr-token"):
            assert_problem(
                await client.get(f"/v1/cards/{card['id']}{path}", headers=who.headers),
                404,
                "card_not_found",
            )
    # the QR token is the holder's alone, even staff cannot mint one
    r = await client.get(f"/v1/cards/{card['id']}/qr-token", headers=setup.clerk.headers)
    assert_problem(r, 404, "card_not_found")

    r = await client.get("/v1/me/cards", headers=member.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [c["id"] for c in items] == [card["id"]] and items[0]["progress"]["next_tier"][
        "code"
    ] == "vip"


async def test_pin_set_and_change(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    url = f"/v1/cards/{card['id']}/pin"
    assert_problem(
        await client.put(url, json={"pin": "12345"}, headers=member.headers),
        422,
        "validation_error",
    )
    assert_problem(
        await client.put(url, json={"pin": "111111"}, headers=member.headers),
        422,
        "validation_error",
    )
    r = await client.put(url, json={"pin": "135790"}, headers=member.headers)
    assert r.status_code == 200 and r.json()["has_pin"] is True
    r = await client.put(url, json={"pin": "246801"}, headers=member.headers)
    assert_problem(r, 403, "card_pin_required")
    r = await client.put(
        url, json={"pin": "246801", "current_pin": "000000"}, headers=member.headers
    )
    assert_problem(r, 403, "card_pin_invalid")
    r = await client.put(
        url, json={"pin": "246801", "current_pin": "135790"}, headers=member.headers
    )
    assert r.status_code == 200
    r = await client.put(url, json={"pin": "135790"}, headers=setup.owner.headers)
    assert_problem(r, 404, "card_not_found")


async def test_tampered_cursors_are_refused(client: ApiClient, setup: Setup) -> None:
    from core.pagination import encode_cursor

    member, card = await join(client, setup)
    for cursor in (encode_cursor({"seq": "x"}), encode_cursor({"seq": -1}), "%%%"):
        r = await client.get(
            f"/v1/cards/{card['id']}/ledger", params={"cursor": cursor}, headers=member.headers
        )
        assert_problem(r, 422, "invalid_cursor")
    r = await client.get(
        "/v1/me/cards",
        params={"cursor": encode_cursor({"t": "no", "id": "x"})},
        headers=member.headers,
    )
    assert_problem(r, 422, "invalid_cursor")
