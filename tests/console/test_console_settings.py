"""The merchant settings page in Chromium: the owner sets the merchant's SMS signature (the
【…】 its flash-offer and birthday SMS start with), clears it; a signature the rule refuses and
a refusal by the API (a manager removed while the page was open) are each shown in one line
and change nothing; zh-CN and English."""

from __future__ import annotations

from typing import Any

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
from tests.helpers import ApiClient


async def sign_name(client: ApiClient, owner: Any, merchant_id: str) -> str | None:
    r = await client.get(f"/v1/merchants/{merchant_id}", headers=owner.headers)
    assert r.status_code == 200, r.text
    return r.json()["sms_sign_name"]  # type: ignore[no-any-return]


async def one_line_refusal(page: Any) -> str:
    line = page.locator(".form-status[role=alert]")
    await line.wait_for()
    text = (await line.inner_text()).strip()
    assert text and "\n" not in text, text
    return str(text)


async def test_owner_sets_and_clears_the_sms_signature_refusals_in_one_line(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require("/v1/merchants/{merchant_id}")
    owner, merchant, shop = await owner_with_shop(client)
    manager = await client.staff(owner, merchant["id"], role="manager")

    await open_counter(page, owner.phone, shop)
    await page.get_by_role("link", name="设置").click()
    await page.get_by_role("heading", name="商户设置").wait_for()
    await page.get_by_text("当前使用平台签名。").wait_for()
    field = page.get_by_role("textbox", name="短信签名")
    # a symbol: refused before anything is sent, in one line
    await field.fill("老王面馆!")
    await page.get_by_role("button", name="保存").click()
    assert "2–12" in await one_line_refusal(page)
    assert await sign_name(client, owner, merchant["id"]) is None

    await field.fill("老王面馆")
    await page.get_by_role("button", name="保存").click()
    await page.get_by_text("已保存：短信将以【老王面馆】开头。").wait_for()
    assert await sign_name(client, owner, merchant["id"]) == "老王面馆"
    await page.get_by_text("当前签名：【老王面馆】").wait_for()
    await screenshot(page, "98-settings-owner")

    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Merchant settings").wait_for()
    await page.get_by_text("Current signature: 【老王面馆】").wait_for()
    await page.get_by_role("textbox", name="SMS signature").fill("")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Cleared: SMS will use the platform's signature.").wait_for()
    assert await sign_name(client, owner, merchant["id"]) is None
    await page.locator("#lang-switch").click()
    await page.get_by_role("heading", name="商户设置").wait_for()

    # a manager whose page is open when the owner removes them: the API refuses, one line
    await page.get_by_role("button", name="退出登录").click()
    await sign_in(page, manager.phone)
    await choose_shop(page, shop)
    await page.get_by_role("link", name="设置").click()
    await page.get_by_role("heading", name="商户设置").wait_for()
    r = await client.delete(
        f"/v1/merchants/{merchant['id']}/staff/{manager.user_id}", headers=owner.headers
    )
    assert r.status_code == 204, r.text
    await page.get_by_role("textbox", name="短信签名").fill("街角咖啡")
    await page.get_by_role("button", name="保存").click()
    await one_line_refusal(page)
    assert await sign_name(client, owner, merchant["id"]) is None
    await page.set_viewport_size(PHONE)
    await no_sideways_scroll(page)
    await screenshot(page, "99-settings-refused-390")
