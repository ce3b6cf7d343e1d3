"""The tier review job: cards re-evaluated on their rolling 12-month spend (moved clock), down
only under the programme's downgrade rule, up after a threshold was lowered; recorded,
idempotent, safe to run concurrently."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from core.timezones import utcnow
from memberships.jobs import review_tiers
from tests.helpers import ApiClient
from tests.memberships.helpers import Setup, counter, join, make_setup, money, program_body


def three_tiers() -> list[dict[str, Any]]:
    tiers = program_body()["tiers"]
    gold = {
        "code": "gold",
        "name": "金卡",
        "rank": 2,
        "discount_percent": 20,
        "earn": {"points_per_currency_unit": 3},
        "upgrade": {"min_spend_12m": money(300_000)},
    }
    return [*tiers, gold]  # type: ignore[no-any-return]


async def card_tier(client: ApiClient, member: Any, card_id: str) -> str:
    r = await client.get(f"/v1/cards/{card_id}", headers=member.headers)
    assert r.status_code == 200, r.text
    return r.json()["tier"]["code"]  # type: ignore[no-any-return]


async def changes(client: ApiClient, who: Any, card_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/cards/{card_id}/tier-changes", headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def backdate(sessionmaker: Any, card_id: str, months: int) -> None:
    """Move all the card's entries `months` months into the past (as if bought then)."""
    async with sessionmaker.begin() as session:
        await session.execute(
            text(
                "UPDATE card_ledger SET created_at = created_at - make_interval(months => :m)"
                " WHERE card_id = :c"
            ),
            {"m": months, "c": card_id},
        )


async def test_downgrade_after_twelve_months_without_spend(
    client: ApiClient,
    sessionmaker,  # type: ignore[no-untyped-def]
) -> None:
    setup = await make_setup(client, tier_downgrade=True, tiers=three_tiers())
    assert setup.program["tier_downgrade"] is True
    member, card = await join(client, setup)
    r = await counter(client, setup.clerk, setup, card["card_number"], "purchase",
                      amount=money(300_000))  # fmt: skip
    assert r.json()["card"]["tier"]["code"] == "gold"
    up = await changes(client, member, card["id"])
    assert [(c["from_tier"], c["to_tier"], c["direction"], c["reason"]) for c in up] == [
        ("regular", "gold", "up", "purchase")
    ]
    assert up[0]["spend_12m"] == money(300_000) and up[0]["rule_version"] == 1

    now = utcnow()
    assert await review_tiers(sessionmaker, now=now) == 0  # the spend still reaches gold
    assert await review_tiers(sessionmaker, now=now + timedelta(days=364)) == 0
    # 13 months on, nothing spent since: down to the entry tier (no lower threshold reached)
    later = now + timedelta(days=396)
    assert await review_tiers(sessionmaker, now=later) == 1
    assert await card_tier(client, member, card["id"]) == "regular"
    history = await changes(client, setup.clerk, card["id"])
    assert [(c["from_tier"], c["to_tier"], c["direction"], c["reason"]) for c in history] == [
        ("gold", "regular", "down", "review"),
        ("regular", "gold", "up", "purchase"),
    ]
    assert history[0]["spend_12m"] == money(0)
    # run again, and twice at once: nothing more
    assert await review_tiers(sessionmaker, now=later) == 0
    assert await asyncio.gather(*(review_tiers(sessionmaker, now=later) for _ in range(3))) == [
        0,
        0,
        0,
    ]
    assert len(await changes(client, member, card["id"])) == 2
    # the customer directory follows the card's tier
    r = await client.get(
        f"/v1/merchants/{setup.merchant_id}/customers?tier=regular", headers=setup.owner.headers
    )
    assert [c["user_id"] for c in r.json()["items"]] == [member.user_id]


