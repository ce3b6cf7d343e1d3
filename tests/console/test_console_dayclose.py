"""The day close page in Chromium: the shop's and the merchant's day as tables with totals that
match the API, printed (print stylesheet) and downloaded as the API's .pdf and .csv."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.console.helpers import (
    PHONE,
    LiveServer,
    no_sideways_scroll,
    open_counter,
    owner_with_shop,
    screenshot,
)
from tests.console.test_console_counter import walk_in_member
from tests.helpers import ApiClient


async def test_day_close_tables_print_pdf_and_csv(
    client: ApiClient, page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    live_server.require(
        "/v1/shops/{shop_id}/day-close",
        "/v1/merchants/{merchant_id}/day-close",
        "/v1/shops/{shop_id}/day-close.pdf",
        "/v1/shops/{shop_id}/day-close.csv",
        "/v1/merchants/{merchant_id}/day-close.csv",
    )
    owner, merchant, shop = await owner_with_shop(client)
    member = await walk_in_member(client, owner, merchant["id"])
    # two purchases at the counter and one coupon redeemed: the day has something to close
    for amount in (2550, 4000):
        r = await client.post(
            "/v1/counter/transactions",
            json={"card": member["card"]["card_number"], "shop_id": shop["id"],
                  "kind": "purchase", "amount": {"amount": amount, "currency": "CNY"}},
            headers={**owner.headers, "Idempotency-Key": str(uuid.uuid4())},
        )  # fmt: skip
        assert r.status_code == 201, r.text
    now = datetime.now(UTC)
    r = await client.post(
        f"/v1/merchants/{merchant['id']}/campaigns",
        json={
            "name": "立减8元",
            "discount": {"kind": "amount_off", "value": {"amount": 800, "currency": "CNY"}},
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=7)).isoformat(),
            "audience": {"kind": "public"},
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    campaign_id = r.json()["id"]
    assert (
        await client.post(f"/v1/campaigns/{campaign_id}/publish", headers=owner.headers)
    ).is_success
    consumer = await client.register()
    coupon = (
        await client.post(f"/v1/campaigns/{campaign_id}/claim", headers=consumer.headers)
    ).json()
    r = await client.post(
        "/v1/counter/redeem",
        json={"code": coupon["code"], "shop_id": shop["id"]},
        headers={**owner.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/v1/shops/{shop['id']}/day-close", headers=owner.headers)
    assert r.status_code == 200, r.text
    day = r.json()

    await open_counter(page, owner.phone, shop)
    await page.get_by_role("link", name="日结").click()
    await page.get_by_role("heading", name="日结", exact=True).wait_for()
    await page.locator("table.day-table").first.wait_for()
    text = await page.locator(".day-close").inner_text()
    assert f"静安店 · {day['date']} 日结" in text
    # the page's figures are the API's: redemptions and the card transactions' total
    redemptions = page.locator("table.day-table").filter(has_text="净核销")
    assert "¥8.00" in await redemptions.inner_text()
    cards = page.locator("table.day-table").filter(has_text="会员卡交易（按类型）")
    total = sum(k["count"] for k in day["card_transactions"])
    assert total >= 2
    footer = await cards.locator("tfoot").inner_text()
    assert str(total) in footer and "¥65.50" in footer, footer
    staff = page.locator("table.day-table").filter(has_text="按员工")
    assert "王老板" in await staff.inner_text()
    await screenshot(page, "70-day-close-shop")

    # print: the stylesheet hides the bar and the controls, keeps the tables
    await page.emulate_media(media="print")
    assert not await page.locator("#topbar").is_visible()
    assert not await page.get_by_role("button", name="打印").is_visible()
    assert await page.locator("table.day-table").first.is_visible()
    await page.get_by_text("打印时间").wait_for()
    await screenshot(page, "71-day-close-print")
    await page.emulate_media(media="screen")

    # the .pdf and the .csv, fetched with the session's token
    async with page.expect_download() as pdf:
        await page.get_by_role("link", name="下载 PDF").click()
    pdf_path = tmp_path / "day.pdf"
    await (await pdf.value).save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    async with page.expect_download() as csv:
        await page.get_by_role("link", name="下载 CSV").click()
    csv_path = tmp_path / "day.csv"
    await (await csv.value).save_as(csv_path)
    assert (await csv.value).suggested_filename.endswith(".csv")
    assert len(csv_path.read_text(encoding="utf-8-sig").splitlines()) > 3
    await page.get_by_text("已下载").wait_for()

    # the whole merchant, the previous day (nothing), English, a phone
    await page.get_by_text("全部门店").click()
    await page.get_by_text("（全部门店）").wait_for()
    await page.get_by_role("button", name="前一天").click()
    await page.get_by_text("当天没有会员卡交易").wait_for()
    await page.get_by_role("button", name="English").click()
    await page.get_by_text("No card transactions that day.").wait_for()
    await screenshot(page, "72-day-close-merchant-en")
    await page.set_viewport_size(PHONE)
    await page.get_by_role("button", name="Next day").click()
    await page.locator("table.day-table").first.wait_for()
    await no_sideways_scroll(page)
    await screenshot(page, "73-day-close-390")
