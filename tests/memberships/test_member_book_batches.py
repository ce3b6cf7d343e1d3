"""The member book in set-based batches: a bounded number of statements per batch, rows that
clash inside a batch, and the row-by-row path a batch falls back to when a write meets a row
written meanwhile — with the same outcomes and ledger = totals throughout."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.schemas import normalise_phone
from core.settings import Settings
from core.timezones import utcnow
from customers import service as customers
from memberships import service as memberships
from memberships.memberbook import MemberRow
from memberships.models import LedgerEntry
from tests.helpers import ApiClient, fresh_phone
from tests.memberships.helpers import make_setup, money, sms_actor
from tests.memberships.test_member_book import _book_csv, _import, _ledger_matches_totals


def rows_for(count: int, start: int = 2) -> list[MemberRow]:
    return [
        MemberRow(
            row=start + i,
            phone=normalise_phone(fresh_phone()),
            name=f"会员{i}",
            birthday=date(1980, 1, 1 + i % 28) if i % 2 else None,
            card_number=f"Z{i:06d}" if i % 3 == 0 else None,
            balance=(i % 7) * 100,
            points=i % 5,
        )
        for i in range(count)
    ]


async def run_import(
    sessionmaker: async_sessionmaker[AsyncSession], setup: Any, rows: list[MemberRow]
) -> memberships.MemberImportTally:
    tally = memberships.MemberImportTally()
    async with sessionmaker.begin() as session:
        program = await memberships.load_program(
            session,
            merchant_id=uuid.UUID(setup.merchant_id),
            program_id=uuid.UUID(setup.program_id),
        )
        await memberships.import_members(
            session, merchant_id=uuid.UUID(setup.merchant_id), program=program, rows=rows,
            tally=tally, staff_user_id=None, now=utcnow(),
        )  # fmt: skip
    return tally


async def test_a_batch_of_rows_takes_a_fixed_number_of_statements(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    setup = await make_setup(client)
    rows = rows_for(1000)
    statements: list[str] = []
    engine = sessionmaker.kw["bind"].sync_engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        tally = await run_import(sessionmaker, setup, rows)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (tally.imported, tally.updated, tally.rejected_total) == (1000, 0, 0)
    # load_program (2), lock, records, accounts, cards, openings, 2 inserts, 2 updates,
    # opening entries, savepoint in/out: ~11 per row before (11,000 here)
    assert len(statements) <= 20, statements
    with_value = sum(1 for r in rows if r.balance or r.points)
    async with sessionmaker() as session:
        entries = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.merchant_id == uuid.UUID(setup.merchant_id)
            )
        )  # fmt: skip
    assert entries == with_value
    assert await _ledger_matches_totals(sessionmaker, setup.program_id) == sum(
        1 for r in rows if r.has_card_data
    )
    again = await run_import(sessionmaker, setup, rows)
    assert (again.imported, again.updated, again.rejected_total) == (0, 1000, 0)


async def test_rows_clashing_inside_a_batch(client: ApiClient, test_settings: Settings) -> None:
    setup = await make_setup(client)
    app_user = await sms_actor(client, test_settings, fresh_phone())  # 小李
    app_card = (
        await client.post(f"/v1/programs/{setup.program_id}/join", headers=app_user.headers)
    ).json()
    a, b, c = fresh_phone(), fresh_phone(), fresh_phone()
    rows = [
        ["甲", a, "", "K1", "10", 1],
        ["乙", b, "", "K1", "20", 2],  # the book number row 2 just took
        ["丙", c, "", app_card["card_number"], "5", 0],  # someone else's app card
        ["小李", app_user.phone, "", app_card["card_number"], "7", 0],  # their own: fine
        ["甲2", fresh_phone(), "", "K2", "", ""],  # a number, nothing on it: a card
    ]
    report = (await _import(client, setup, _book_csv(rows))).json()
    assert (report["imported"], report["updated"]) == (2, 1), report  # 小李 was known
    assert {(x["row"], x["reason"]) for x in report["rejected"]} == {
        (3, "card_number_taken"),
        (4, "card_number_taken"),
    }
    mine = (await client.get(f"/v1/cards/{app_card['id']}", headers=app_user.headers)).json()
    assert mine["balance"] == money(700)


async def test_a_batch_meeting_a_concurrent_write_is_applied_row_by_row(
    client: ApiClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup = await make_setup(client)
    rows = rows_for(30)
    walk_in = rows[7]
    r = await client.post(
        f"/v1/merchants/{setup.merchant_id}/customers",
        json={"phone": walk_in.phone, "name": "柜台加的"},
        headers=setup.clerk.headers,
    )
    assert r.status_code == 201, r.text
    # the batch's read misses the walk-in (as if added at the counter just after it): its
    # insert then meets the record, and the rows go one by one
    real = customers.members_by_phone

    async def blind(session: AsyncSession, **kw: Any) -> Any:
        found = await real(session, **kw)
        found.pop(walk_in.phone, None)
        return found

    monkeypatch.setattr(customers, "members_by_phone", blind)
    tally = await run_import(sessionmaker, setup, rows)
    # the walk-in's row still brings a new card: every row counts as imported
    assert (tally.imported, tally.updated, tally.rejected_total) == (30, 0, 0)
    assert await _ledger_matches_totals(sessionmaker, setup.program_id) == sum(
        1 for r in rows if r.has_card_data
    )
    monkeypatch.setattr(customers, "members_by_phone", real)
    again = await run_import(sessionmaker, setup, rows)
    assert (again.imported, again.updated, again.rejected_total) == (0, 30, 0)
    r = await client.get(
        f"/v1/merchants/{setup.merchant_id}/customers?q={walk_in.phone}",
        headers=setup.owner.headers,
    )
    assert [c["name"] for c in r.json()["items"]] == [walk_in.name]
