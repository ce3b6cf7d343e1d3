"""The day close (日结) of a shop and of the merchant: every figure reconciled with the ledger,
the redemptions and the settlement statement of the same (fresh) merchant's day."""

from __future__ import annotations

import csv
import io
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from coupons.models import Redemption
from memberships.models import LedgerEntry
from tests.coupons.helpers import campaign_body, claim
from tests.helpers import ApiClient, assert_problem, create_shop, fresh_phone
from tests.memberships.helpers import program_body
from tests.orders.helpers import make_store, money, pay


async def test_day_close_reconciles(
    client: ApiClient, test_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    store = await make_store(client)
    mid = store.merchant_id
    other_shop = await create_shop(client, store.owner, mid, name="二店")
    # card: a member joins, buys 100.00 at the shop, another purchase at the other shop
    r = await client.post(f"/v1/merchants/{mid}/programs", json=program_body(),
                          headers=store.owner.headers)  # fmt: skip
    program = r.json()
    card = (await client.post(f"/v1/programs/{program['id']}/join",
                              headers=store.customer.headers)).json()  # fmt: skip
    for shop_id, amount in ((store.shop_id, 10_000), (other_shop["id"], 2_550)):
        r = await client.post("/v1/counter/transactions", headers=store.clerk.headers, json={
            "card": card["card_number"], "shop_id": shop_id, "kind": "purchase",
            "amount": money(amount)})  # fmt: skip
        assert r.status_code == 201, r.text
    # a member book row: an opening balance (no shop: merchant-wide only)
    book = f"name,phone,balance,points\n老会员,{fresh_phone()},50.00,10\n".encode()
    r = await client.post(f"/v1/merchants/{mid}/customers/import",
                          params={"program_id": program["id"]},
                          files={"file": ("b.csv", book, "text/csv")},
                          headers=store.manager.headers)  # fmt: skip
    assert r.json()["imported"] == 1
    # coupons: two redeemed at the shop, one of them reversed by the manager
    body = campaign_body(min_spend=None)
    r = await client.post(f"/v1/merchants/{mid}/campaigns", json=body, headers=store.owner.headers)
    campaign = r.json()
    await client.post(f"/v1/campaigns/{campaign['id']}/publish", headers=store.owner.headers)
    redemptions = []
    for _ in range(2):
        holder = await client.register()
        code = (await claim(client, campaign["id"], holder))["code"]
        r = await client.post("/v1/counter/redeem", headers=store.clerk.headers, json={
            "code": code, "shop_id": store.shop_id, "order_amount": money(6000)})  # fmt: skip
        assert r.status_code == 200, r.text
        redemptions.append(r.json()["redemption_id"])
    r = await client.post(f"/v1/redemptions/{redemptions[0]}/reverse",
                          headers=store.manager.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    # orders: one paid and consumed, one paid and refunded
    consumed = await store.order(client, quantity=2)
    await pay(client, test_settings, consumed)
    r = await client.post(f"/v1/counter/orders/{consumed['id']}/consume",
                          json={"shop_id": store.shop_id}, headers=store.clerk.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    refunded = await store.order(client)
    await pay(client, test_settings, refunded)
    r = await client.post(f"/v1/orders/{refunded['id']}/refund", headers=store.manager.headers)
    assert r.status_code == 200, r.text

    shop_close = (await client.get(f"/v1/shops/{store.shop_id}/day-close",
                                   headers=store.clerk.headers)).json()  # fmt: skip
    whole = (await client.get(f"/v1/merchants/{mid}/day-close",
                              headers=store.manager.headers)).json()  # fmt: skip
    kinds = {k["kind"]: k for k in shop_close["card_transactions"]}
    assert set(kinds) == {"earn"} and kinds["earn"]["count"] == 1
    assert kinds["earn"]["amount"] == money(10_000) and kinds["earn"]["points"] == 100
    assert shop_close["redemptions"] == {
        "redeemed": 2, "discount": money(2000), "order_amount": money(12_000),
        "reversed": 1, "reversed_discount": money(1000)}  # fmt: skip
    assert shop_close["orders"] == {
        "consumed": 1, "consumed_total": money(7600), "refunded": 1,
        "refunded_total": money(3800)}  # fmt: skip
    clerk = {s["staff_user_id"]: s for s in shop_close["by_staff"]}[store.clerk.user_id]
    assert (clerk["redemptions"], clerk["card_transactions"], clerk["orders_consumed"]) == (2, 1, 1)
    assert clerk["card_purchases"] == money(10_000)

    # the merchant's day: both shops, and the opening balance
    whole_kinds = {k["kind"]: k for k in whole["card_transactions"]}
    assert whole_kinds["earn"]["count"] == 2 and whole_kinds["earn"]["amount"] == money(12_550)
    assert whole_kinds["opening_balance"]["balance_delta"] == 5000
    assert whole_kinds["opening_balance"]["points"] == 10
    # … reconciled with the ledger itself
    async with sessionmaker() as session:
        rows = (await session.execute(
            select(LedgerEntry.kind, func.count(), func.sum(LedgerEntry.points_delta),
                   func.sum(LedgerEntry.principal_delta + LedgerEntry.bonus_delta))
            .where(LedgerEntry.merchant_id == uuid.UUID(mid)).group_by(LedgerEntry.kind)
        )).all()  # fmt: skip
        redeemed, reversed_ = (await session.execute(
            select(func.count(), func.count(Redemption.reversed_at))
            .where(Redemption.merchant_id == uuid.UUID(mid)))).one()  # fmt: skip
    assert {k: (c, p, b) for k, c, p, b in rows} == {
        k: (v["count"], v["points"], v["balance_delta"]) for k, v in whole_kinds.items()
    }
    assert (whole["redemptions"]["redeemed"], whole["redemptions"]["reversed"]) == (
        redeemed, reversed_)  # fmt: skip
    # … and with the settlement statement of the month (this merchant has only today)
    statement = (await client.get(f"/v1/merchants/{mid}/settlements",
                                  headers=store.manager.headers)).json()  # fmt: skip
    assert statement["consumed"] == whole["orders"]["consumed_total"]
    assert statement["refunded"] == whole["orders"]["refunded_total"]
    assert statement["orders_consumed"] == whole["orders"]["consumed"]

    # CSV and PDF beside it
    r = await client.get(f"/v1/shops/{store.shop_id}/day-close.csv", headers=store.clerk.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    figures = {(x[0], x[1]): x for x in lines[2:] if len(x) == 8}
    assert figures[("orders", "consumed")][3] == "7600"
    assert figures[("card", "earn")][4] == "100.00"
    for url, who in ((f"/v1/shops/{store.shop_id}/day-close.pdf", store.clerk),
                     (f"/v1/merchants/{mid}/day-close.pdf", store.manager),
                     (f"/v1/merchants/{mid}/day-close.csv", store.manager)):  # fmt: skip
        r = await client.get(url, headers=who.headers, params={"date": whole["date"]})
        assert r.status_code == 200, (url, r.text)
    r = await client.get(f"/v1/merchants/{mid}/day-close.pdf", headers=store.manager.headers,
                         params={"date": whole["date"]})  # fmt: skip
    assert r.content.startswith(b"%PDF")

    # another day is empty; bad dates are refused; strangers see nothing
    url = f"/v1/shops/{store.shop_id}/day-close"
    r = await client.get(url, params={"date": "2026-01-01"}, headers=store.clerk.headers)
    empty = r.json()
    assert empty["orders"]["consumed"] == 0 and empty["card_transactions"] == []
    assert empty["start"].startswith("2026-01-01T00:00:00+08:00")
    for bad in ("0000-01-01", "2026-13-01", "1900-01-01", "9999-12-31", "yesterday", ""):
        r = await client.get(f"/v1/shops/{store.shop_id}/day-close", params={"date": bad},
                             headers=store.clerk.headers)  # fmt: skip
        assert r.status_code == 422 or (bad == "" and r.status_code == 200), (bad, r.text)
    assert_problem(await client.get(f"/v1/merchants/{mid}/day-close",
                                    headers=store.clerk.headers), 403, "forbidden")  # fmt: skip
    stranger = await client.register()
    r = await client.get(f"/v1/shops/{store.shop_id}/day-close", headers=stranger.headers)
    assert_problem(r, 404, "shop_not_found")
    r = await client.get(f"/v1/merchants/{mid}/day-close.csv", headers=stranger.headers)
    assert r.status_code == 404
