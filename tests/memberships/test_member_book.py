"""Customers the app never saw: walk-ins, cards staff grant, the paper member book (API and
CLI), the counter's lookup by phone, and linking to the account that phone later creates."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from memberships.member_importer import count_rows, import_file
from memberships.models import Card, LedgerEntry
from tests.helpers import ApiClient, assert_problem, fresh_phone
from tests.memberships.helpers import Setup, make_setup, money, sms_actor


async def _ledger_matches_totals(
    sessionmaker: async_sessionmaker[AsyncSession], program_id: str
) -> int:
    """Every card of the programme: totals = sums of its ledger. Returns the card count."""
    async with sessionmaker() as session:
        sums = (
            select(
                LedgerEntry.card_id,
                func.sum(LedgerEntry.points_delta),
                func.sum(LedgerEntry.principal_delta),
                func.sum(LedgerEntry.bonus_delta),
            )
            .group_by(LedgerEntry.card_id)
            .subquery()
        )
        rows = (
            await session.execute(
                select(Card, sums)
                .outerjoin(sums, sums.c.card_id == Card.id)
                .where(Card.program_id == uuid.UUID(program_id))
            )
        ).all()
    for row in rows:
        card = row[0]
        assert (card.points, card.principal, card.bonus) == (
            row[2] or 0, row[3] or 0, row[4] or 0), card.card_number  # fmt: skip
    return len(rows)


async def test_walk_in_card_lookup_and_link(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession], test_settings: Settings
) -> None:
    setup = await make_setup(client)
    url = f"/v1/merchants/{setup.merchant_id}/customers"
    phone = fresh_phone()
    r = await client.post(url, json={"phone": phone, "name": "王阿姨", "birthday": "1960-05-01",
                                     "tags": ["老顾客"]}, headers=setup.clerk.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    customer = r.json()
    assert customer["user_id"] is None and customer["birthday"] == "1960-05-01"
    assert "****" in customer["phone"]  # masked to the clerk
    r = await client.post(url, json={"phone": phone}, headers=setup.owner.headers)
    assert assert_problem(r, 409, "customer_exists")["customer_id"] == customer["id"]
    for bad in ({"phone": "12345"}, {"phone": phone, "birthday": "2999-01-01"},
                {"phone": phone, "birthday": "1990-02-30"}, {"name": "x"},
                {"phone": phone, "name": ""}, {"phone": phone, "extra": 1}):  # fmt: skip
        assert_problem(await client.post(url, json=bad, headers=setup.clerk.headers),
                       422, "validation_error")  # fmt: skip

    grant = {"customer_id": customer["id"]}
    r = await client.post(f"/v1/programs/{setup.program_id}/cards", json=grant,
                          headers=setup.clerk.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    card = r.json()
    grant = {"customer_id": customer["id"]}
    r = await client.post(f"/v1/programs/{setup.program_id}/cards", json=grant,
                          headers=setup.clerk.headers)  # fmt: skip
    assert_problem(r, 409, "card_exists")
    # the card works at the counter before its holder has the app
    r = await client.post("/v1/counter/transactions", headers=setup.clerk.headers, json={
        "card": card["card_number"], "shop_id": setup.shop_id, "kind": "purchase",
        "amount": money(5000)})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["card"]["points"] == 50

    lookup = {"phone": phone, "shop_id": setup.shop_id}
    r = await client.post("/v1/counter/members/lookup", json=lookup, headers=setup.clerk.headers)
    assert r.status_code == 200, r.text
    found = r.json()
    assert "****" in found["phone"] and found["customer_ids"] == [customer["id"]]
    assert [i["card"]["id"] for i in found["items"]] == [card["id"]]
    assert found["items"][0]["name"] == "王阿姨" and found["items"][0]["card"]["points"] == 50
    r = await client.post("/v1/counter/members/lookup", json=lookup, headers=setup.owner.headers)
    assert r.json()["phone"].endswith(phone[-4:]) and "****" not in r.json()["phone"]
    unknown = {"phone": fresh_phone(), "shop_id": setup.shop_id}
    r = await client.post("/v1/counter/members/lookup", json=unknown, headers=setup.clerk.headers)
    assert r.json()["items"] == [] and r.json()["customer_ids"] == []
    stranger = await client.register()
    r = await client.post("/v1/counter/members/lookup", json=lookup, headers=stranger.headers)
    assert_problem(r, 404, "shop_not_found")
    r = await client.post("/v1/counter/members/lookup", json={**lookup, "phone": "abc"},
                          headers=setup.clerk.headers)  # fmt: skip
    assert_problem(r, 422, "validation_error")

    # that phone signs in by SMS code: the customer record and the card become the account's
    member = await sms_actor(client, test_settings, phone)
    mine = (await client.get("/v1/me/cards", headers=member.headers)).json()["items"]
    assert [c["id"] for c in mine] == [card["id"]] and mine[0]["points"] == 50
    r = await client.get(f"{url}/{customer['id']}", headers=setup.owner.headers)
    assert r.json()["user_id"] == member.user_id
    assert r.json()["visits"] == 1
    # a walk-in added once the app account exists is linked at once
    other = await make_setup(client)
    r = await client.post(f"/v1/merchants/{other.merchant_id}/customers", json={"phone": phone},
                          headers=other.owner.headers)  # fmt: skip
    assert r.status_code == 201 and r.json()["user_id"] == member.user_id
    assert await _ledger_matches_totals(sessionmaker, setup.program_id) == 1


def _book_csv(rows: list[list[Any]]) -> bytes:
    header = "name,phone,birthday,card_number,balance,points\n"
    return (header + "".join(",".join(str(c) for c in r) + "\n" for r in rows)).encode()


async def _import(
    client: ApiClient, setup: Setup, body: bytes, name: str = "book.csv", **params: Any
) -> Any:
    return await client.post(
        f"/v1/merchants/{setup.merchant_id}/customers/import",
        params={"program_id": setup.program_id, **params},
        files={"file": (name, body, "text/csv")},
        headers=setup.manager.headers,
    )


async def test_member_book_import_is_whole_rowed_and_idempotent(
    client: ApiClient, sessionmaker: async_sessionmaker[AsyncSession], test_settings: Settings
) -> None:
    setup = await make_setup(client)
    phones = [fresh_phone() for _ in range(5)]
    app_user = await sms_actor(client, test_settings, fresh_phone())  # 小李: proved the phone
    r = await client.post(f"/v1/programs/{setup.program_id}/join", headers=app_user.headers)
    app_card = r.json()
    rows: list[list[Any]] = [
        ["张三", phones[0], "1985-03-02", "A001", "120.50", 300],
        ["李四", phones[1], "", "", "0", 80],  # points only: a new card
        ["王五", phones[2], "1990/7/9", "", "", ""],  # customer only
        ["坏号", "12345", "", "A004", "10", 0],
        ["负数", phones[3], "", "A005", "-5", 0],
        ["重复", phones[0], "", "A006", "1", 0],
        ["生日", phones[4], "1990-13-01", "", "", ""],
        ["小数", fresh_phone(), "", "A008", "1.005", 0],
        ["小李", app_user.phone, "", "", "66", 0],  # an app member's existing card
        ["", "", "", "", "", ""],  # a blank line is skipped
    ]
    r = await _import(client, setup, _book_csv(rows))
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["imported"], report["updated"]) == (3, 1), report
    assert {(x["row"], x["reason"]) for x in report["rejected"]} == {
        (5, "invalid_phone"), (6, "negative_balance"), (7, "duplicate_phone"),
        (8, "invalid_birthday"), (9, "invalid_balance")}  # fmt: skip
    assert {x["field"] for x in report["rejected"]} >= {"phone", "balance", "birthday"}

    async def cards_and_entries() -> tuple[int, int]:
        async with sessionmaker() as session:
            cards = await session.scalar(select(func.count()).select_from(Card).where(
                Card.program_id == uuid.UUID(setup.program_id)))  # fmt: skip
            entries = await session.scalar(select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.kind == "opening_balance",
                LedgerEntry.merchant_id == uuid.UUID(setup.merchant_id)))  # fmt: skip
        return int(cards or 0), int(entries or 0)

    assert await cards_and_entries() == (3, 3)  # A001, 李四's new card, 小李's app card
    lookup = {"phone": phones[0], "shop_id": setup.shop_id}
    found = (await client.post("/v1/counter/members/lookup", json=lookup,
                               headers=setup.owner.headers)).json()["items"]  # fmt: skip
    assert found[0]["card"]["balance"] == money(12050) and found[0]["card"]["points"] == 300
    mine = (await client.get(f"/v1/cards/{app_card['id']}", headers=app_user.headers)).json()
    assert mine["balance"] == money(6600)
    ledger = (await client.get(f"/v1/cards/{app_card['id']}/ledger",
                               headers=app_user.headers)).json()["items"]  # fmt: skip
    assert [e["kind"] for e in ledger] == ["opening_balance"]

    # the same book again: nothing new, nothing posted twice
    r = await _import(client, setup, _book_csv(rows))
    again = r.json()
    assert (again["imported"], again["updated"]) == (0, 4), again
    assert len(again["rejected"]) == 5
    assert await cards_and_entries() == (3, 3)
    # a changed opening figure is refused, not added
    rows[0][4] = "999"
    again = (await _import(client, setup, _book_csv(rows[:1]))).json()
    assert again["rejected"] == [{"row": 2, "reason": "opening_balance_differs",
                                  "field": "balance"}]  # fmt: skip
    # two imports of the same book at once: still one card and one opening entry each
    twins = [["并发", fresh_phone(), "", f"B{i:03d}", "10", 5] for i in range(20)]
    results = await asyncio.gather(*(_import(client, setup, _book_csv(twins)) for _ in range(2)))
    assert all(x.status_code == 200 for x in results)
    assert sum(x.json()["imported"] for x in results) == 20
    assert await cards_and_entries() == (23, 23)
    assert await _ledger_matches_totals(sessionmaker, setup.program_id) == 23


async def test_member_book_xlsx_and_refusals(client: ApiClient) -> None:
    setup = await make_setup(client)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["姓名", "手机", "生日", "卡号", "余额", "积分"])
    phone = fresh_phone()
    sheet.append(["赵六", int(phone), "1988-08-08", 2001, 35.5, 12])
    out = io.BytesIO()
    workbook.save(out)
    r = await _import(client, setup, out.getvalue(), name="book.xlsx")
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1 and r.json()["rejected"] == []
    found = (await client.post("/v1/counter/members/lookup", headers=setup.owner.headers,
                               json={"phone": phone, "shop_id": setup.shop_id})).json()  # fmt: skip
    assert found["items"][0]["card"]["balance"] == money(3550)

    url = f"/v1/merchants/{setup.merchant_id}/customers/import"
    no_program = await client.post(url, files={"file": ("b.csv", _book_csv([]), "text/csv")},
                                   headers=setup.manager.headers)  # fmt: skip
    assert_problem(no_program, 422, "program_required")
    only_people = b"name,phone\n\xe5\xbc\xa0,13800138000\n"
    r = await client.post(url, files={"file": ("b.csv", only_people, "text/csv")},
                          headers=setup.manager.headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["imported"] == 1
    for body in (b"", b"name,mobile_no\nx,1\n", b"PK\x03\x04garbage", b"\xff\xfe\x00bad"):
        r = await client.post(url, files={"file": ("b.csv", body, "text/csv")},
                              headers=setup.manager.headers)  # fmt: skip
        assert_problem(r, 422, "member_book_invalid")
    r = await _import(client, setup, _book_csv([]), program_id=str(uuid.uuid4()))
    assert_problem(r, 404, "program_not_found")
    assert_problem(await client.post(url, files={"file": ("b.csv", only_people, "text/csv")},
                                     headers=setup.clerk.headers), 403, "forbidden")  # fmt: skip
    gbk = "姓名,手机\n钱七,13900139000\n".encode("gb18030")
    r = await client.post(url, files={"file": ("b.csv", gbk, "text/csv")},
                          headers=setup.manager.headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["imported"] == 1


async def test_import_members_cli_path(
    client: ApiClient, test_settings: Settings, tmp_path: Path
) -> None:
    setup = await make_setup(client)
    rows = [[f"会员{i}", fresh_phone(), "", f"C{i:04d}", f"{i}.00", i] for i in range(1, 1201)]
    rows.append(["坏", "000", "", "", "", ""])
    book = tmp_path / "book.csv"
    book.write_bytes(_book_csv(rows))
    assert count_rows(book) == 1201
    advanced: list[int] = []
    report = await import_file(
        test_settings, book, merchant_id=uuid.UUID(setup.merchant_id),
        program_id=uuid.UUID(setup.program_id), progress=advanced.append,
    )  # fmt: skip
    assert (report.imported, report.updated, report.rejected_total) == (1200, 0, 1)
    assert sum(advanced) == 1201 and len(advanced) == 2  # batches of 1000
    again = await import_file(
        test_settings, book, merchant_id=uuid.UUID(setup.merchant_id),
        program_id=uuid.UUID(setup.program_id),
    )  # fmt: skip
    assert (again.imported, again.updated, again.rejected_total) == (0, 1200, 1)
