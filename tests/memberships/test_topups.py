from __future__ import annotations

import asyncio
from typing import Any

import orjson

from core.payments import SIGNATURE_HEADER, FakePaymentProvider
from core.settings import Settings
from tests.helpers import Actor, ApiClient, assert_problem
from tests.memberships.helpers import Setup, counter, join, make_setup, money, set_pin


def callback(settings: Settings, reference: str, status: str = "succeeded") -> tuple[bytes, str]:
    body = orjson.dumps({"reference": reference, "status": status})
    return body, FakePaymentProvider(settings.signing_keys()).sign_callback(body)


async def post_callback(client: ApiClient, body: bytes, signature: str) -> Any:
    return await client.post(
        "/v1/payments/fake/callback",
        content=body,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )


async def topped_up(
    client: ApiClient, settings: Settings, member: Actor, card_id: str, amount: int
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/cards/{card_id}/topups", json={"amount": money(amount)}, headers=member.headers
    )
    assert r.status_code == 201, r.text
    topup = r.json()
    r = await post_callback(client, *callback(settings, topup["payment"]["reference"]))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_topup_pending_until_signed_callback_then_credited_once(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    member, card = await join(client, setup)
    r = await client.post(
        f"/v1/cards/{card['id']}/topups",
        json={"amount": money(50_000)},
        headers={**member.headers, "Idempotency-Key": "t1"},
    )
    assert r.status_code == 201, r.text
    topup = r.json()
    assert topup["status"] == "pending" and topup["bonus"] == money(5_000)
    assert topup["payment"]["provider"] == "fake"
    again = await client.post(
        f"/v1/cards/{card['id']}/topups",
        json={"amount": money(50_000)},
        headers={**member.headers, "Idempotency-Key": "t1"},
    )
    assert again.json()["id"] == topup["id"]
    card_now = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    assert card_now["balance"] == money(0)

    body, signature = callback(test_settings, topup["payment"]["reference"])
    tampered = body.replace(b"succeeded", b"succeeded ")
    assert_problem(
        await post_callback(client, tampered, signature), 401, "payment_signature_invalid"
    )
    assert_problem(
        # a changed last digit (replacing it with a fixed "00" matched 1 time in 256)
        await post_callback(client, body, signature[:-1] + ("1" if signature[-1] == "0" else "0")),
        401,
        "payment_signature_invalid",
    )
    assert_problem(await post_callback(client, body, ""), 401, "payment_signature_invalid")

    results = await asyncio.gather(*(post_callback(client, body, signature) for _ in range(4)))
    assert all(r.status_code == 200 and r.json()["status"] == "succeeded" for r in results)
    card_now = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    assert card_now["principal"] == money(50_000) and card_now["bonus"] == money(5_000)
    assert card_now["balance"] == money(55_000)
    ledger = (await client.get(f"/v1/cards/{card['id']}/ledger", headers=member.headers)).json()[
        "items"
    ]
    assert [(e["kind"], e["balance_delta"], e["balance_after"]) for e in ledger] == [
        ("bonus", 5_000, 55_000),
        ("topup", 50_000, 50_000),
    ]

    r = await client.post(
        f"/v1/cards/{card['id']}/topups", json={"amount": money(100)}, headers=setup.clerk.headers
    )
    assert_problem(r, 404, "card_not_found")


async def test_failed_payment_credits_nothing(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    member, card = await join(client, setup)
    r = await client.post(
        f"/v1/cards/{card['id']}/topups", json={"amount": money(1_000)}, headers=member.headers
    )
    reference = r.json()["payment"]["reference"]
    r = await post_callback(client, *callback(test_settings, reference, "failed"))
    assert r.json()["status"] == "failed"
    # a later "succeeded" for the same payment cannot resurrect it
    r = await post_callback(client, *callback(test_settings, reference, "succeeded"))
    assert r.json()["status"] == "failed"
    card_now = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    assert card_now["balance"] == money(0)


async def test_spending_uses_principal_first_and_refund_returns_principal_only(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    await topped_up(client, test_settings, member, card["id"], 50_000)
    r = await counter(
        client,
        setup.clerk,
        setup,
        card["card_number"],
        "spend_balance",
        amount=money(52_000),
        pin="135790",
    )
    assert r.status_code == 201, r.text
    entry = r.json()["entry"]
    assert (entry["principal_delta"], entry["bonus_delta"], entry["balance_delta"]) == (
        -50_000,
        -2_000,
        -52_000,
    )
    await topped_up(client, test_settings, member, card["id"], 10_000)  # below the bonus rule
    r = await client.post(f"/v1/cards/{card['id']}/refund", headers=setup.clerk.headers)
    assert_problem(r, 403, "forbidden")
    r = await client.post(f"/v1/cards/{card['id']}/refund", headers=setup.manager.headers)
    assert r.status_code == 200, r.text
    refund = r.json()
    assert refund["refunded"] == money(10_000)
    assert (
        refund["entry"]["principal_delta"] == -10_000 and refund["entry"]["bonus_delta"] == -3_000
    )
    assert refund["card"]["balance"] == money(0)


async def test_bonus_first_rule(client: ApiClient, test_settings: Settings) -> None:
    setup = await make_setup(client, bonus_spend_rule="bonus_first")
    member, card = await join(client, setup)
    await set_pin(client, member, card["id"])
    await topped_up(client, test_settings, member, card["id"], 50_000)
    r = await counter(
        client,
        setup.clerk,
        setup,
        card["card_number"],
        "spend_balance",
        amount=money(6_000),
        pin="135790",
    )
    entry = r.json()["entry"]
    assert (entry["principal_delta"], entry["bonus_delta"]) == (-1_000, -5_000)
    r = await client.post(f"/v1/cards/{card['id']}/refund", headers=setup.owner.headers)
    assert r.json()["refunded"] == money(49_000)


async def test_staff_poll_a_payment_until_it_is_paid(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    """GET /v1/payments/{reference}: the counter's view of a payment it showed the QR of;
    staff of another merchant, the payer and strangers get the payment's own 404."""
    member, card = await join(client, setup)
    r = await client.post(
        f"/v1/cards/{card['id']}/topups", json={"amount": money(12_345)}, headers=member.headers
    )
    assert r.status_code == 201, r.text
    topup = r.json()
    reference = topup["payment"]["reference"]
    path = f"/v1/payments/{reference}"

    r = await client.get(path, headers=setup.clerk.headers)
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["status"] == "pending" and seen["paid_at"] is None
    assert (seen["reference"], seen["provider"], seen["kind"]) == (reference, "fake", "topup")
    assert seen["subject_id"] == topup["id"]
    assert seen["amount"] == money(12_345) and seen["refunded"] == money(0)
    assert seen["payment"] == topup["payment"]

    assert (await post_callback(client, *callback(test_settings, reference))).status_code == 200
    paid = (await client.get(path, headers=setup.clerk.headers)).json()
    assert paid["status"] == "succeeded" and paid["paid_at"] is not None

    other = await make_setup(client)
    for outsider in (other.owner, member, await client.register()):
        assert_problem(await client.get(path, headers=outsider.headers), 404, "payment_not_found")
    unknown = "tu_" + "a" * 26
    assert_problem(await client.get(f"/v1/payments/{unknown}", headers=setup.owner.headers),
                   404, "payment_not_found")  # fmt: skip
    assert (await client.get(path)).status_code == 401
    r = await client.get("/v1/payments/" + "x" * 65, headers=setup.owner.headers)
    assert_problem(r, 422, "validation_error")
