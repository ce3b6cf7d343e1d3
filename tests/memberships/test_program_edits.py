"""PATCH /v1/programs/{program_id}: rules edited with effect from now, each ledger entry naming
the rule version it used; a transaction racing an edit keeps to one version."""

from __future__ import annotations

import asyncio
import random
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import psycopg
import pytest

from core.settings import Settings, to_libpq_url
from tests.helpers import ApiClient, assert_problem
from tests.memberships.helpers import Setup, counter, join, make_setup, money, program_body
from tests.memberships.test_topups import callback, post_callback


def tiers(regular_earn: float = 1, vip_discount: int = 10, vip_at: int = 100_000) -> list[Any]:
    body = program_body()["tiers"]
    body[0]["earn"] = {"points_per_currency_unit": regular_earn}
    body[1]["discount_percent"] = vip_discount
    body[1]["upgrade"] = {"min_spend_12m": money(vip_at)}
    return body  # type: ignore[no-any-return]


async def patch(client: ApiClient, setup: Setup, body: dict[str, Any], who: Any = None) -> Any:
    who = who or setup.manager
    return await client.patch(f"/v1/programs/{setup.program_id}", json=body, headers=who.headers)


async def versions(client: ApiClient, setup: Setup) -> dict[int, dict[str, Any]]:
    r = await client.get(
        f"/v1/programs/{setup.program_id}/versions?limit=100", headers=setup.clerk.headers
    )
    assert r.status_code == 200, r.text
    return {v["version"]: v for v in r.json()["items"]}


