"""Count cards (次卡): products, purchase through the payment provider, uses at the counter
(exactly once, never below zero, expiry, shop restriction), reversal."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from core.settings import Settings
from core.timezones import utcnow
from memberships.models import CountPass, LedgerEntry
from tests.helpers import ApiClient, assert_problem, create_shop
from tests.memberships.helpers import (
    Setup,
    bought_pass,
    count_product,
    counter,
    join,
    make_setup,
    money,
)
from tests.memberships.test_topups import callback, post_callback


async def test_products_are_defined_by_managers_and_listed_publicly(
    client: ApiClient, setup: Setup
) -> None:
    path = f"/v1/programs/{setup.program_id}/count-products"
    body = {"name": "洗剪吹10次卡", "uses": 10, "price": money(40_000), "validity_days": 365}
    assert_problem(
        await client.post(path, json=body, headers=setup.clerk.headers), 403, "forbidden"
    )
    stranger = await client.register()
    assert_problem(
        await client.post(path, json=body, headers=stranger.headers), 404, "program_not_found"
    )
    usd = {**body, "price": {"amount": 100, "currency": "USD"}}
    assert_problem(
        await client.post(path, json=usd, headers=setup.manager.headers), 422, "currency_mismatch"
    )
    other = await make_setup(client)
    foreign = {**body, "shop_ids": [other.shop_id]}
    assert_problem(
        await client.post(path, json=foreign, headers=setup.manager.headers),
        422,
        "validation_error",
    )
    zero = {**body, "uses": 0}
    assert_problem(
        await client.post(path, json=zero, headers=setup.manager.headers), 422, "validation_error"
    )
    product = await count_product(client, setup, validity_days=365, shop_ids=[setup.shop_id])
    assert product["uses"] == 10 and product["price"] == money(40_000)
    assert product["shop_ids"] == [setup.shop_id] and product["validity_days"] == 365
    listed = (await client.get(path)).json()
    assert [p["id"] for p in listed["items"]] == [product["id"]]
    assert_problem(
        await client.get(f"/v1/programs/{uuid.uuid4()}/count-products"), 404, "program_not_found"
    )


async def test_purchase_is_pending_until_the_signed_callback_then_credited_once(
    client: ApiClient, setup: Setup, test_settings: Settings, sessionmaker: Any
) -> None:
    product = await count_product(client, setup, uses=10, price=40_000, validity_days=30)
    member, card = await join(client, setup)
    path = f"/v1/cards/{card['id']}/count-passes"
    headers = {**member.headers, "Idempotency-Key": "buy-1"}
    r = await client.post(path, json={"product_id": product["id"]}, headers=headers)
    assert r.status_code == 201, r.text
    pending = r.json()
    assert pending["status"] == "pending" and pending["uses_left"] == 0
    assert pending["payment"]["reference"].startswith("cnt_")
    again = await client.post(path, json={"product_id": product["id"]}, headers=headers)
    assert again.json()["id"] == pending["id"]
    # staff cannot buy for the member; another program's product is unknown here
    assert_problem(
        await client.post(path, json={"product_id": product["id"]}, headers=setup.clerk.headers),
        404,
        "card_not_found",
    )
    other = await make_setup(client)
    foreign = await count_product(client, other)
    assert_problem(
        await client.post(path, json={"product_id": foreign["id"]}, headers=member.headers),
        404,
        "count_product_not_found",
    )
    shown = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    assert shown["count_passes"] == []  # unpaid passes are not on the card

    body, signature = callback(test_settings, pending["payment"]["reference"])
    assert_problem(
        await post_callback(client, body, signature[:-1] + ("1" if signature[-1] == "0" else "0")),
        401,
        "payment_signature_invalid",
    )
    results = await asyncio.gather(*(post_callback(client, body, signature) for _ in range(4)))
    assert all(r.status_code == 200 and r.json()["status"] == "active" for r in results)
    shown = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    [held] = shown["count_passes"]
    assert held["uses_left"] == held["uses_total"] == 10 and held["status"] == "active"
    assert held["expires_at"] is not None
    ledger = (await client.get(f"/v1/cards/{card['id']}/ledger", headers=member.headers)).json()
    [entry] = ledger["items"]
    assert entry["kind"] == "count_purchase" and entry["uses_delta"] == 10
    assert entry["uses_after"] == 10 and entry["paid"] == money(40_000)
    assert entry["count_pass_id"] == pending["id"] and entry["points_delta"] == 0
    mine = (await client.get("/v1/me/cards", headers=member.headers)).json()["items"][0]
    assert mine["count_passes"][0]["id"] == pending["id"]

    # a failed payment leaves a failed pass, no uses, no entry
    r = await client.post(path, json={"product_id": product["id"]}, headers=member.headers)
    failed = await post_callback(
        client, *callback(test_settings, r.json()["payment"]["reference"], "failed")
    )
    assert failed.json()["status"] == "failed"
    listed = (await client.get(path, headers=setup.clerk.headers)).json()
    assert sorted(p["status"] for p in listed) == ["active", "failed"]
    async with sessionmaker() as session:
        entries = await session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.card_id == uuid.UUID(card["id"]))
        )
    assert entries == 1


async def test_uses_at_the_counter_count_down_to_exhausted_and_can_be_reversed(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    product = await count_product(client, setup, uses=2)
    member, card = await join(client, setup)
    held = await bought_pass(client, test_settings, member, card["id"], product["id"])
    number = card["card_number"]
    r = await counter(
        client, setup.clerk, setup, number, "count_use", pass_id=held["id"], idempotency_key="u1"
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["entry"]["kind"] == "count_use" and first["entry"]["uses_delta"] == -1
    assert first["entry"]["uses_after"] == 1 and first["count_pass"]["uses_left"] == 1
    assert first["card"]["count_passes"][0]["uses_left"] == 1
    # the retried request answers the same use, it does not take another
    replay = await counter(
        client, setup.clerk, setup, number, "count_use", pass_id=held["id"], idempotency_key="u1"
    )
    assert replay.json()["entry"]["id"] == first["entry"]["id"]
    r = await counter(
        client, setup.clerk, setup, number, "count_use", count_product_id=product["id"]
    )
    assert r.status_code == 201 and r.json()["count_pass"]["status"] == "used_up"
    assert_problem(
        await counter(client, setup.clerk, setup, number, "count_use", pass_id=held["id"]),
        409,
        "count_pass_exhausted",
    )
    assert_problem(
        await counter(
            client, setup.clerk, setup, number, "count_use", count_product_id=product["id"]
        ),
        409,
        "count_pass_exhausted",
    )
    assert_problem(
        await counter(client, setup.clerk, setup, number, "count_use", pass_id=str(uuid.uuid4())),
        404,
        "count_pass_not_found",
    )
    assert_problem(
        await counter(client, setup.clerk, setup, number, "count_use"), 422, "validation_error"
    )

    reverse = f"/v1/counter/transactions/{first['entry']['id']}/reverse"
    assert_problem(await client.post(reverse, headers=setup.clerk.headers), 403, "forbidden")
    r = await client.post(reverse, headers=setup.manager.headers)
    assert r.status_code == 201, r.text
    assert r.json()["entry"]["uses_delta"] == 1 and r.json()["entry"]["uses_after"] == 1
    assert_problem(
        await client.post(reverse, headers=setup.manager.headers),
        409,
        "transaction_already_reversed",
    )
    r = await counter(client, setup.clerk, setup, number, "count_use", pass_id=held["id"])
    assert r.status_code == 201 and r.json()["count_pass"]["uses_left"] == 0
    # the purchase itself is not a counter transaction to reverse
    ledger = (await client.get(f"/v1/cards/{card['id']}/ledger", headers=member.headers)).json()
    bought = next(e for e in ledger["items"] if e["kind"] == "count_purchase")
    assert_problem(
        await client.post(
            f"/v1/counter/transactions/{bought['id']}/reverse", headers=setup.manager.headers
        ),
        409,
        "transaction_not_reversible",
    )


async def test_expired_passes_and_other_shops_are_refused(
    client: ApiClient, setup: Setup, test_settings: Settings, sessionmaker: Any
) -> None:
    second_shop = await create_shop(client, setup.owner, setup.merchant_id, name="二号店")
    product = await count_product(client, setup, validity_days=30, shop_ids=[setup.shop_id])
    member, card = await join(client, setup)
    held = await bought_pass(client, test_settings, member, card["id"], product["id"])
    number = card["card_number"]
    elsewhere = {"card": number, "shop_id": second_shop["id"], "kind": "count_use",
                 "pass_id": held["id"]}  # fmt: skip
    assert_problem(
        await client.post("/v1/counter/transactions", json=elsewhere, headers=setup.clerk.headers),
        409,
        "count_pass_shop_excluded",
    )
    # another merchant's clerk learns nothing about the card
    other = await make_setup(client)
    assert_problem(
        await counter(client, other.clerk, other, number, "count_use", pass_id=held["id"]),
        404,
        "card_not_found",
    )
    async with sessionmaker() as session:
        await session.execute(
            update(CountPass)
            .where(CountPass.id == uuid.UUID(held["id"]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        await session.commit()
    assert_problem(
        await counter(client, setup.clerk, setup, number, "count_use", pass_id=held["id"]),
        409,
        "count_pass_expired",
    )
    assert_problem(
        await counter(
            client, setup.clerk, setup, number, "count_use", count_product_id=product["id"]
        ),
        409,
        "count_pass_expired",
    )
    shown = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    assert shown["count_passes"][0]["status"] == "expired"


async def _uses_by_pass(sessionmaker: Any, card_id: str) -> dict[uuid.UUID, tuple[int, int]]:
    """pass id → (uses_left, the sum of the ledger's uses_delta for it)."""
    async with sessionmaker() as session:
        passes = (
            await session.execute(select(CountPass).where(CountPass.card_id == uuid.UUID(card_id)))
        ).scalars()
        left = {p.id: p.uses_left for p in passes}
        sums = dict(
            (
                await session.execute(
                    select(LedgerEntry.count_pass_id, func.sum(LedgerEntry.uses_delta))
                    .where(LedgerEntry.count_pass_id.in_(list(left)))
                    .group_by(LedgerEntry.count_pass_id)
                )
            ).all()
        )
    return {pid: (uses_left, int(sums.get(pid, 0))) for pid, uses_left in left.items()}


async def test_concurrent_uses_of_a_pass_let_exactly_the_uses_left_through(
    client: ApiClient, setup: Setup, test_settings: Settings, sessionmaker: Any
) -> None:
    uses, attempts = 5, 16
    product = await count_product(client, setup, uses=uses)
    member, card = await join(client, setup)
    held = await bought_pass(client, test_settings, member, card["id"], product["id"])

    results = await asyncio.gather(
        *(
            counter(
                client, setup.clerk, setup, card["card_number"], "count_use", pass_id=held["id"]
            )  # fmt: skip
            for _ in range(attempts)
        )
    )
    statuses = [r.status_code for r in results]
    assert statuses.count(201) == uses, [r.text for r in results]
    assert statuses.count(409) == attempts - uses
    assert all(r.json()["code"] == "count_pass_exhausted" for r in results if r.status_code == 409)
    assert sorted(r.json()["entry"]["uses_after"] for r in results if r.status_code == 201) == [
        0, 1, 2, 3, 4
    ]  # fmt: skip
    assert await _uses_by_pass(sessionmaker, card["id"]) == {uuid.UUID(held["id"]): (0, 0)}


async def test_concurrent_uses_by_product_drain_every_pass_exactly(
    client: ApiClient, setup: Setup, test_settings: Settings, sessionmaker: Any
) -> None:
    product = await count_product(client, setup, uses=3)
    member, card = await join(client, setup)
    for _ in range(2):
        await bought_pass(client, test_settings, member, card["id"], product["id"])
    results = await asyncio.gather(
        *(
            counter(
                client,
                setup.clerk,
                setup,
                card["card_number"],
                "count_use",
                count_product_id=product["id"],
            )  # fmt: skip
            for _ in range(10)
        )
    )
    statuses = [r.status_code for r in results]
    assert statuses.count(201) == 6 and statuses.count(409) == 4, [r.text for r in results]
    assert all(left == 0 == total for left, total in (await _uses_by_pass(
        sessionmaker, card["id"])).values())  # fmt: skip


async def test_a_manager_stops_selling_a_product_and_sold_passes_keep_working(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    product = await count_product(client, setup, uses=3)
    member, card = await join(client, setup)
    sold = await bought_pass(client, test_settings, member, card["id"], product["id"])
    path = f"/v1/programs/{setup.program_id}/count-products/{product['id']}"
    assert_problem(
        await client.patch(path, json={"active": False}, headers=setup.clerk.headers),
        403,
        "forbidden",
    )
    stranger = await client.register()
    assert_problem(
        await client.patch(path, json={"active": False}, headers=stranger.headers),
        404,
        "program_not_found",
    )
    other = await make_setup(client)
    elsewhere = f"/v1/programs/{other.program_id}/count-products/{product['id']}"
    assert_problem(
        await client.patch(elsewhere, json={"active": False}, headers=other.manager.headers),
        404,
        "count_product_not_found",
    )
    assert_problem(
        await client.patch(path, json={"active": "maybe"}, headers=setup.manager.headers),
        422,
        "validation_error",
    )

    r = await client.patch(path, json={"active": False}, headers=setup.manager.headers)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False and r.json()["id"] == product["id"]
    listed = (await client.get(f"/v1/programs/{setup.program_id}/count-products")).json()
    assert listed["items"] == []
    assert_problem(
        await client.post(
            f"/v1/cards/{card['id']}/count-passes",
            json={"product_id": product["id"]},
            headers=member.headers,
        ),
        409,
        "count_product_inactive",
    )
    used = await counter(client, setup.clerk, setup, card["card_number"], "count_use",
                         pass_id=sold["id"])  # fmt: skip
    assert used.status_code == 201, used.text

    r = await client.patch(path, json={"active": True}, headers=setup.manager.headers)
    assert r.status_code == 200 and r.json()["active"] is True
    listed = (await client.get(f"/v1/programs/{setup.program_id}/count-products")).json()
    assert [p["id"] for p in listed["items"]] == [product["id"]]
