"""The service desk in Chromium: follow-ups due today and open complaints by due time, each
assigned — by a manager to anyone, by a clerk to themselves (and given back)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from core.timezones import DEFAULT_TIMEZONE, zone
from tests.console.helpers import (
    PHONE,
    LiveServer,
    choose_shop,
    no_sideways_scroll,
    open_counter,
    owner_with_shop,
    screenshot,
    sign_in,
)
from tests.helpers import Actor, ApiClient, fresh_phone

CLERK = "测试用户"  # the display name ApiClient.register gives


async def walk_in(client: ApiClient, owner: Actor, merchant_id: str, name: str) -> str:
    r = await client.post(
        f"/v1/merchants/{merchant_id}/customers",
        json={"phone": fresh_phone(), "name": name},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


async def test_service_desk_due_follow_ups_and_complaints_assigned(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require(
        "/v1/merchants/{merchant_id}/follow-ups/due",
        "/v1/merchants/{merchant_id}/follow-up-tasks/{task_id}",
        "/v1/merchants/{merchant_id}/complaints",
        "/v1/merchants/{merchant_id}/complaints/{complaint_id}",
        "/v1/merchants/{merchant_id}/staff",
    )
    owner, merchant, shop = await owner_with_shop(client)
    base = f"/v1/merchants/{merchant['id']}"
    clerk = await client.staff(owner, merchant["id"], role="clerk")
    zhang = await walk_in(client, owner, merchant["id"], "张三")
    li = await walk_in(client, owner, merchant["id"], "李四")
    # a follow-up whose next one is due later today, on the merchant's clock: half an hour
    # from now, or halfway to local midnight when that is sooner (the desk lists today's)
    now = datetime.now(UTC)
    local = now.astimezone(zone(DEFAULT_TIMEZONE))
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=local.tzinfo)
    next_at = now + min(timedelta(minutes=30), (midnight - local) / 2)
    r = await client.post(
        f"{base}/follow-ups",
        json={"customer_id": zhang, "method": "phone", "content": "问问新品口味",
              "next_at": next_at.isoformat()},
        headers=owner.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    for customer, content in ((li, "面太咸"), (zhang, "等位太久")):
        r = await client.post(
            f"{base}/complaints",
            json={"customer_id": customer, "category": "quality", "channel": "phone",
                  "content": content},
            headers=owner.headers,
        )  # fmt: skip
        assert r.status_code == 201, r.text

    await open_counter(page, owner.phone, shop)
    await page.get_by_role("link", name="客服").click()
    await page.get_by_role("heading", name="客服工作台").wait_for()
    due = page.locator("section[aria-labelledby=desk-due] li.desk-item")
    await due.first.wait_for()
    assert "张三" in await due.first.inner_text()
    complaints = page.locator("section[aria-labelledby=desk-complaints] li.desk-item")
    assert await complaints.count() == 2
    # by due time: the first filed is due first
    assert "面太咸" in await complaints.first.inner_text()

    # the owner gives the follow-up and the first complaint to the clerk
    await due.first.get_by_role("combobox").select_option(label=f"{CLERK} · 店员")
    await page.get_by_text("已分配给").first.wait_for()
    await complaints.first.get_by_role("combobox").select_option(label=f"{CLERK} · 店员")
    await complaints.first.get_by_text("已分配给").wait_for()
    r = await client.get(f"{base}/follow-ups/due", headers=owner.headers)
    assert r.json()["items"][0]["task"]["assignee"] == clerk.user_id
    r = await client.get(f"{base}/complaints?assignee={clerk.user_id}", headers=owner.headers)
    assert [c["content"] for c in r.json()["items"]] == ["面太咸"]
    await screenshot(page, "95-desk-owner")

    # the clerk sees theirs, takes the other complaint, gives one back
    await page.get_by_role("button", name="退出登录").click()
    await sign_in(page, clerk.phone)
    await choose_shop(page, shop)
    await page.get_by_role("link", name="客服").click()
    await page.get_by_label("显示").select_option(label="未分配的")
    await page.get_by_text("等位太久").wait_for()
    await page.get_by_role("button", name="我来处理").click()
    await page.get_by_text(f"已分配给 {CLERK}").first.wait_for()
    await page.get_by_label("显示").select_option(label="分给我的")
    mine = page.locator("section[aria-labelledby=desk-complaints] li.desk-item")
    await mine.nth(1).wait_for()
    assert await mine.count() == 2
    await mine.first.get_by_role("button", name="放回").click()
    await mine.first.get_by_text("已取消分配").wait_for()
    r = await client.get(f"{base}/complaints?assignee={clerk.user_id}", headers=owner.headers)
    assert len(r.json()["items"]) == 1
    await screenshot(page, "96-desk-clerk")
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Service desk").wait_for()
    await page.set_viewport_size(PHONE)
    await no_sideways_scroll(page)
    await screenshot(page, "97-desk-en-390")
