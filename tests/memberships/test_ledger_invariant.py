"""After a random concurrent mixed workload, every card's totals equal its ledger's sums, each
entry's running totals follow from the one before, and nothing ever went negative; the same for
every count card's uses (its `uses_left` is the sum of its entries' `uses_delta`)."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from sqlalchemy import select

from core.settings import Settings
from memberships.models import Card, CountPass, LedgerEntry
from tests.helpers import ApiClient
from tests.memberships.helpers import (
    bought_pass,
    count_product,
    counter,
    join,
    make_setup,
    money,
    set_pin,
)
from tests.memberships.test_topups import callback, post_callback, topped_up

OPERATIONS = 160


async def test_totals_equal_ledger_sums_after_concurrent_mixed_workload(
    client: ApiClient,
    sessionmaker,
    test_settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    rng = random.Random(6)
    setup = await make_setup(client, bonus_spend_rule="proportional")
    product = await count_product(client, setup, uses=12)
    cards: list[tuple[Any, dict[str, Any]]] = []
    for _ in range(4):
        member, card = await join(client, setup)
        await set_pin(client, member, card["id"])
        await topped_up(client, test_settings, member, card["id"], 50_000)
        await bought_pass(client, test_settings, member, card["id"], product["id"])
        cards.append((member, card))
    seed_entries = []
    for _member, card in cards:
        r = await counter(
            client, setup.clerk, setup, card["card_number"], "purchase", amount=money(30_000)
        )
        seed_entries.append(r.json()["entry"]["id"])
        r = await counter(
            client, setup.clerk, setup, card["card_number"], "count_use",
            count_product_id=product["id"],
        )  # fmt: skip
        seed_entries.append(r.json()["entry"]["id"])

    async def one(i: int) -> int:
        member, card = rng.choice(cards)
        number = card["card_number"]
        roll = rng.random()
        if roll < 0.12:  # a count-card use (passes run out: then 409 count_pass_exhausted)
            r = await counter(
                client, setup.clerk, setup, number, "count_use", count_product_id=product["id"]
            )
        elif roll < 0.15:  # another pass bought and paid
            r = await client.post(
                f"/v1/cards/{card['id']}/count-passes",
                json={"product_id": product["id"]},
                headers=member.headers,
            )
            assert r.status_code == 201, r.text
            r = await post_callback(
                client, *callback(test_settings, r.json()["payment"]["reference"])
            )
        elif roll < 0.3:
            r = await counter(
                client, setup.clerk, setup, number, "purchase", amount=money(rng.randint(1, 20_000))
            )
        elif roll < 0.5:
            r = await counter(
                client,
                setup.clerk,
                setup,
                number,
                "spend_points",
                points=rng.randint(1, 150),
                pin="135790",
            )
        elif roll < 0.7:
            r = await counter(
                client,
                setup.clerk,
                setup,
                number,
                "spend_balance",
                amount=money(rng.randint(1, 9_000)),
                pin="135790",
            )
        elif roll < 0.8:
            r = await client.post(
                f"/v1/cards/{card['id']}/adjustments",
                headers=setup.manager.headers,
                json={"points_delta": rng.randint(-80, 80) or 1, "note": "盘点"},
            )
        elif roll < 0.9:
            entry_id = rng.choice(seed_entries)
            r = await client.post(
                f"/v1/counter/transactions/{entry_id}/reverse", headers=setup.manager.headers
            )
        else:
            r = await client.post(
                f"/v1/cards/{card['id']}/topups",
                json={"amount": money(rng.randint(100, 60_000))},
                headers=member.headers,
            )
            assert r.status_code == 201, r.text
            r = await post_callback(
                client, *callback(test_settings, r.json()["payment"]["reference"])
            )
        assert r.status_code in (200, 201, 409), r.text
        if r.status_code == 409:
            assert r.json()["code"] in (
                "insufficient_points",
                "insufficient_balance",
                "transaction_already_reversed",
                "count_pass_exhausted",
            )
        return r.status_code

    # a task group, not gather: when one operation fails the others are cancelled instead of
    # running on into the next test (whose TRUNCATE then deadlocked with them)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(i)) for i in range(OPERATIONS)]
    statuses = [task.result() for task in tasks]
    assert statuses.count(201) + statuses.count(200) > OPERATIONS // 2

    async with sessionmaker() as session:
        for _, card_json in cards:
            card_id = uuid.UUID(card_json["id"])
            card = (await session.execute(select(Card).where(Card.id == card_id))).scalar_one()
            entries = (
                (
                    await session.execute(
                        select(LedgerEntry)
                        .where(LedgerEntry.card_id == card_id)
                        .order_by(LedgerEntry.seq)
                    )
                )
                .scalars()
                .all()
            )
            points = principal = bonus = 0
            for entry in entries:
                points += entry.points_delta
                principal += entry.principal_delta
                bonus += entry.bonus_delta
                assert (entry.points_after, entry.principal_after, entry.bonus_after) == (
                    points,
                    principal,
                    bonus,
                )
                assert min(points, principal, bonus) >= 0
            assert (card.points, card.principal, card.bonus) == (points, principal, bonus)
    # each seed purchase was reversed at most once
    async with sessionmaker() as session:
        reversed_ids = (
            (
                await session.execute(
                    select(LedgerEntry.reverses_entry_id).where(LedgerEntry.kind == "reversal")
                )
            )
            .scalars()
            .all()
        )
    assert len(reversed_ids) == len(set(reversed_ids)) <= len(seed_entries)

    # count cards: uses never below zero nor above what was bought, running uses consistent
    async with sessionmaker() as session:
        passes = (await session.execute(select(CountPass))).scalars().all()
        assert len(passes) >= 4
        for held in passes:
            entries = (
                (
                    await session.execute(
                        select(LedgerEntry)
                        .where(LedgerEntry.count_pass_id == held.id)
                        .order_by(LedgerEntry.seq)
                    )
                )
                .scalars()
                .all()
            )
            uses = 0
            for entry in entries:
                uses += entry.uses_delta
                assert entry.uses_after == uses and 0 <= uses <= held.uses_total
            assert held.uses_left == uses
