"""Directory, profile, timeline, edits, masking, export and the access audit log."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from customers.models import Customer, CustomerEvent
from tests.customers.helpers import customer, report, shop_with_owner
from tests.helpers import ApiClient, assert_problem

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


async def test_directory_sorts_pages_and_masks(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    ids = []
    for i in range(5):
        events = [("card_transaction", T0 + timedelta(days=i), 1000 * (5 - i))] * (i + 1)
        _, cid = await customer(client, sessionmaker, mid, events, name=f"顾客{i}")
        ids.append(cid)
    # two who never visited (claimed a coupon only): they come last in last_visit order
    for i in range(2):
        _, cid = await customer(
            client, sessionmaker, mid, [("coupon_claimed", T0, 0)], name=f"潜客{i}"
        )
        ids.append(cid)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"/v1/merchants/{mid}/customers", params=params, headers=owner.headers)
        assert r.status_code == 200, r.text
        seen += [c["id"] for c in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen[:5] == list(reversed(ids[:5]))
    assert set(seen[5:]) == set(ids[5:]) and len(seen) == 7

    r = await client.get(
        f"/v1/merchants/{mid}/customers", params={"sort": "total_spend"}, headers=owner.headers
    )
    spends = [c["total_spend"]["amount"] for c in r.json()["items"]]
    assert spends == sorted(spends, reverse=True)
    r = await client.get(
        f"/v1/merchants/{mid}/customers",
        params={"sort": "visits", "limit": 3},
        headers=owner.headers,
    )
    assert [c["visits"] for c in r.json()["items"]] == [5, 4, 3]
    # a cursor of one order is refused by another
    r2 = await client.get(
        f"/v1/merchants/{mid}/customers",
        params={"sort": "total_spend", "cursor": r.json()["next_cursor"]},
        headers=owner.headers,
    )
    assert_problem(r2, 422, "invalid_cursor")

    full = (await client.get(f"/v1/merchants/{mid}/customers", headers=owner.headers)).json()
    masked = (await client.get(f"/v1/merchants/{mid}/customers", headers=clerk.headers)).json()
    assert full["items"][0]["phone"].startswith("+86139")
    assert (
        masked["items"][0]["phone"]
        == full["items"][0]["phone"][3:6] + "****" + (full["items"][0]["phone"][-4:])
    )
    one = await client.get(f"/v1/merchants/{mid}/customers/{ids[0]}", headers=clerk.headers)
    assert "****" in one.json()["phone"]


async def test_search_by_name_and_phone_and_tier(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    wang, wang_id = await customer(
        client, sessionmaker, mid, [("coupon_redeemed", T0, 0)], name="王小明", tier="gold"
    )
    _, li_id = await customer(client, sessionmaker, mid, [("coupon_redeemed", T0, 0)], name="李雷")
    url = f"/v1/merchants/{mid}/customers"
    r = await client.get(url, params={"q": "小明"}, headers=owner.headers)
    assert [c["id"] for c in r.json()["items"]] == [wang_id]
    r = await client.get(url, params={"q": wang.phone[-6:]}, headers=owner.headers)
    assert [c["id"] for c in r.json()["items"]] == [wang_id]
    r = await client.get(url, params={"q": "100%_"}, headers=owner.headers)
    assert r.json()["items"] == []
    r = await client.get(url, params={"tier": "gold"}, headers=owner.headers)
    assert [c["id"] for c in r.json()["items"]] == [wang_id]
    assert r.json()["items"][0]["tier"] == "gold"
    assert li_id


async def test_profile_timeline_and_edits(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    ref = uuid.uuid4()
    _, cid = await customer(
        client,
        sessionmaker,
        mid,
        [("coupon_claimed", T0, 0), ("card_transaction", T0 + timedelta(hours=1), 2500)],
        reference_id=ref,
    )
    r = await client.patch(
        f"/v1/merchants/{mid}/customers/{cid}",
        json={"tags": ["常客", "不吃辣", "常客"], "notes": "喜欢靠窗", "refuses_calls": True},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tags"] == ["常客", "不吃辣"]
    assert body["notes"] == "喜欢靠窗"
    assert body["allowed_follow_up_methods"] == ["sms", "email"]
    await client.post(
        f"/v1/merchants/{mid}/follow-ups",
        json={"customer_id": cid, "method": "sms", "content": "感谢光临"},
        headers=owner.headers,
    )
    r = await client.get(f"/v1/merchants/{mid}/customers/{cid}", headers=owner.headers)
    profile = r.json()
    assert profile["visits"] == 1 and profile["total_spend"] == {"amount": 2500, "currency": "CNY"}
    kinds = [e["kind"] for e in profile["timeline"]]
    assert kinds[-2:] == ["card_transaction", "coupon_claimed"]
    assert "follow_up_sms" in kinds
    tx = next(e for e in profile["timeline"] if e["kind"] == "card_transaction")
    assert tx["amount"]["amount"] == 2500 and tx["reference_id"] == str(ref)
    # timeline pages
    r = await client.get(
        f"/v1/merchants/{mid}/customers/{cid}/timeline", params={"limit": 2}, headers=owner.headers
    )
    page1 = r.json()
    r = await client.get(
        f"/v1/merchants/{mid}/customers/{cid}/timeline",
        params={"limit": 2, "cursor": page1["next_cursor"]},
        headers=owner.headers,
    )
    assert len(page1["items"]) + len(r.json()["items"]) == 3
    missing = await client.get(
        f"/v1/merchants/{mid}/customers/{uuid.uuid4()}", headers=owner.headers
    )
    assert_problem(missing, 404, "customer_not_found")
    bad = await client.patch(
        f"/v1/merchants/{mid}/customers/{cid}",
        json={"interest_level": "huge"},
        headers=owner.headers,
    )
    assert_problem(bad, 422, "validation_error")


async def test_export_csv_has_bom_and_is_audited(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    for i in range(3):
        await customer(
            client, sessionmaker, mid, [("card_transaction", T0, 1234 + i)], name=f"=cmd|{i}"
        )
    r = await client.get(f"/v1/merchants/{mid}/customers/export.csv", headers=owner.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["id", "name", "phone"]
    assert len(rows) == 4
    assert all(row[1].startswith("'=") for row in rows[1:])  # no formula injection
    assert {row[6] for row in rows[1:]} == {"12.34", "12.35", "12.36"}
    assert_problem(
        await client.get(f"/v1/merchants/{mid}/customers/export.csv", headers=clerk.headers),
        403,
        "forbidden",
    )
    await client.get(f"/v1/merchants/{mid}/customers", headers=clerk.headers)
    log = await client.get(f"/v1/merchants/{mid}/customer-access-log", headers=owner.headers)
    entries = log.json()
    assert [e["action"] for e in entries[:2]] == ["list", "export"]
    assert entries[0]["staff_user_id"] == clerk.user_id
    assert entries[1]["staff_user_id"] == owner.user_id


async def test_concurrent_events_for_many_customers(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    owner, mid = await shop_with_owner(client)
    people = [await client.register() for _ in range(4)]

    async def one(i: int) -> None:
        person = people[i % 4]
        await report(
            sessionmaker,
            mid,
            person.user_id,
            [("card_transaction", T0 + timedelta(minutes=i), 100)],
        )

    await asyncio.gather(*(one(i) for i in range(40)))
    async with sessionmaker() as session:
        rows = (await session.execute(select(Customer.visits, Customer.total_spend))).all()
        events = (await session.execute(select(func.count()).select_from(CustomerEvent))).scalar()
    assert sorted(rows) == [(10, 1000)] * 4
    assert events == 40
    assert owner


async def test_clerks_cannot_unmask_phones_by_searching(client: ApiClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    """Issue 17, finding 4: `q=1390`, `q=13900`, ... used to recover a masked phone digit by
    digit. A clerk now finds a phone by the whole number or the last four digits only."""
    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    person, cid = await customer(client, sessionmaker, mid, [("card_transaction", T0, 100)])
    url = f"/v1/merchants/{mid}/customers"
    local = person.phone.removeprefix("+86")

    def ids(r: object) -> list[str]:
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]
        return [c["id"] for c in r.json()["items"]]  # type: ignore[attr-defined]

    # the digit-by-digit walk: every fragment longer than what the mask shows is refused
    for n in range(3, len(local)):
        if n == 4:
            continue
        r = await client.get(url, params={"q": local[:n]}, headers=clerk.headers)
        assert_problem(r, 422, "phone_search_too_partial")
    # what the clerk already sees or already knows works
    assert ids(await client.get(url, params={"q": local[-4:]}, headers=clerk.headers)) == [cid]
    assert ids(await client.get(url, params={"q": local}, headers=clerk.headers)) == [cid]
    assert ids(await client.get(url, params={"q": person.phone}, headers=clerk.headers)) == [cid]
    # four leading digits are not the last four
    if local[:4] != local[-4:]:
        r = await client.get(url, params={"q": local[:4]}, headers=clerk.headers)
        assert cid not in ids(r)
    # managers see phones in full: they may search any fragment
    assert ids(await client.get(url, params={"q": local[:6]}, headers=owner.headers)) == [cid]


async def test_customer_searches_are_rate_limited_per_staff(
    client: ApiClient, sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    from customers.service.directory import SEARCHES_PER_MINUTE

    owner, mid = await shop_with_owner(client)
    clerk = await client.staff(owner, mid, "clerk")
    url = f"/v1/merchants/{mid}/customers"
    statuses = [
        (await client.get(url, params={"q": f"{i:04d}"}, headers=clerk.headers)).status_code
        for i in range(SEARCHES_PER_MINUTE + 1)
    ]
    assert statuses == [200] * SEARCHES_PER_MINUTE + [429]
    # another staff member has their own budget; listing without a search is not counted
    assert (await client.get(url, params={"q": "0000"}, headers=owner.headers)).status_code == 200
    assert (await client.get(url, headers=clerk.headers)).status_code == 200
