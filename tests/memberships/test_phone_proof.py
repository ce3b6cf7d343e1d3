"""Records merchants made for a phone (walk-ins, member-book cards with their balance) join an
account only once it proves the phone by an SMS code: a password registration with someone
else's number gets nothing, and the owner's first SMS sign-in takes the account over."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from core.settings import Settings
from tests.accounts.test_sms_signin import ask_code, last_code
from tests.helpers import ApiClient, fresh_phone
from tests.memberships.helpers import Setup, join, make_setup, money, sms_actor
from tests.memberships.test_member_book import _book_csv, _import


async def imported_card(client: ApiClient, setup: Setup, phone: str) -> dict[str, Any]:
    r = await _import(client, setup, _book_csv([["王秀英", phone, "", "P001", "500", 30]]))
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    found = await client.post(
        "/v1/counter/members/lookup",
        json={"phone": phone, "shop_id": setup.shop_id},
        headers=setup.owner.headers,
    )
    return found.json()["items"][0]  # type: ignore[no-any-return]


async def test_a_password_registration_with_someone_elses_phone_gets_nothing(
    client: ApiClient, test_settings: Settings, redis: Redis
) -> None:
    setup = await make_setup(client)
    phone = fresh_phone()
    member = await imported_card(client, setup, phone)
    card = member["card"]
    assert card["balance"] == money(50_000)

    intruder = await client.register(phone=phone, password="not-the-owner-1", name="冒名")
    assert (await client.get("/v1/me/cards", headers=intruder.headers)).json()["items"] == []
    r = await client.get(f"/v1/cards/{card['id']}", headers=intruder.headers)
    assert r.status_code == 404
    r = await client.get(f"/v1/cards/{card['id']}/ledger", headers=intruder.headers)
    assert r.status_code == 404
    # records made after the registration do not join it either: a walk-in elsewhere, a book
    other = await make_setup(client)
    r = await client.post(
        f"/v1/merchants/{other.merchant_id}/customers",
        json={"phone": phone},
        headers=other.owner.headers,
    )
    assert r.status_code == 201 and r.json()["user_id"] is None, r.text
    later = await imported_card(client, other, phone)
    assert (await client.get("/v1/me/cards", headers=intruder.headers)).json()["items"] == []
    r = await client.get(
        f"/v1/merchants/{setup.merchant_id}/customers/{member['customer_id']}",
        headers=setup.owner.headers,
    )
    assert r.json()["user_id"] is None

    # the phone's owner signs in by SMS code: the account is theirs now, with both cards;
    # the intruder's password and sessions are void
    owner = await sms_actor(client, test_settings, phone)
    assert owner.user_id == intruder.user_id  # one account per phone
    mine = (await client.get("/v1/me/cards", headers=owner.headers)).json()["items"]
    assert {c["id"] for c in mine} == {card["id"], later["card"]["id"]}
    assert (await client.get("/v1/me", headers=intruder.headers)).status_code == 401
    r = await client.post("/v1/auth/token", data={"username": phone, "password": "not-the-owner-1"})
    assert r.status_code == 401, r.text
    r = await client.post("/v1/auth/refresh", json={"refresh_token": intruder.refresh_token})
    assert r.status_code == 401, r.text
    # a second SMS sign-in (a minute on: the per-phone gap) changes nothing more
    await redis.delete(f"sms:gap:+86{phone}")
    again = await sms_actor(client, test_settings, phone)
    assert (await client.get("/v1/me", headers=owner.headers)).status_code == 200
    assert len((await client.get("/v1/me/cards", headers=again.headers)).json()["items"]) == 2


async def test_a_password_reset_by_code_proves_the_phone(
    client: ApiClient, test_settings: Settings
) -> None:
    setup = await make_setup(client)
    phone = fresh_phone()
    member = await imported_card(client, setup, phone)
    user = await client.register(phone=phone, password="first-pass-1")
    assert (await client.get("/v1/me/cards", headers=user.headers)).json()["items"] == []
    await ask_code(client, phone, purpose="reset")
    r = await client.post(
        "/v1/auth/password-reset",
        json={"phone": phone, "code": last_code(test_settings, phone, "reset_code"),
              "new_password": "second-pass-2"},
    )  # fmt: skip
    assert r.status_code == 204, r.text
    tokens = await client.login(phone, "second-pass-2")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    mine = (await client.get("/v1/me/cards", headers=headers)).json()["items"]
    assert [c["id"] for c in mine] == [member["card"]["id"]]


async def test_proving_a_phone_skips_a_merchant_where_the_account_is_known_already(
    client: ApiClient, test_settings: Settings
) -> None:
    """The account joined the programme before proving the phone, and the merchant also has a
    walk-in record of that phone with a book card: the sign-in works, the account keeps its
    own record and card there (staff merge the walk-in by hand)."""
    setup = await make_setup(client)
    phone = fresh_phone()
    user = await client.register(phone=phone, password="own-pass-123")
    _, own_card = await join(client, setup, user)
    r = await _import(client, setup, _book_csv([["王", phone, "", "Q001", "80", 0]]))
    assert r.status_code == 200, r.text
    owner = await sms_actor(client, test_settings, phone)
    mine = (await client.get("/v1/me/cards", headers=owner.headers)).json()["items"]
    assert [c["id"] for c in mine] == [own_card["id"]]
    assert mine[0]["balance"] == money(0)  # the book's balance went to the walk-in's card