def expected_purchase(version: dict[str, Any], tier_code: str, amount: int) -> tuple[int, int]:
    """(paid, points) of a purchase under a rule version's snapshot, recomputed here."""
    tier = next(t for t in version["tiers"] if t["code"] == tier_code)
    paid = amount - amount * tier["discount_percent"] // 100
    rate = Decimal(str(tier["earn"]["points_per_currency_unit"]))
    return paid, int((Decimal(paid // 100) * rate).to_integral_value(rounding=ROUND_FLOOR))


async def test_edit_takes_effect_for_the_next_transaction_and_entries_name_their_version(
    client: ApiClient, setup: Setup, test_settings: Settings
) -> None:
    assert setup.program["rule_version"] == 1
    member, card = await join(client, setup)
    number = card["card_number"]
    r = await counter(client, setup.clerk, setup, number, "purchase", amount=money(10_000))
    assert r.json()["entry"]["points_delta"] == 100 and r.json()["entry"]["rule_version"] == 1
    # a top-up started under version 1 keeps version 1's bonus even if paid after the edit
    r = await client.post(
        f"/v1/cards/{card['id']}/topups", json={"amount": money(50_000)}, headers=member.headers
    )
    assert r.status_code == 201 and r.json()["bonus"] == money(5_000), r.text
    topup = r.json()
    assert topup["rule_version"] == 1

    r = await patch(
        client,
        setup,
        {
            "tiers": tiers(regular_earn=3),
            "topup_bonuses": [{"min_amount": money(50_000), "bonus": money(8_000)}],
            "redeem": {"points_per_currency_unit": 50},
        },
    )
    assert r.status_code == 200, r.text
    program = r.json()
    assert program["rule_version"] == 2
    assert program["tiers"][0]["earn"]["points_per_currency_unit"] in ("3", "3.00", 3)
    assert program["redeem"]["points_per_currency_unit"] == 50
    r = await client.get(f"/v1/programs/{setup.program_id}")
    assert r.json()["rule_version"] == 2 and r.json()["topup_bonuses"][0]["bonus"] == money(8_000)

    r = await counter(client, setup.clerk, setup, number, "purchase", amount=money(10_000))
    assert r.json()["entry"]["points_delta"] == 300 and r.json()["entry"]["rule_version"] == 2

    r = await post_callback(client, *callback(test_settings, topup["payment"]["reference"]))
    assert r.status_code == 200, r.text
    ledger = (await client.get(f"/v1/cards/{card['id']}/ledger", headers=member.headers)).json()
    by_kind = {e["kind"]: e for e in ledger["items"]}
    assert by_kind["bonus"]["bonus_delta"] == 5_000 and by_kind["bonus"]["rule_version"] == 1
    assert by_kind["topup"]["rule_version"] == 1
    # a new top-up now gets version 2's bonus
    r = await client.post(
        f"/v1/cards/{card['id']}/topups", json={"amount": money(50_000)}, headers=member.headers
    )
    assert r.json()["bonus"] == money(8_000) and r.json()["rule_version"] == 2

    # the history: both versions, newest first, each with its own rules and author
    r = await client.get(f"/v1/programs/{setup.program_id}/versions", headers=setup.clerk.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [v["version"] for v in items] == [2, 1]
    assert items[0]["created_by"] == setup.manager.user_id
    assert items[1]["created_by"] == setup.owner.user_id
    assert items[1]["topup_bonuses"][0]["bonus"] == money(5_000)
    assert items[0]["topup_bonuses"][0]["bonus"] == money(8_000)
    assert items[1]["redeem"]["points_per_currency_unit"] == 100


async def test_name_and_description_change_no_rule_version(client: ApiClient, setup: Setup) -> None:
    r = await patch(client, setup, {"name": "  老王面馆金卡 ", "description": "满百送十"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "老王面馆金卡" and r.json()["description"] == "满百送十"
    assert r.json()["rule_version"] == 1
    # the same rules again: nothing changed, no new version
    r = await patch(client, setup, {"tiers": tiers(), "bonus_spend_rule": "principal_first"})
    assert r.json()["rule_version"] == 1
    r = await patch(client, setup, {"description": None, "points_expire_months": 12})
    assert r.json()["description"] is None and r.json()["points_expire_months"] == 12
    assert r.json()["rule_version"] == 2
    r = await patch(client, setup, {"points_expire_months": None})
    assert r.json()["points_expire_months"] is None and r.json()["rule_version"] == 3
    assert sorted(await versions(client, setup)) == [1, 2, 3]


async def test_tiers_are_matched_by_code_added_swapped_and_removed(
    client: ApiClient, setup: Setup
) -> None:
    member, card = await join(client, setup)
    gold = {
        "code": "gold",
        "name": "金卡",
        "rank": 5,
        "discount_percent": 15,
        "earn": {"points_per_currency_unit": 3},
        "upgrade": {"min_spend_12m": money(300_000)},
    }
    body = tiers()
    r = await patch(client, setup, {"tiers": [*body, gold]})
    assert r.status_code == 200, r.text
    assert [t["code"] for t in r.json()["tiers"]] == ["regular", "vip", "gold"]
    # ranks swapped between vip and gold (thresholds follow), in one PATCH
    body[1]["rank"], gold["rank"] = 5, 1
    body[1]["upgrade"], gold["upgrade"] = gold["upgrade"], body[1]["upgrade"]
    r = await patch(client, setup, {"tiers": [*body, gold]})
    assert r.status_code == 200, r.text
    assert [t["code"] for t in r.json()["tiers"]] == ["regular", "gold", "vip"]
    # the card kept its tier (matched by code) and shows the edited tier
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    assert r.json()["tier"]["code"] == "regular"
    # a tier without cards can go; the one holding the card cannot
    r = await patch(client, setup, {"tiers": [body[0], gold]})
    assert r.status_code == 200 and [t["code"] for t in r.json()["tiers"]] == ["regular", "gold"]
    vip_only = dict(body[1], rank=0, upgrade={})
    problem = assert_problem(await patch(client, setup, {"tiers": [vip_only]}), 409, "tier_in_use")
    assert problem["tiers"] == ["regular"]
    r = await client.get(f"/v1/programs/{setup.program_id}")
    assert [t["code"] for t in r.json()["tiers"]] == ["regular", "gold"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body"]),
        ({"name": None}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "x" * 121}, ["body", "name"]),
        ({"description": "x" * 1001}, ["body", "description"]),
        ({"currency": "USD"}, ["body", "currency"]),
        ({"tiers": None}, ["body", "tiers"]),
        ({"tiers": []}, ["body", "tiers"]),
        ({"redeem": None}, ["body", "redeem"]),
        (
            {"redeem": {"points_per_currency_unit": 0}},
            ["body", "redeem", "points_per_currency_unit"],
        ),
        ({"points_expire_months": 0}, ["body", "points_expire_months"]),
        ({"points_expire_months": 121}, ["body", "points_expire_months"]),
        ({"bonus_spend_rule": "random"}, ["body", "bonus_spend_rule"]),
        ({"topup_bonuses": None}, ["body", "topup_bonuses"]),
        (
            {"topup_bonuses": [{"min_amount": money(0), "bonus": money(1)}]},
            ["body", "topup_bonuses", 0, "min_amount"],
        ),
        (
            {"topup_bonuses": [{"min_amount": money(100), "bonus": money(-1)}]},
            ["body", "topup_bonuses", 0, "bonus", "amount"],
        ),
        (
            {"topup_bonuses": [{"min_amount": money(100), "bonus": money(1)}] * 2},
            ["body", "topup_bonuses"],
        ),
        (
            {
                "topup_bonuses": [
                    {"min_amount": {"amount": 100, "currency": "USD"}, "bonus": money(1)}
                ]
            },
            ["body", "topup_bonuses", 0, "min_amount", "currency"],
        ),
        ({"tiers": tiers()[:1] * 2}, ["body", "tiers"]),  # duplicate codes
        (
            {"tiers": [dict(tiers()[0], discount_percent=100)]},
            ["body", "tiers", 0, "discount_percent"],
        ),
        ({"tiers": [dict(tiers()[0], rank=101)]}, ["body", "tiers", 0, "rank"]),
        ({"tiers": [dict(tiers()[0], code="VIP!")]}, ["body", "tiers", 0, "code"]),
        (
            {"tiers": [tiers()[0], dict(tiers()[1], earn={"points_per_currency_unit": -1})]},
            ["body", "tiers", 1, "earn", "points_per_currency_unit"],
        ),
        (
            {
                "tiers": [
                    tiers()[0],
                    dict(tiers()[1], upgrade={"min_spend_12m": {"amount": 1, "currency": "HKD"}}),
                ]
            },
            ["body", "tiers", 1, "upgrade", "min_spend_12m", "currency"],
        ),
        (
            {
                "tiers": [
                    tiers()[0],
                    dict(tiers()[1], rank=1, upgrade={"min_spend_12m": money(5)}),
                    dict(tiers()[1], code="gold", rank=2, upgrade={"min_spend_12m": money(4)}),
                ]
            },
            ["body", "tiers"],
        ),  # thresholds must grow with the rank
    ],
)
async def test_bad_edits_are_422_naming_the_field_and_change_nothing(
    client: ApiClient, setup: Setup, body: dict[str, Any], loc: list[Any]
) -> None:
    problem = assert_problem(await patch(client, setup, body), 422, *_code_for(loc))
    locs = [e["loc"] for e in problem["errors"]]
    assert any(found[: len(loc)] == loc for found in locs), locs
    r = await client.get(f"/v1/programs/{setup.program_id}")
    assert r.json()["rule_version"] == 1 and r.json()["name"] == setup.program["name"]
    assert r.json()["tiers"] == setup.program["tiers"]


def _code_for(loc: list[Any]) -> tuple[str]:
    return (
        ("currency_mismatch",) if loc[-1] == "currency" and len(loc) > 3 else ("validation_error",)
    )


async def test_only_managers_and_owners_edit_strangers_learn_nothing(
    client: ApiClient, setup: Setup
) -> None:
    assert_problem(await patch(client, setup, {"name": "x"}, setup.clerk), 403, "forbidden")
    other = await make_setup(client)
    assert_problem(await patch(client, setup, {"name": "x"}, other.owner), 404, "program_not_found")
    member, _ = await join(client, setup)
    assert_problem(await patch(client, setup, {"name": "x"}, member), 404, "program_not_found")
    r = await client.patch(f"/v1/programs/{setup.program_id}", json={"name": "x"})
    assert r.status_code == 401
    r = await client.get(f"/v1/programs/{setup.program_id}/versions", headers=member.headers)
    assert_problem(r, 404, "program_not_found")
    r = await client.get(
        "/v1/programs/00000000-0000-0000-0000-000000000000/versions", headers=setup.owner.headers
    )
    assert_problem(r, 404, "program_not_found")
    assert (await patch(client, setup, {"name": "x"}, setup.owner)).status_code == 200
    r = await client.get(f"/v1/programs/{setup.program_id}")
    assert r.json()["name"] == "x"


# -- races -------------------------------------------------------------------------------------

SLOW_TRIGGER = """
CREATE OR REPLACE FUNCTION test_slow_ledger() RETURNS trigger AS $$
BEGIN
    IF NEW.note = 'slow' THEN PERFORM pg_sleep(1.5); END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_slow_ledger BEFORE INSERT ON card_ledger
    FOR EACH ROW EXECUTE FUNCTION test_slow_ledger();
"""


async def test_a_purchase_racing_an_edit_keeps_to_the_version_it_read(
    client: ApiClient, setup: Setup, database_url: str
) -> None:
    """The edit commits while the purchase is between reading the rules and writing its entry
    (a trigger holds the entry's INSERT): the entry, its points and the tier upgrade it causes
    all follow the version read first, and the next purchase follows the new one."""
    member, card = await join(client, setup)
    number = card["card_number"]
    conn = await psycopg.AsyncConnection.connect(to_libpq_url(database_url), autocommit=True)
    try:
        await conn.execute(SLOW_TRIGGER)
        # 1500.00 reaches version 1's VIP threshold (1000.00), not version 2's (2000.00)
        slow = asyncio.create_task(
            counter(
                client, setup.clerk, setup, number, "purchase", amount=money(150_000), note="slow"
            )
        )
        await asyncio.sleep(0.5)
        r = await patch(client, setup, {"tiers": tiers(regular_earn=5, vip_at=200_000)})
        assert r.status_code == 200 and r.json()["rule_version"] == 2, r.text
        assert not slow.done()  # the edit did not wait for the purchase
        r = await slow
    finally:
        await conn.execute("DROP TRIGGER IF EXISTS test_slow_ledger ON card_ledger")
        await conn.execute("DROP FUNCTION IF EXISTS test_slow_ledger()")
        await conn.close()
    assert r.status_code == 201, r.text
    entry = r.json()["entry"]
    assert entry["rule_version"] == 1 and entry["points_delta"] == 1_500  # 1 per yuan
    assert r.json()["card"]["tier"]["code"] == "vip"  # version 1's threshold
    r = await counter(client, setup.clerk, setup, number, "purchase", amount=money(10_000))
    assert r.json()["entry"]["rule_version"] == 2
    # vip under version 2: 10% off, 2 points per yuan
    assert r.json()["entry"]["points_delta"] == 180


async def test_concurrent_transactions_and_edits_each_entry_matches_its_version(
    client: ApiClient, setup: Setup
) -> None:
    """Purchases on several cards run in loops while a series of edits lands; every entry's
    discount and points are those of the version it names, and versions follow each other
    without gaps."""
    cards = [(await join(client, setup))[1]["card_number"] for _ in range(4)]
    rng = random.Random(19)
    edits = [
        tiers(regular_earn=rng.choice([0.5, 2, 3, 4.25]), vip_discount=rng.randint(0, 30))
        for _ in range(4)
    ]
    done = asyncio.Event()
    bought: list[tuple[int, dict[str, Any]]] = []

    async def buyer(number: str, seed: int) -> None:
        i = 0
        while not done.is_set() or i < 2:
            amount = 1_000 + 997 * seed + 31 * i
            r = await counter(client, setup.clerk, setup, number, "purchase", amount=money(amount))
            assert r.status_code == 201, r.text
            bought.append((amount, r.json()["entry"]))
            i += 1

    async def editor() -> None:
        try:
            for body in edits:
                await asyncio.sleep(rng.random() * 0.2)
                r = await patch(client, setup, {"tiers": body})
                assert r.status_code == 200, r.text
        finally:
            done.set()

    await asyncio.gather(editor(), *(buyer(n, k) for k, n in enumerate(cards)))
    known = await versions(client, setup)
    assert sorted(known) == list(range(1, 2 + len(edits)))  # no gap, no duplicate
    for amount, entry in bought:
        # every card stays in the entry tier (the amounts are far below the VIP threshold)
        paid, points = expected_purchase(known[entry["rule_version"]], "regular", amount)
        assert (entry["paid"]["amount"], entry["points_delta"]) == (paid, points), entry
    seen = {entry["rule_version"] for _, entry in bought}
    assert len(seen) >= 3, (sorted(known), sorted(seen))  # the purchases straddled the edits
