"""The merchant console in a real browser (Debian's Chromium driven by Playwright).

Tests name the routes their pages call (`live_server.require`): a missing one fails the test.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.console.helpers import (
    PASSWORD,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    LiveServer,
    choose_shop,
    confirm_member,
    open_counter,
    owner_with_shop,
    result_state,
    screenshot,
)
from tests.console.helpers import write_y4m as write_camera
from tests.helpers import Actor, ApiClient

COUPON_ROUTES = (
    "/v1/merchants/{merchant_id}/campaigns",
    "/v1/campaigns/{campaign_id}/publish",
    "/v1/campaigns/{campaign_id}/claim",
    "/v1/counter/lookup",
    "/v1/counter/redeem",
)


async def test_sign_in_choose_shop_and_switch_language(client: ApiClient, page: Any) -> None:
    owner, merchant, shop = await owner_with_shop(client)

    await page.goto("/console/")
    await page.get_by_role("heading", name="登录商户后台").wait_for()
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    await screenshot(page, "01-sign-in")

    # a wrong password is refused with a visible, announced message
    await page.get_by_label("手机号或邮箱").fill(owner.phone)
    await page.get_by_label("密码").fill("wrong-password")
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("alert").wait_for()

    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("heading", name="选择商户和门店").wait_for()
    # the only merchant is chosen for the user
    assert await page.get_by_role("radio", name=re.compile("老王面馆")).is_checked()
    await choose_shop(page, shop)
    await screenshot(page, "02-counter-zh")

    # the input has focus so a clerk (or a keyboard-wedge scanner) can type at once
    focused = await page.evaluate("document.activeElement.name")
    assert focused == "code"

    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Counter").wait_for()
    assert await page.evaluate("document.documentElement.lang") == "en"
    await (
        page.get_by_role("link", name="Change merchant/shop")
        .or_(page.get_by_title("Change merchant/shop"))
        .first.wait_for()
    )
    await screenshot(page, "03-counter-en")

    # the choice survives a reload: the page is usable again at once
    await page.reload()
    await page.get_by_role("heading", name="Counter").wait_for()
    await page.get_by_role("button", name="中文").click()
    await page.get_by_role("heading", name="收银台核销").wait_for()

    await page.get_by_role("link", name="老王面馆 · 静安店").click()
    await page.get_by_role("heading", name="选择商户和门店").wait_for()
    await screenshot(page, "04-choose")


async def test_unknown_code_shows_a_clear_failure(client: ApiClient, page: Any) -> None:
    owner, _, shop = await owner_with_shop(client)
    await open_counter(page, owner.phone, shop)

    await page.get_by_label("券码").fill("zzzz-zzzz-zz9")
    await page.get_by_role("button", name="查询").click()
    result = await result_state(page, "refused", "failed")
    alert = result.get_by_role("alert")
    await alert.wait_for()
    assert "不能核销" in await alert.inner_text()
    await screenshot(page, "05-counter-unknown-code")

    # "next customer" clears the state and puts the focus back into the code field
    await result.get_by_role("button", name="下一位顾客").click()
    await result_state(page, "idle")
    assert await page.evaluate("document.activeElement.name") == "code"


@pytest.mark.parametrize(
    ("name", "viewport"), [("landscape", TABLET_LANDSCAPE), ("portrait", TABLET_PORTRAIT)]
)
async def test_counter_layout_on_a_tablet(
    client: ApiClient, page: Any, name: str, viewport: dict[str, int]
) -> None:
    owner, _, shop = await owner_with_shop(client)
    await page.set_viewport_size(viewport)
    await open_counter(page, owner.phone, shop)
    await page.get_by_label("券码").fill("ABCD-EFGH-JK0")
    await page.get_by_role("button", name="查询").click()
    await result_state(page, "refused", "failed")

    layout = await page.evaluate(
        """() => {
          const box = (sel) => document.querySelector(sel).getBoundingClientRect();
          const targets = [...document.querySelectorAll('button, a, input, select, .segment span')]
            .filter((el) => el.offsetParent !== null && !el.closest('.sr-only'))
            .filter((el) => !(el.type === 'radio' && el.closest('.segment')))
            .map((el) => ({ text: el.textContent || el.name,
                            h: el.getBoundingClientRect().height }));
          return {
            overflow: document.documentElement.scrollWidth > window.innerWidth,
            lookup: box('button[type=submit]'),
            input: box('input[name=code]'),
            result: box('#counter-result'),
            small: targets.filter((t) => t.h < 44),
          };
        }"""
    )
    assert not layout["overflow"], "the counter scrolls sideways"
    assert layout["lookup"]["height"] >= 60
    assert layout["input"]["bottom"] <= viewport["height"]
    assert not layout["small"], f"touch targets under 44px: {layout['small']}"
    if name == "landscape":  # side by side: input left, result right, both on screen
        assert layout["result"]["left"] >= layout["input"]["right"]
        assert layout["result"]["top"] < viewport["height"]
    else:  # stacked: the result below the input
        assert layout["result"]["top"] >= layout["input"]["bottom"]
    await screenshot(page, f"06-counter-{name}")


async def test_console_pages_say_when_a_capability_is_missing(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    """Customers and campaign pages render (or say "not available") without breaking."""
    owner, _, shop = await owner_with_shop(client)
    await open_counter(page, owner.phone, shop)
    await page.get_by_role("link", name="顾客").click()
    await page.get_by_role("heading", name="顾客").wait_for()
    await page.locator(".table-area .loading").wait_for(state="detached")
    await screenshot(page, "07-customers")
    await page.get_by_role("link", name="活动", exact=True).click()
    await page.get_by_role("heading", name="活动", exact=True).wait_for()
    await page.locator(".loading").wait_for(state="detached")
    await screenshot(page, "08-campaigns")


# -- with the coupons package -------------------------------------------------------------


async def published_campaign(client: ApiClient, owner: Actor, merchant_id: str) -> dict:
    now = datetime.now(UTC)
    r = await client.post(
        f"/v1/merchants/{merchant_id}/campaigns",
        json={
            "name": "开业立减5元",
            "discount": {"kind": "amount_off", "value": {"amount": 500, "currency": "CNY"}},
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=7)).isoformat(),
            "total_quantity": 100,
            "per_user_limit": 5,
            "audience": {"kind": "public"},
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    campaign = r.json()
    r = await client.post(f"/v1/campaigns/{campaign['id']}/publish", headers=owner.headers)
    assert r.status_code in (200, 201), r.text
    return campaign  # type: ignore[no-any-return]


async def claim(client: ApiClient, consumer: Actor, campaign_id: str) -> dict:
    r = await client.post(f"/v1/campaigns/{campaign_id}/claim", headers=consumer.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_typed_code_lookup_confirm_success_then_already_redeemed(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require(*COUPON_ROUTES)
    owner, merchant, shop = await owner_with_shop(client)
    campaign = await published_campaign(client, owner, merchant["id"])
    consumer = await client.register(name="李女士")
    coupon = await claim(client, consumer, campaign["id"])

    await open_counter(page, owner.phone, shop)
    await page.get_by_label("券码").fill(coupon["code"].lower())
    await page.get_by_role("button", name="查询").click()
    result = await result_state(page, "lookup")
    text = await result.inner_text()
    assert "开业立减5元" in text and "5.00" in text
    await screenshot(page, "10-counter-lookup")

    # confirm: exactly the key the page generated goes with the request
    async with page.expect_request("**/v1/counter/redeem") as sent:
        await page.get_by_role("button", name="确认核销").click()
    assert (await sent.value).headers.get("idempotency-key")
    result = await result_state(page, "success")
    assert "核销成功" in await result.inner_text()
    await screenshot(page, "11-counter-success")

    # the same code again: refused, saying when and where it was redeemed
    await result.get_by_role("button", name="下一位顾客").click()
    await page.get_by_label("券码").fill(coupon["code"])
    await page.get_by_role("button", name="查询").click()
    result = await result_state(page, "refused", "failed")
    text = await result.inner_text()
    assert re.search(r"已于 .*\d{2}:\d{2} 在 静安店 核销", text), text
    assert "优惠券已核销" in text
    await screenshot(page, "12-counter-already-redeemed")

    live_server.require("/v1/campaigns/{campaign_id}/stats")
    await page.goto(f"/console/#/campaigns/{campaign['id']}")
    await page.get_by_role("heading", name="转化漏斗").wait_for()
    assert await page.locator("svg.chart-funnel").count() == 1
    assert await page.locator("svg.chart-bars").count() == 1
    kpis = await page.locator(".kpis").inner_text()
    assert "1" in kpis
    await screenshot(page, "13-campaign-results")


async def test_redeem_retry_after_network_failure_reuses_the_key(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require(*COUPON_ROUTES)
    owner, merchant, shop = await owner_with_shop(client)
    campaign = await published_campaign(client, owner, merchant["id"])
    consumer = await client.register()
    coupon = await claim(client, consumer, campaign["id"])
    await open_counter(page, owner.phone, shop)
    await page.get_by_label("券码").fill(coupon["code"])
    await page.get_by_role("button", name="查询").click()
    await result_state(page, "lookup")

    keys: list[str] = []

    async def drop_after_server(route: Any) -> None:
        # the server redeems, but the answer is lost on the way back (the tablet's Wi-Fi dropped)
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/v1/counter/redeem", drop_after_server)
    await page.get_by_role("button", name="确认核销").click()
    result = await result_state(page, "uncertain")
    await screenshot(page, "14-counter-uncertain")
    await result.get_by_role("button", name="重试").click()
    result = await result_state(page, "success")
    assert len(keys) == 2 and keys[0] == keys[1]


async def test_camera_scan_redeems(
    client: ApiClient, page: Any, live_server: LiveServer, camera_file: Path
) -> None:
    live_server.require(*COUPON_ROUTES, "/v1/coupons/{coupon_id}/qr.png")
    owner, merchant, shop = await owner_with_shop(client)
    campaign = await published_campaign(client, owner, merchant["id"])
    consumer = await client.register()
    coupon = await claim(client, consumer, campaign["id"])
    r = await client.get(f"/v1/coupons/{coupon['id']}/qr.png", headers=consumer.headers)
    assert r.status_code == 200, r.text
    # the fake camera reads this file when the scanner opens it
    write_camera(Image.open(io.BytesIO(r.content)), camera_file)

    await open_counter(page, owner.phone, shop)
    async with page.expect_request("**/v1/counter/lookup") as sent:
        await page.get_by_role("button", name="扫码").click()
    body = (await sent.value).post_data_json
    assert "qr" in body or body.get("code") == coupon["code"]
    await result_state(page, "lookup")
    await screenshot(page, "15-counter-scanned")
    await page.get_by_role("button", name="确认核销").click()
    await result_state(page, "success")


# -- with the customers package -----------------------------------------------------------


async def test_customers_list_and_detail(
    client: ApiClient,
    page: Any,
    live_server: LiveServer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    live_server.require(
        "/v1/merchants/{merchant_id}/customers",
        "/v1/merchants/{merchant_id}/customers/{customer_id}",
    )
    from customers.service import record_activity

    owner, merchant, shop = await owner_with_shop(client)
    names = ["张三", "李四", "王五"]
    async with sessionmaker() as session, session.begin():
        for i, name in enumerate(names):
            person = await client.register(name=name)
            await record_activity(
                session,
                merchant_id=uuid.UUID(merchant["id"]),
                user_id=uuid.UUID(person.user_id),
                kind="coupon_redeemed",
                at=datetime.now(UTC) - timedelta(days=i),
                spend=1000 * (i + 1),
            )

    await open_counter(page, owner.phone, shop)
    await page.get_by_role("link", name="顾客").click()
    table = page.locator("table.data")
    await table.wait_for()
    assert await table.locator("tbody tr").count() == 3
    await screenshot(page, "20-customers")

    await page.get_by_label("排序").select_option("total_spend")
    await page.wait_for_url(re.compile("sort=total_spend"))
    await table.locator("tbody tr").first.wait_for()
    assert "王五" in await table.locator("tbody tr").first.inner_text()

    await page.get_by_label("搜索姓名或手机号").fill("李四")
    await page.get_by_role("button", name="筛选").click()
    await page.wait_for_url(re.compile("q=%E6%9D%8E%E5%9B%9B|q=李四"))
    await page.get_by_role("link", name="李四").click()
    await page.get_by_role("heading", name="李四").wait_for()
    await page.get_by_role("heading", name="时间线").wait_for()
    await screenshot(page, "21-customer-detail")


# -- with the memberships package ---------------------------------------------------------


async def test_member_card_purchase_earns_points(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require(
        "/v1/merchants/{merchant_id}/programs",
        "/v1/programs/{program_id}/join",
        "/v1/counter/transactions",
    )
    owner, merchant, shop = await owner_with_shop(client)
    r = await client.post(
        f"/v1/merchants/{merchant['id']}/programs",
        json={
            "name": "老王面馆会员",
            "tiers": [
                {
                    "code": "basic",
                    "name": "普通会员",
                    "rank": 0,
                    "earn": {"points_per_currency_unit": 1},
                }  # fmt: skip
            ],
            "redeem": {"points_per_currency_unit": 100},
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    consumer = await client.register(name="赵六")
    r = await client.post(f"/v1/programs/{r.json()['id']}/join", headers=consumer.headers)
    assert r.status_code == 201, r.text
    card_number = r.json()["card_number"]

    await open_counter(page, owner.phone, shop)
    await page.get_by_label("券码").fill(card_number)
    await page.get_by_role("button", name="查询").click()
    await confirm_member(page)
    await page.get_by_label("金额（元）").fill("25.50")
    await page.get_by_role("button", name="确认交易").click()
    result = await result_state(page, "success")
    text = await result.inner_text()
    assert "积分变动 +25" in text and "普通会员" in text, text
    await screenshot(page, "16-counter-card-purchase")


async def test_member_count_card_use_at_the_counter(
    client: ApiClient, page: Any, live_server: LiveServer, test_settings: Any
) -> None:
    """次卡: the clerk picks the product, the pass goes one use down."""
    from tests.memberships.helpers import bought_pass

    live_server.require(
        "/v1/programs/{program_id}/count-products",
        "/v1/cards/{card_id}/count-passes",
        "/v1/counter/transactions",
    )
    owner, merchant, shop = await owner_with_shop(client)
    r = await client.post(
        f"/v1/merchants/{merchant['id']}/programs",
        json={
            "name": "老王理发会员",
            "tiers": [{"code": "basic", "name": "普通会员", "rank": 0,
                       "earn": {"points_per_currency_unit": 1}}],
            "redeem": {"points_per_currency_unit": 100},
        },
        headers=owner.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    program_id = r.json()["id"]
    r = await client.post(
        f"/v1/programs/{program_id}/count-products",
        json={"name": "洗剪吹10次卡", "uses": 10, "price": {"amount": 40000, "currency": "CNY"}},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    product_id = r.json()["id"]
    consumer = await client.register(name="钱七")
    r = await client.post(f"/v1/programs/{program_id}/join", headers=consumer.headers)
    assert r.status_code == 201, r.text
    card = r.json()
    await bought_pass(client, test_settings, consumer, card["id"], product_id)

    await open_counter(page, owner.phone, shop)
    await page.get_by_label("券码").fill(card["card_number"])
    await page.get_by_role("button", name="查询").click()
    await confirm_member(page)
    await page.get_by_text("次卡核销").click()
    # the member's own usable passes (the card was looked up and confirmed)
    await page.get_by_label("使用哪张次卡").select_option(label="洗剪吹10次卡 · 剩余 10 次")
    await page.get_by_role("button", name="确认交易").click()
    result = await result_state(page, "success")
    text = await result.inner_text()
    assert "洗剪吹10次卡：剩余 9 次" in text, text
    await screenshot(page, "17-counter-count-card-use")
