"""A member sets or resets the card's payment PIN at the counter through an SMS code sent to
their own phone (issue 19 point 8): codes read from the SMS log sink."""

from __future__ import annotations

import asyncio
from typing import Any

from core.settings import Settings
from tests.accounts.test_sms_signin import last_code, sent_to
from tests.helpers import Actor, ApiClient, assert_problem
from tests.memberships.helpers import Setup, counter, join, make_setup, money, set_pin
from tests.memberships.test_counter_sales import walk_in_card


async def ask(client: ApiClient, staff: Actor, card_id: str) -> Any:
    return await client.post(f"/v1/counter/cards/{card_id}/pin-code", headers=staff.headers)


async def reset(client: ApiClient, staff: Actor, card_id: str, code: str, pin: str) -> Any:
    return await client.put(
        f"/v1/counter/cards/{card_id}/pin", json={"code": code, "pin": pin}, headers=staff.headers
    )


async def test_a_locked_out_member_resets_the_pin_with_a_code_to_their_phone(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    number = card["card_number"]
    await counter(client, setup.clerk, setup, number, "purchase", amount=money(10_000))
    for _ in range(5):
        await counter(client, setup.clerk, setup, number, "spend_points", points=1, pin="000000")
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=1, pin="135790")
    assert_problem(r, 423, "card_pin_locked")

    r = await ask(client, setup.clerk, card["id"])
    assert r.status_code == 202, r.text
    local = member.phone.removeprefix("+86")
    assert r.json()["phone"] == f"{local[:3]}****{local[-4:]}" and r.json()["expires_in"] == 300
    code = last_code(test_settings, member.phone, "card_pin_code")
    wrong = "000000" if code != "000000" else "111111"
    assert_problem(await reset(client, setup.clerk, card["id"], wrong, "246801"), 400,
                   "sms_code_invalid")  # fmt: skip
    r = await reset(client, setup.clerk, card["id"], code, "246801")
    assert r.status_code == 200, r.text
    # the lock is lifted and the new PIN spends; the old one does not
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=1, pin="135790")
    assert_problem(r, 403, "card_pin_invalid")
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=1, pin="246801")
    assert r.status_code == 201, r.text
    # a code works once
    assert_problem(await reset(client, setup.clerk, card["id"], code, "975318"), 400,
                   "sms_code_invalid")  # fmt: skip


async def test_a_walk_in_member_sets_a_first_pin_at_the_counter(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    card = await walk_in_card(client, setup, "13812349876")
    r = await ask(client, setup.clerk, card["id"])
    assert r.status_code == 202, r.text
    assert r.json()["phone"] == "138****9876"
    [message] = [m for m in sent_to(test_settings, "13812349876") if m["kind"] == "card_pin_code"]
    assert "会员卡支付密码" in str(message["text"])
    code = str(message["params"]["code"])  # type: ignore[index]
    bad_bodies: list[dict[str, Any]] = [
        {"code": code, "pin": "111111"},
        {"code": code, "pin": "12345"},
        {"code": code},
        {"pin": "246801"},
        {"code": code, "pin": "246801", "x": 1},
    ]
    for bad in bad_bodies:
        r = await client.put(f"/v1/counter/cards/{card['id']}/pin", json=bad,
                             headers=setup.clerk.headers)  # fmt: skip
        assert_problem(r, 422, "validation_error")
    assert (await reset(client, setup.clerk, card["id"], code, "246801")).status_code == 200
    await counter(client, setup.clerk, setup, card["card_number"], "purchase", amount=money(5_000))
    r = await counter(
        client, setup.clerk, setup, card["card_number"], "spend_points", points=5, pin="246801"
    )
    assert r.status_code == 201, r.text


async def test_only_the_cards_merchant_staff_ask_and_a_code_fits_one_card(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    member, card = await join(client, setup)
    other = await make_setup(client)
    _, other_card = await join(client, other, member)
    for outsider in (other.clerk, member, await client.register()):
        assert_problem(await ask(client, outsider, card["id"]), 404, "card_not_found")
        assert_problem(await reset(client, outsider, card["id"], "123456", "246801"), 404,
                       "card_not_found")  # fmt: skip
    assert (await client.post(f"/v1/counter/cards/{card['id']}/pin-code")).status_code == 401

    # the code asked for this merchant's card does not set the member's card elsewhere
    assert (await ask(client, setup.clerk, card["id"])).status_code == 202
    code = last_code(test_settings, member.phone, "card_pin_code")
    assert_problem(await reset(client, other.clerk, other_card["id"], code, "246801"), 400,
                   "sms_code_invalid")  # fmt: skip
    # one code a minute per phone, however many clerks tap at once
    results = await asyncio.gather(*(ask(client, other.clerk, other_card["id"]) for _ in range(3)))
    assert sorted(r.status_code for r in results) == [429, 429, 429]
    assert all(r.headers["Retry-After"] for r in results)
