"""The catalogue page in Chromium: offerings, photos, shop description and special hours.

Every change is made by clicking in the page and checked through the API afterwards (the page
saying "saved" is not enough).
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from PIL import Image

from tests.console.helpers import (
    PHONE,
    TABLET_LANDSCAPE,
    LiveServer,
    no_sideways_scroll,
    open_counter,
    owner_with_shop,
    screenshot,
)
from tests.helpers import Actor, ApiClient


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "PNG")
    return out.getvalue()


async def offerings(client: ApiClient, owner: Actor, shop_id: str) -> list[dict[str, Any]]:
    r = await client.get(
        f"/v1/shops/{shop_id}/offerings?include_archived=true&limit=100", headers=owner.headers
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_catalogue_offerings_photos_description_and_special_hours(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require(
        "/v1/shops/{shop_id}",
        "/v1/shops/{shop_id}/offerings",
        "/v1/offerings/{offering_id}",
        "/v1/shops/{shop_id}/photos",
        "/v1/shops/{shop_id}/photos/order",
        "/v1/photos/{photo_id}",
    )
    owner, _, shop = await owner_with_shop(client)
    page.on("dialog", lambda dialog: dialog.accept())
    await open_counter(page, owner.phone, shop)
    await page.get_by_role("link", name="商品与门店").click()
    await page.get_by_role("heading", name="商品与门店资料").wait_for()
    await page.get_by_text("还没有商品").wait_for()

    # -- offerings: a zero price is refused on the page, a good one is created
    new = page.locator("form.offering-form").last
    await new.get_by_label("名称").fill("牛肉面")
    await new.get_by_label("价格（元）").fill("0")
    await new.get_by_role("button", name="添加商品").click()
    await new.get_by_role("alert").filter(has_text="大于 0").wait_for()
    assert await offerings(client, owner, shop["id"]) == []
    await new.get_by_label("价格（元）").fill("28")
    await new.get_by_label("介绍（选填）").fill("手工拉面")
    await new.get_by_role("button", name="添加商品").click()
    await page.locator("li.offering", has_text="牛肉面").get_by_text("¥28.00").wait_for()
    # the row by its id: while it is edited its name is in an input, not in its text
    offering_id = await page.locator("li.offering", has_text="牛肉面").get_attribute("data-id")
    row = page.locator(f'li.offering[data-id="{offering_id}"]')
    await new.get_by_label("名称").fill("洗剪吹")
    await new.get_by_label("价格（元）").fill("58.5")
    await new.get_by_label("可预约").check()
    await new.get_by_role("button", name="添加商品").click()
    await page.locator("li.offering", has_text="洗剪吹").get_by_text("可预约").wait_for()

    # edit the price and the name
    await row.get_by_role("button", name="编辑 牛肉面").click()
    await row.get_by_label("价格（元）").fill("32.50")
    await row.get_by_label("名称").fill("红烧牛肉面")
    await row.get_by_role("button", name="保存").click()
    await row.get_by_text("¥32.50").wait_for()
    by_name = {o["name"]: o for o in await offerings(client, owner, shop["id"])}
    assert by_name["红烧牛肉面"]["price"] == {"amount": 3250, "currency": "CNY"}
    assert by_name["红烧牛肉面"]["description"] == "手工拉面"
    assert by_name["洗剪吹"]["bookable"] is True and by_name["洗剪吹"]["price"]["amount"] == 5850

    # archive, then put back on sale
    await row.get_by_role("button", name="下架 红烧牛肉面").click()
    await row.get_by_text("已下架").wait_for()
    assert {o["name"]: o["active"] for o in await offerings(client, owner, shop["id"])} == {
        "红烧牛肉面": False,
        "洗剪吹": True,
    }
    await row.get_by_role("button", name="重新上架 红烧牛肉面").click()
    await row.get_by_role("button", name="下架 红烧牛肉面").wait_for()
    assert all(o["active"] for o in await offerings(client, owner, shop["id"]))

    # -- photos: upload three, move the third to the front, delete the second
    for colour, kind in (("red", "门头"), ("green", "店内"), ("blue", "商品")):
        await page.get_by_label("照片类型").select_option(label=kind)
        await page.get_by_label("照片文件").set_input_files(
            {"name": f"{colour}.png", "mimeType": "image/png", "buffer": png(colour)}
        )
        count = await page.locator("ol.photos li").count()
        await page.get_by_role("button", name="上传照片").click()
        await page.locator("ol.photos li").nth(count).wait_for()
    r = await client.get(f"/v1/shops/{shop['id']}/photos")
    uploaded = [p["id"] for p in r.json()["items"]]
    assert len(uploaded) == 3
    # the thumbnails load (same origin, allowed by the page's policy)
    assert await page.locator("ol.photos img").first.evaluate(
        "img => img.decode().then(() => img.naturalWidth > 0)"
    )
    await page.get_by_role("button", name="第 3 张照片前移").click()
    await page.get_by_text("照片顺序已保存").wait_for()
    await page.get_by_role("button", name="第 2 张照片前移").click()
    await page.locator("ol.photos li").first.get_by_text("商品").wait_for()
    r = await client.get(f"/v1/shops/{shop['id']}/photos")
    assert [p["id"] for p in r.json()["items"]] == [uploaded[2], uploaded[0], uploaded[1]]
    await page.get_by_role("button", name="删除第 2 张照片").click()
    await page.get_by_text("照片已删除").wait_for()
    r = await client.get(f"/v1/shops/{shop['id']}/photos")
    assert [p["id"] for p in r.json()["items"]] == [uploaded[2], uploaded[1]]

    # -- description and features
    await page.get_by_label("门店介绍", exact=True).fill("三十年老店，现拉现煮。")
    await page.get_by_label("门店特色").fill("免费WiFi、可停车, 儿童座椅")
    await page.get_by_role("button", name="保存门店介绍").click()
    await page.locator("section[aria-labelledby=cat-shop]").get_by_text("已保存").wait_for()
    r = await client.get(f"/v1/shops/{shop['id']}")
    assert r.json()["description"] == "三十年老店，现拉现煮。"
    assert r.json()["features"] == ["免费WiFi", "可停车", "儿童座椅"]

    # -- special hours: a closure over three days, changed hours on another day
    holiday = date.today() + timedelta(days=30)
    short_day = holiday + timedelta(days=10)
    await page.get_by_role("button", name="添加日期").click()
    await page.get_by_label("第 1 行日期").fill(holiday.isoformat())
    await page.get_by_label("第 1 行截止日期").fill((holiday + timedelta(days=2)).isoformat())
    await page.get_by_label("第 1 行休息").check()
    await page.get_by_label("第 1 行说明").fill("春节")
    await page.get_by_role("button", name="添加日期").click()
    await page.get_by_label("第 2 行日期").fill(short_day.isoformat())
    await page.get_by_label("第 2 行开门时间").fill("10:00")
    await page.get_by_label("第 2 行关门时间").fill("16:00")
    await page.get_by_role("button", name="保存特殊营业时间").click()
    hours = page.locator("section[aria-labelledby=cat-hours]")
    await hours.get_by_text("已保存").wait_for()
    r = await client.get(f"/v1/shops/{shop['id']}")
    special = r.json()["special_hours"]
    assert len(special) == 2, special
    assert special[0]["closed"] is True and special[0]["note"] == "春节"
    assert special[0]["until"] == (holiday + timedelta(days=2)).isoformat()
    assert (special[1]["open"], special[1]["close"]) == ("10:00", "16:00")

    # an overlapping date is refused by the server, the page says so and nothing changes
    await page.get_by_role("button", name="添加日期").click()
    await page.get_by_label("第 3 行日期").fill((holiday + timedelta(days=1)).isoformat())
    await page.get_by_label("第 3 行休息").check()
    await page.get_by_role("button", name="保存特殊营业时间").click()
    await hours.get_by_role("alert").wait_for()
    await screenshot(page, "40-catalogue-zh")
    r = await client.get(f"/v1/shops/{shop['id']}")
    assert len(r.json()["special_hours"]) == 2
    await page.get_by_role("button", name="删除第 3 行").click()

    # -- English, then a phone-sized screen: nothing scrolls sideways
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Catalogue and shop details").wait_for()
    await page.get_by_role("button", name="Archive 红烧牛肉面").wait_for()
    await no_sideways_scroll(page)
    await screenshot(page, "41-catalogue-en-1024")
    await page.set_viewport_size(PHONE)
    await page.get_by_role("heading", name="Special hours").wait_for()
    await no_sideways_scroll(page)
    await screenshot(page, "42-catalogue-en-390")
    await page.set_viewport_size(TABLET_LANDSCAPE)
