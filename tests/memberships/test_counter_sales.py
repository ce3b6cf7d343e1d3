"""Counter sales (issue 20 point 7): a clerk sells a top-up or a count card at the counter,
the member pays by the QR on the tablet, the callback credits the card, and the shop's day
close shows the sale under that clerk. Walk-in members (no app account) can buy too."""

from __future__ import annotations

import asyncio
from typing import Any

from core.settings import Settings
from tests.helpers import ApiClient, assert_problem
from tests.memberships.helpers import Setup, count_product, join, make_setup, money
from tests.memberships.test_topups import callback, post_callback


async def sell(
    client: ApiClient, setup: Setup, path: str, body: dict[str, Any], key: str | None = None
) -> Any:
    headers = dict(setup.clerk.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(
        f"/v1/counter/{path}", json={"shop_id": setup.shop_id, **body}, headers=headers
    )


async def walk_in_card(client: ApiClient, setup: Setup, phone: str) -> dict[str, Any]:
    r = await client.post(
        f"/v1/merchants/{setup.merchant_id}/customers",
        json={"phone": phone, "name": "李阿姨"},
        headers=setup.clerk.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/v1/programs/{setup.program_id}/cards",
        json={"customer_id": r.json()["id"]},
        headers=setup.clerk.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_clerk_sells_a_top_up_credited_once_on_the_callback(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    member, card = await join(client, setup)
    body = {"card": card["card_number"], "amount": money(50_000)}
    r = await sell(client, setup, "topups", body, key="sale-1")
    assert r.status_code == 201, r.text
    topup = r.json()
    assert topup["status"] == "pending" and topup["card_id"] == card["id"]
    assert topup["bonus"] == money(5_000)  # the programme's 充500送50 rule, as for the holder
    # a retry of the clerk's tap starts no second payment
    again = await sell(client, setup, "topups", body, key="sale-1")
    assert again.status_code == 201 and again.json()["id"] == topup["id"]

    reference = topup["payment"]["reference"]
    seen = (await client.get(f"/v1/payments/{reference}", headers=setup.clerk.headers)).json()
    assert seen["status"] == "pending" and seen["kind"] == "topup"

    delivered = callback(test_settings, reference)
    results = await asyncio.gather(*(post_callback(client, *delivered) for _ in range(3)))
    assert all(r.status_code == 200 for r in results)
    seen = (await client.get(f"/v1/payments/{reference}", headers=setup.clerk.headers)).json()
    assert seen["status"] == "succeeded"
    card_now = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    assert card_now["principal"] == money(50_000) and card_now["bonus"] == money(5_000)

    # the sale is the shop's, under the clerk who made it
    r = await client.get(f"/v1/shops/{setup.shop_id}/day-close", headers=setup.owner.headers)
    assert r.status_code == 200, r.text
    close = r.json()
    kinds = {k["kind"]: k for k in close["card_transactions"]}
    assert kinds["topup"]["principal_delta"] == 50_000 and kinds["topup"]["count"] == 1
    assert kinds["bonus"]["bonus_delta"] == 5_000
    clerk_row = [s for s in close["by_staff"] if s["staff_user_id"] == setup.clerk.user_id]
    assert clerk_row and clerk_row[0]["card_transactions"] == 2


async def test_a_walk_in_member_buys_a_count_card_at_the_counter(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    card = await walk_in_card(client, setup, "13912345678")
    product = await count_product(client, setup, uses=5, price=20_000)
    r = await sell(
        client, setup, "count-passes", {"card": card["card_number"], "product_id": product["id"]}
    )
    assert r.status_code == 201, r.text
    sold = r.json()
    assert sold["status"] == "pending" and sold["uses_left"] == 0
    r = await post_callback(client, *callback(test_settings, sold["payment"]["reference"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["uses_left"] == 5
    # the uses work at the counter
    r = await client.post(
        "/v1/counter/transactions",
        json={
            "card": card["card_number"],
            "shop_id": setup.shop_id,
            "kind": "count_use",
            "count_product_id": product["id"],
        },  # fmt: skip
        headers=setup.clerk.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["count_pass"]["uses_left"] == 4
    # the walk-in's customer record saw the purchase
    r = await client.get(
        f"/v1/merchants/{setup.merchant_id}/customers?q=5678", headers=setup.owner.headers
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 1 and items[0]["total_spend"] == money(20_000)


async def test_counter_sales_refuse_strangers_and_bad_input(
    client: ApiClient, setup: Setup
) -> None:
    _, card = await join(client, setup)
    product = await count_product(client, setup)
    other = await make_setup(client)
    other_product = await count_product(client, other)
    number = card["card_number"]

    # another merchant's clerk learns nothing about the card; a stranger's shop is refused
    r = await sell(client, other, "topups", {"card": number, "amount": money(100)})
    assert_problem(r, 404, "card_not_found")
    r = await client.post(
        "/v1/counter/topups",
        json={"card": number, "shop_id": other.shop_id, "amount": money(100)},
        headers=setup.clerk.headers,
    )
    assert_problem(r, 404, "shop_not_found")
    r = await sell(
        client, setup, "count-passes", {"card": number, "product_id": other_product["id"]}
    )
    assert_problem(r, 404, "count_product_not_found")
    r = await sell(client, setup, "topups", {"card": "8" * 12, "amount": money(100)})
    assert_problem(r, 404, "card_not_found")
    r = await sell(
        client, setup, "topups", {"card": number, "amount": {"amount": 100, "currency": "USD"}}
    )
    assert_problem(r, 422, "currency_mismatch")
    for bad in (
        {"card": number, "amount": money(0)},
        {"card": number, "amount": money(-5)},
        {"card": "", "amount": money(100)},
        {"card": number},
        {"card": number, "amount": money(100), "extra": 1},
        {"card": number, "amount": money(100), "payment": {"provider": "nope"}},
    ):
        assert_problem(await sell(client, setup, "topups", bad), 422, "validation_error")
    r = await sell(client, setup, "count-passes", {"card": number, "product_id": "x"})
    assert_problem(r, 422, "validation_error")
    # the holder cannot sell to themselves; nobody signed in cannot sell at all
    member = await client.register()
    r = await client.post(
        "/v1/counter/topups",
        json={"card": number, "shop_id": setup.shop_id, "amount": money(100)},
        headers=member.headers,
    )
    assert_problem(r, 404, "card_not_found")
    r = await client.post(
        "/v1/counter/count-passes",
        json={"card": number, "shop_id": setup.shop_id, "product_id": product["id"]},
    )
    assert r.status_code == 401


async def test_a_card_is_looked_up_before_charging_and_its_qr_stays_usable(
    client: ApiClient, setup: Setup
) -> None:
    """POST /v1/counter/cards/lookup: the clerk sees who holds a typed or scanned card
    (name, tier, points, balance, passes) before charging; nothing is written."""
    member, card = await join(client, setup)
    r = await client.get(f"/v1/cards/{card['id']}/qr-token", headers=member.headers)
    token = r.json()["token"]
    await client.post(
        "/v1/counter/transactions",
        json={
            "card": card["card_number"],
            "shop_id": setup.shop_id,
            "kind": "purchase",
            "amount": money(12_300),
        },  # fmt: skip
        headers=setup.clerk.headers,
    )
    for typed in (card["card_number"], token, token):  # looking twice leaves the QR unused
        r = await client.post(
            "/v1/counter/cards/lookup",
            json={"card": typed, "shop_id": setup.shop_id},
            headers=setup.clerk.headers,
        )
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["card"]["id"] == card["id"] and seen["card"]["points"] == 123
        assert seen["name"] == "张三" and seen["customer_id"] is not None
        assert seen["card"]["tier"]["name"]
    r = await client.post(
        "/v1/counter/transactions",
        json={"card": token, "shop_id": setup.shop_id, "kind": "purchase", "amount": money(100)},
        headers=setup.clerk.headers,
    )
    assert r.status_code == 201, r.text  # the charge uses the token the lookup left alone

    walk_in = await walk_in_card(client, setup, "13712345670")
    r = await client.post(
        "/v1/counter/cards/lookup",
        json={"card": walk_in["card_number"], "shop_id": setup.shop_id},
        headers=setup.clerk.headers,
    )
    assert r.status_code == 200 and r.json()["name"] == "李阿姨", r.text

    other = await make_setup(client)
    elsewhere = {"card": card["card_number"], "shop_id": other.shop_id}
    here = {"card": card["card_number"], "shop_id": setup.shop_id}
    for who, body, code in (
        (other.clerk, here, "card_not_found"),  # another merchant's clerk learns nothing
        (setup.clerk, elsewhere, "shop_not_found"),  # a shop of another merchant
        (member, here, "card_not_found"),  # the holder is not the counter
    ):
        r = await client.post("/v1/counter/cards/lookup", json=body, headers=who.headers)
        assert_problem(r, 404, code)
    for bad in ({"card": ""}, {"card": "x", "shop_id": "nope"}, {"shop_id": setup.shop_id}):
        r = await client.post("/v1/counter/cards/lookup", json=bad, headers=setup.clerk.headers)
        assert_problem(r, 422, "validation_error")
