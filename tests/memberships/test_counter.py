from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.timezones import utcnow
from customers.models import Customer
from tests.helpers import ApiClient, assert_problem
from tests.memberships.helpers import Setup, counter, join, make_setup, money, set_pin


async def test_purchase_applies_discount_then_earns_and_upgrades_at_threshold(
    client: ApiClient,
    setup: Setup,
    sessionmaker,  # type: ignore[no-untyped-def]
) -> None:
    member, card = await join(client, setup)
    number = card["card_number"]
    r = await counter(client, setup.clerk, setup, number, "purchase", amount=money(99_999))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["entry"]["kind"] == "earn" and body["entry"]["points_delta"] == 999
    assert body["entry"]["balance_delta"] == 0 and body["entry"]["points_after"] == 999
    assert body["card"]["points"] == 999 and body["card"]["tier"]["code"] == "regular"
    assert body["discount"] == money(0)
    # one fen short of the VIP threshold: still regular; one more fen reaches it
    r = await counter(client, setup.clerk, setup, number, "purchase", amount=money(1))
    assert r.json()["card"]["tier"]["code"] == "vip"
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    assert r.json()["tier"]["code"] == "vip" and r.json()["progress"]["next_tier"] is None
    # VIP: 10% off 100.00 → pays 90.00, earns 2 points per yuan
    r = await counter(
        client,
        setup.clerk,
        setup,
        number.replace("", " ").strip(),
        "purchase",
        amount=money(10_000),
    )
    body = r.json()
    assert body["discount"] == money(1_000)
    assert body["entry"]["paid"] == money(9_000) and body["entry"]["points_delta"] == 180
    async with sessionmaker() as session:
        customer = (await session.execute(select(Customer))).scalar_one()
    assert customer.visits == 3 and customer.total_spend == 100_000 + 9_000


async def test_counter_refusals(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    number = card["card_number"]
    bad_number = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert_problem(
        await counter(client, setup.clerk, setup, bad_number, "purchase", amount=money(100)),
        404,
        "card_not_found",
    )
    other = await make_setup(client)
    # staff of another merchant, and a shop of another merchant
    assert_problem(
        await counter(client, other.clerk, setup, number, "purchase", amount=money(100)),
        404,
        "card_not_found",
    )
    r = await client.post(
        "/v1/counter/transactions",
        headers=setup.clerk.headers,
        json={"card": number, "shop_id": other.shop_id, "kind": "purchase", "amount": money(100)},
    )
    assert_problem(r, 404, "shop_not_found")
    assert_problem(
        await counter(client, member, setup, number, "purchase", amount=money(100)),
        404,
        "card_not_found",
    )
    assert_problem(
        await counter(client, setup.clerk, setup, number, "purchase"), 422, "validation_error"
    )
    r = await counter(
        client, setup.clerk, setup, number, "purchase", amount={"amount": 100, "currency": "USD"}
    )
    assert_problem(r, 422, "currency_mismatch")
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=10, pin="135790")
    assert_problem(r, 403, "card_pin_not_set")
    await set_pin(client, member, card["id"])
    assert_problem(
        await counter(client, setup.clerk, setup, number, "spend_points", points=10),
        403,
        "card_pin_required",
    )
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=10, pin="135790")
    assert_problem(r, 409, "insufficient_points")
    r = await counter(
        client, setup.clerk, setup, number, "spend_balance", amount=money(1), pin="135790"
    )
    assert_problem(r, 409, "insufficient_balance")


async def test_spend_points_with_pin(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    await counter(client, setup.clerk, setup, card["card_number"], "purchase", amount=money(50_000))
    r = await counter(
        client, setup.clerk, setup, card["card_number"], "spend_points", points=250, pin="135790"
    )
    assert r.status_code == 201, r.text
    entry = r.json()["entry"]
    assert entry["kind"] == "spend_points" and entry["points_delta"] == -250
    assert entry["amount"] == money(250) and entry["points_after"] == 250


async def test_pin_lockout_and_unlock_after_window(
    client: ApiClient, setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    number = card["card_number"]
    await counter(client, setup.clerk, setup, number, "purchase", amount=money(10_000))
    for attempt in range(4):
        r = await counter(
            client, setup.clerk, setup, number, "spend_points", points=1, pin="000000"
        )
        assert assert_problem(r, 403, "card_pin_invalid")["attempts_left"] == 4 - attempt
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=1, pin="000000")
    body = assert_problem(r, 423, "card_pin_locked")
    assert body["retry_after"] == 900 and r.headers["Retry-After"] == "900"
    # locked: even the right PIN is refused, and so is changing the PIN
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=1, pin="135790")
    assert_problem(r, 423, "card_pin_locked")
    r = await client.put(
        f"/v1/cards/{card['id']}/pin",
        json={"pin": "246801", "current_pin": "135790"},
        headers=member.headers,
    )
    assert_problem(r, 423, "card_pin_locked")
    # purchases (no PIN) still work during the lock
    r = await counter(client, setup.clerk, setup, number, "purchase", amount=money(100))
    assert r.status_code == 201
    # 14 minutes later: still locked; 15 minutes and a second later: open again
    base = utcnow()
    monkeypatch.setattr("memberships.routes.counter.utcnow", lambda: base + timedelta(minutes=14))
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=1, pin="135790")
    assert_problem(r, 423, "card_pin_locked")
    monkeypatch.setattr(
        "memberships.routes.counter.utcnow", lambda: base + timedelta(minutes=15, seconds=1)
    )
    r = await counter(client, setup.clerk, setup, number, "spend_points", points=1, pin="135790")
    assert r.status_code == 201, r.text


