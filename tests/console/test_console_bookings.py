"""The bookings board in Chromium: the day's bookings moved on by staff (arrived, completed,
no-show refused before the start, cancelled) and a booking made for a customer who phoned."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.console.helpers import (
    PHONE,
    LiveServer,
    no_sideways_scroll,
    open_counter,
    owner_with_shop,
    screenshot,
)
from tests.helpers import ApiClient, fresh_phone

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_bookings_board_moves_and_phone_booking(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require(
        "/v1/shops/{shop_id}/bookings",
        "/v1/bookings/{booking_id}",
        "/v1/bookings/{booking_id}/cancel",
        "/v1/shops/{shop_id}/slots",
    )
    owner, _, shop = await owner_with_shop(client)
    r = await client.post(
        f"/v1/shops/{shop['id']}/offerings",
        json={"name": "洗剪吹", "price": {"amount": 8800, "currency": "CNY"}, "bookable": True},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    offering_id = r.json()["id"]
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date()
    customer = await client.register(name="李四")
    booked = []
    for hour in (10, 11):
        starts = datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, tzinfo=SHANGHAI)
        r = await client.post(
            f"/v1/shops/{shop['id']}/bookings",
            json={"offering_id": offering_id, "starts_at": starts.isoformat()},
            headers=customer.headers,
        )
        assert r.status_code == 201, r.text
        booked.append(r.json())

    page.on("dialog", lambda dialog: dialog.accept())
    await open_counter(page, owner.phone, shop)
    await page.get_by_role("link", name="预约", exact=True).click()
    await page.get_by_role("heading", name="预约看板").wait_for()
    await page.get_by_text("这一天没有预约").wait_for()
    await page.get_by_role("button", name="后一天").click()
    rows = page.locator("ol.booking-list li")
    await rows.nth(1).wait_for()
    first = page.locator(f'li.booking[data-id="{booked[0]["id"]}"]')
    second = page.locator(f'li.booking[data-id="{booked[1]["id"]}"]')
    assert "李四" in await first.inner_text() and "10:00" in await first.inner_text()

    await first.get_by_role("button", name="已到店").click()
    await first.get_by_role("button", name="服务完成").click()
    await first.locator(".booking-badge", has_text="已完成").wait_for()
    r = await client.get(f"/v1/bookings/{booked[0]['id']}", headers=owner.headers)
    assert r.json()["status"] == "completed" and r.json()["arrived_at"]

    # a no-show before the booking has started: refused in one Chinese line, nothing changes
    await second.get_by_role("button", name="未到店").click()
    refusal = second.get_by_role("alert")
    await refusal.wait_for()
    assert "booking_not_started" not in await refusal.inner_text()
    r = await client.get(f"/v1/bookings/{booked[1]['id']}", headers=owner.headers)
    assert r.json()["status"] == "booked"
    await screenshot(page, "90-bookings-board")
    await second.get_by_role("button", name="取消预约").click()
    await second.locator(".booking-badge", has_text="已取消").wait_for()
    r = await client.get(f"/v1/bookings/{booked[1]['id']}", headers=owner.headers)
    assert r.json()["status"] == "cancelled"

    # a customer phones: booked by phone and name, a walk-in customer made from the number
    phone = fresh_phone()
    await page.get_by_label("预约项目").select_option(label="洗剪吹")
    await page.get_by_label("时段").locator("option", has_text="14:00").wait_for(state="attached")
    await page.get_by_label("时段").select_option(
        label=await page.get_by_label("时段").locator("option", has_text="14:00").first.inner_text()
    )
    await page.get_by_label("顾客手机号").fill(phone)
    await page.get_by_label("顾客称呼（选填）").fill("周九")
    await page.get_by_label("备注（选填）").fill("要靠窗")
    await page.get_by_role("button", name="预约", exact=True).click()
    await page.get_by_text("已为 周九 预约 14:00").wait_for()
    phoned = page.locator("li.booking", has_text="周九")
    await phoned.wait_for()
    assert "店员代订" in await phoned.inner_text() and "要靠窗" in await phoned.inner_text()
    r = await client.get(
        f"/v1/shops/{shop['id']}/bookings?date={tomorrow.isoformat()}", headers=owner.headers
    )
    made = [b for b in r.json()["items"] if b["customer_name"] == "周九"]
    assert len(made) == 1 and made[0]["note"] == "要靠窗" and made[0]["customer_id"]
    await screenshot(page, "91-bookings-phoned")

    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Bookings board").wait_for()
    await page.set_viewport_size(PHONE)
    await page.locator("ol.booking-list li").first.wait_for()
    await no_sideways_scroll(page)
    await screenshot(page, "92-bookings-en-390")
