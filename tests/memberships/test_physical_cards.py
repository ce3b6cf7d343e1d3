"""Pre-printed card numbers: import (API and CLI) with per-row rejections, the one-time
bind to a member's card, and the counter accepting the bound number."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from core.settings import Settings
from memberships import physical
from memberships.cardnumbers import luhn_check_digit
from memberships.importer import ImportFailed, import_file
from tests.core.test_cli import ROOT, _env
from tests.helpers import ApiClient, assert_problem
from tests.memberships.helpers import Setup, counter, join, make_setup, money, program_body

_serial = itertools.count(int(uuid.uuid4().int % 10**6))
RESERVED = "8" + "0" * 14 + luhn_check_digit("8" + "0" * 14)  # a virtual card number's shape


def printed(length: int = 12, prefix: str = "62") -> str:
    """A valid pre-printed number (Luhn), unique in this run."""
    body = f"{prefix}{next(_serial):0{length - len(prefix) - 1}d}"
    return body + luhn_check_digit(body)


async def import_csv(client: ApiClient, setup: Setup, text: str, **kw: Any) -> Any:
    return await client.post(
        f"/v1/programs/{setup.program_id}/physical-cards",
        content=text.encode(),
        headers={**setup.manager.headers, "Content-Type": "text/csv"},
        **kw,
    )


def test_number_rules() -> None:
    good = printed(16, prefix="6")
    assert physical.normalise(f" {good[:4]} {good[4:8]}-{good[8:]} ") == good
    for raw, reason in [
        ("", "empty"),
        ("12a45678", "not_digits"),
        ("１２３４５６７８", "not_digits"),  # full-width digits
        ("1234567", "bad_length"),
        (good[:-1] + str((int(good[-1]) + 1) % 10), "luhn_failed"),
        (RESERVED, "reserved_range"),
    ]:
        try:
            physical.normalise(raw)
        except physical.NumberRejected as exc:
            assert str(exc) == reason, raw
        else:
            raise AssertionError(f"{raw!r} was accepted")
    rows = list(physical.rows_of_text("\ufeffname,卡号\nA,111\n\n,222\n"))
    assert [(r.line, r.raw) for r in rows] == [(2, "111"), (4, "222")]


async def test_import_reports_bad_rows_and_keeps_the_good_ones(
    client: ApiClient, setup: Setup
) -> None:
    good = [printed() for _ in range(5)]
    bad_luhn = good[0][:-1] + str((int(good[0][-1]) + 1) % 10)
    text = "\n".join(["number", *good, "12-34", bad_luhn, "abcdefgh", good[1], RESERVED, ""])
    r = await import_csv(client, setup, text)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rows"] == 10 and report["imported"] == 5 and report["rejected_total"] == 5
    assert report["rejected_by_reason"] == {
        "bad_length": 1, "luhn_failed": 1, "not_digits": 1, "duplicate_in_file": 1,
        "reserved_range": 1,
    }  # fmt: skip
    assert {"row": 7, "number": "12-34", "reason": "bad_length"} in report["rejected"]
    # importing again: every number is already there, as a multipart upload this time
    r = await client.post(
        f"/v1/programs/{setup.program_id}/physical-cards",
        files={"file": ("cards.csv", "\n".join(good).encode(), "text/csv")},
        headers=setup.manager.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 0 and r.json()["rejected_by_reason"] == {"already_imported": 5}
    # another merchant may hold the same printed numbers
    other = await make_setup(client)
    assert (await import_csv(client, other, "\n".join(good))).json()["imported"] == 5

    assert_problem(
        await client.post(
            f"/v1/programs/{setup.program_id}/physical-cards",
            content=b"123",
            headers={**setup.clerk.headers, "Content-Type": "text/csv"},
        ),
        403,
        "forbidden",
    )
    stranger = await client.register()
    assert_problem(
        await client.post(
            f"/v1/programs/{setup.program_id}/physical-cards",
            content=b"123",
            headers={**stranger.headers, "Content-Type": "text/csv"},
        ),
        404,
        "program_not_found",
    )
    assert_problem(
        await import_csv(client, setup, "x" * (4 * 1024 * 1024 + 1)),
        422,
        "physical_card_import_invalid",
    )


async def test_bind_once_then_the_counter_accepts_the_printed_number(
    client: ApiClient, setup: Setup
) -> None:
    numbers = [printed(16, prefix="6"), printed()]
    await import_csv(client, setup, "\n".join(numbers))
    member, card = await join(client, setup)
    _, other_card = await join(client, setup)
    path = f"/v1/cards/{card['id']}/physical-card"
    spaced = f"{numbers[0][:4]} {numbers[0][4:8]} {numbers[0][8:12]} {numbers[0][12:]}"
    assert_problem(
        await client.post(path, json={"number": spaced}, headers=member.headers), 403, "forbidden"
    )
    assert_problem(
        await client.post(path, json={"number": "1234"}, headers=setup.clerk.headers),
        422,
        "physical_card_invalid",
    )
    assert_problem(
        await client.post(path, json={"number": printed()}, headers=setup.clerk.headers),
        404,
        "physical_card_not_found",
    )
    r = await client.post(path, json={"number": spaced}, headers=setup.clerk.headers)
    assert r.status_code == 201, r.text
    assert r.json()["number"] == numbers[0] and r.json()["card_id"] == card["id"]
    assert_problem(
        await client.post(
            f"/v1/cards/{other_card['id']}/physical-card",
            json={"number": numbers[0]},
            headers=setup.clerk.headers,
        ),
        409,
        "physical_card_bound",
    )
    assert_problem(
        await client.post(path, json={"number": numbers[1]}, headers=setup.clerk.headers),
        409,
        "card_has_physical_card",
    )
    shown = (await client.get(f"/v1/cards/{card['id']}", headers=member.headers)).json()
    assert shown["physical_card_number"] == numbers[0]

    r = await counter(client, setup.clerk, setup, spaced, "purchase", amount=money(1_500))
    assert r.status_code == 201, r.text
    assert r.json()["card"]["id"] == card["id"] and r.json()["entry"]["points_delta"] == 15
    # an imported but unbound number, and another merchant's counter: no card
    assert_problem(
        await counter(client, setup.clerk, setup, numbers[1], "purchase", amount=money(100)),
        404,
        "card_not_found",
    )
    other = await make_setup(client)
    assert_problem(
        await counter(client, other.clerk, other, numbers[0], "purchase", amount=money(100)),
        404,
        "card_not_found",
    )
    # a number imported for another program of the merchant is not this card's to bind
    r = await client.post(
        f"/v1/merchants/{setup.merchant_id}/programs",
        json=program_body(name="第二张卡"),
        headers=setup.owner.headers,
    )
    second = Setup(setup.owner, setup.manager, setup.clerk, setup.merchant_id, setup.shop_id,
                   r.json())  # fmt: skip
    elsewhere = printed()
    assert (await import_csv(client, second, elsewhere)).json()["imported"] == 1
    _, third_card = await join(client, setup)
    assert_problem(
        await client.post(
            f"/v1/cards/{third_card['id']}/physical-card",
            json={"number": elsewhere},
            headers=setup.clerk.headers,
        ),
        404,
        "physical_card_not_found",
    )


async def test_concurrent_binds_of_one_number_let_exactly_one_through(
    client: ApiClient, setup: Setup
) -> None:
    number = printed()
    await import_csv(client, setup, number)
    cards = [(await join(client, setup))[1] for _ in range(6)]
    results = await asyncio.gather(
        *(
            client.post(
                f"/v1/cards/{c['id']}/physical-card",
                json={"number": number},
                headers=setup.clerk.headers,
            )
            for c in cards
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in results]
    # and concurrent binds of different numbers to one card: one number per card
    more = [printed() for _ in range(4)]
    await import_csv(client, setup, "\n".join(more))
    _, card = await join(client, setup)
    results = await asyncio.gather(
        *(
            client.post(
                f"/v1/cards/{card['id']}/physical-card",
                json={"number": n},
                headers=setup.clerk.headers,
            )
            for n in more
        )
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409], [r.text for r in results]


async def test_cli_import_with_progress(
    client: ApiClient, setup: Setup, test_settings: Settings, tmp_path: Path
) -> None:
    good = [printed() for _ in range(2500)]
    path = tmp_path / "cards.csv"
    path.write_text("卡号\n" + "\n".join([*good, "not-a-number", good[0]]) + "\n", "gb18030")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", "import-physical-cards", setup.program_id, str(path)],
        cwd=ROOT, env=_env(test_settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "imported: 2500" in result.stdout and "rejected: 2" in result.stdout
    assert "not_digits: 1" in result.stdout and "duplicate_in_file: 1" in result.stdout
    member, card = await join(client, setup)
    r = await client.post(
        f"/v1/cards/{card['id']}/physical-card",
        json={"number": good[-1]},
        headers=setup.clerk.headers,
    )
    assert r.status_code == 201, r.text
    # an unknown program fails the whole file (in-process: one subprocess is enough)
    try:
        await import_file(test_settings, path, program_id=uuid.uuid4())
    except ImportFailed as exc:
        assert "does not exist" in str(exc)
    else:
        raise AssertionError("imported into no program")