async def test_concurrent_wrong_pins_all_count(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    results = await asyncio.gather(
        *(
            counter(
                client,
                setup.clerk,
                setup,
                card["card_number"],
                "spend_points",
                points=1,
                pin="000000",
            )
            for _ in range(8)
        )
    )
    codes = sorted(r.json()["code"] for r in results)
    assert codes.count("card_pin_invalid") == 4 and codes.count("card_pin_locked") == 4


async def test_concurrent_spends_only_those_that_fit(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    number = card["card_number"]
    await counter(client, setup.clerk, setup, number, "purchase", amount=money(100_000))  # 1000 pts
    results = await asyncio.gather(
        *(
            counter(client, setup.clerk, setup, number, "spend_points", points=300, pin="135790")
            for _ in range(8)
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] * 3 + [409] * 5
    assert all(r.json()["code"] == "insufficient_points" for r in results if r.status_code == 409)
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    assert r.json()["points"] == 100


async def test_idempotency_key_replays_the_first_result(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    number = card["card_number"]
    first, second = await asyncio.gather(
        *(
            counter(
                client,
                setup.clerk,
                setup,
                number,
                "purchase",
                amount=money(5_000),
                idempotency_key="k-1",
            )
            for _ in range(2)
        )
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["entry"]["id"] == second.json()["entry"]["id"]
    r = await counter(
        client, setup.clerk, setup, number, "purchase", amount=money(6_000), idempotency_key="k-1"
    )
    assert_problem(r, 409, "idempotency_key_reused")
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    assert r.json()["points"] == 50


async def test_dynamic_qr_single_use_and_expiry(
    client: ApiClient, setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, card = await join(client, setup)
    r = await client.get(f"/v1/cards/{card['id']}/qr-token", headers=member.headers)
    assert r.status_code == 200
    token = r.json()["token"]
    from datetime import datetime

    expires_at = datetime.fromisoformat(r.json()["expires_at"])
    assert timedelta(0) < expires_at - utcnow() <= timedelta(seconds=60)
    results = await asyncio.gather(
        *(
            counter(client, setup.clerk, setup, token, "purchase", amount=money(1_000))
            for _ in range(3)
        )
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409]
    assert all(r.json()["code"] == "qr_used" for r in results if r.status_code == 409)
    # the screenshot replayed later
    assert_problem(
        await counter(client, setup.clerk, setup, token, "purchase", amount=money(1_000)),
        409,
        "qr_used",
    )
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert_problem(
        await counter(client, setup.clerk, setup, tampered, "purchase", amount=money(1)),
        422,
        "qr_invalid",
    )
    fresh = (await client.get(f"/v1/cards/{card['id']}/qr-token", headers=member.headers)).json()[
        "token"
    ]
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr("memberships.routes.counter.utcnow", lambda: later)
    assert_problem(
        await counter(client, setup.clerk, setup, fresh, "purchase", amount=money(1)),
        409,
        "qr_expired",
    )


async def test_reversal_by_manager_once(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    number = card["card_number"]
    purchase = (
        await counter(client, setup.clerk, setup, number, "purchase", amount=money(20_000))
    ).json()
    spend = (
        await counter(client, setup.clerk, setup, number, "spend_points", points=50, pin="135790")
    ).json()
    url = f"/v1/counter/transactions/{spend['entry']['id']}/reverse"
    assert_problem(await client.post(url, headers=setup.clerk.headers), 403, "forbidden")
    assert_problem(await client.post(url, headers=member.headers), 404, "transaction_not_found")
    results = await asyncio.gather(
        *(client.post(url, headers=setup.manager.headers) for _ in range(3))
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409]
    ok = next(r.json() for r in results if r.status_code == 201)
    assert ok["entry"]["kind"] == "reversal" and ok["entry"]["points_delta"] == 50
    assert ok["entry"]["reverses_entry_id"] == spend["entry"]["id"]
    assert ok["card"]["points"] == 200
    # reversing the purchase takes its points back
    r = await client.post(
        f"/v1/counter/transactions/{purchase['entry']['id']}/reverse", headers=setup.owner.headers
    )
    assert r.status_code == 201 and r.json()["card"]["points"] == 0
    r = await client.post(
        f"/v1/counter/transactions/{ok['entry']['id']}/reverse", headers=setup.owner.headers
    )
    assert_problem(r, 409, "transaction_not_reversible")
    ledger = (
        await client.get(f"/v1/cards/{card['id']}/ledger?limit=2", headers=member.headers)
    ).json()
    assert [e["kind"] for e in ledger["items"]] == ["reversal", "reversal"]
    rest = (
        await client.get(
            f"/v1/cards/{card['id']}/ledger?cursor={ledger['next_cursor']}", headers=member.headers
        )
    ).json()
    assert [e["kind"] for e in rest["items"]] == ["spend_points", "earn"] and rest[
        "next_cursor"
    ] is None