async def test_partial_spend_moves_down_to_the_tier_it_still_reaches(
    client: ApiClient,
    sessionmaker,  # type: ignore[no-untyped-def]
) -> None:
    setup = await make_setup(client, tier_downgrade=True, tiers=three_tiers())
    member, card = await join(client, setup)
    await counter(client, setup.clerk, setup, card["card_number"], "purchase",
                  amount=money(200_000))  # fmt: skip
    await backdate(sessionmaker, card["id"], 8)  # 2000.00 spent 8 months ago
    r = await counter(client, setup.clerk, setup, card["card_number"], "purchase",
                      amount=money(125_000))  # fmt: skip
    # vip (10% off): pays 1125.00 → 3125.00 in 12 months: gold
    assert r.json()["card"]["tier"]["code"] == "gold"
    # five months on, the 2000.00 left the window: 1125.00 reaches vip, not gold
    assert await review_tiers(sessionmaker, now=utcnow() + timedelta(days=150)) == 1
    assert await card_tier(client, member, card["id"]) == "vip"
    [change, _, _] = await changes(client, member, card["id"])
    assert (change["from_tier"], change["to_tier"], change["spend_12m"]) == (
        "gold",
        "vip",
        money(112_500),
    )


async def test_without_the_downgrade_rule_cards_keep_their_tier(
    client: ApiClient,
    setup: Setup,
    sessionmaker,  # type: ignore[no-untyped-def]
) -> None:
    assert setup.program["tier_downgrade"] is False
    member, card = await join(client, setup)
    await counter(client, setup.clerk, setup, card["card_number"], "purchase",
                  amount=money(100_000))  # fmt: skip
    assert await card_tier(client, member, card["id"]) == "vip"
    later = utcnow() + timedelta(days=400)
    assert await review_tiers(sessionmaker, now=later) == 0
    assert await card_tier(client, member, card["id"]) == "vip"
    # the rule switched on by an edit (a new rule version) applies from the next review
    r = await client.patch(
        f"/v1/programs/{setup.program_id}", json={"tier_downgrade": True},
        headers=setup.owner.headers,
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["rule_version"] == 2, r.text
    assert await review_tiers(sessionmaker, now=later) == 1
    history = await changes(client, member, card["id"])
    assert history[0]["to_tier"] == "regular" and history[0]["rule_version"] == 2


async def test_review_moves_cards_up_when_a_threshold_is_lowered(
    client: ApiClient,
    setup: Setup,
    sessionmaker,  # type: ignore[no-untyped-def]
) -> None:
    member, card = await join(client, setup)
    other, other_card = await join(client, setup)
    await counter(client, setup.clerk, setup, card["card_number"], "purchase",
                  amount=money(60_000))  # fmt: skip
    await counter(client, setup.clerk, setup, other_card["card_number"], "purchase",
                  amount=money(40_000))  # fmt: skip
    assert await review_tiers(sessionmaker, now=utcnow()) == 0
    tiers = program_body()["tiers"]
    tiers[1]["upgrade"] = {"min_spend_12m": money(50_000)}
    r = await client.patch(
        f"/v1/programs/{setup.program_id}", json={"tiers": tiers}, headers=setup.manager.headers
    )
    assert r.status_code == 200, r.text
    assert await review_tiers(sessionmaker, now=utcnow(), batch=1) == 1  # one card per scan
    assert await card_tier(client, member, card["id"]) == "vip"
    assert await card_tier(client, other, other_card["id"]) == "regular"
    [change] = await changes(client, member, card["id"])
    assert (change["direction"], change["reason"], change["rule_version"]) == ("up", "review", 2)


async def test_tier_history_is_private_to_holder_and_staff(client: ApiClient, setup: Setup) -> None:
    member, card = await join(client, setup)
    other = await make_setup(client)
    stranger = await client.register()
    for who in (other.owner, stranger):
        r = await client.get(f"/v1/cards/{card['id']}/tier-changes", headers=who.headers)
        assert r.status_code == 404, r.text
    assert await changes(client, member, card["id"]) == []
