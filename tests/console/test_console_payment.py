"""Issue 20 point 7 in Chromium: the counter sells a top-up, shows the payment's QR (drawn in the
page) and turns "paid" by itself when the provider's callback arrives (it polls
GET /v1/payments/{reference}).

End to end, as in `make run`: the live server has the WeChat Pay stand-in's credentials
(tests/console/conftest.py), so the console's sale request goes through the API and the real
SDK to the stand-in, the QR is the stand-in's `code_url`, the test plays the customer paying on
the stand-in's development page, and the stand-in's signed callback reaches the live server.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import qrcode

from tests.console.helpers import (
    PHONE,
    LiveServer,
    confirm_member,
    no_sideways_scroll,
    open_counter,
    owner_with_shop,
    result_state,
    screenshot,
)
from tests.helpers import ApiClient

QUIET = 4  # the page's quiet zone, in modules


def qr_matrix(path_d: str) -> list[list[bool]]:
    """The module matrix of the page's QR (one `M x y h1v1h-1z` per dark module)."""
    cells = [
        (int(x) - QUIET, int(y) - QUIET) for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", path_d)
    ]
    size = max(max(x, y) for x, y in cells) + 1
    matrix = [[False] * size for _ in range(size)]
    for x, y in cells:
        matrix[y][x] = True
    return matrix


def encodes(matrix: list[list[bool]], text: str) -> bool:
    """True when `matrix` is `text`'s QR code (ECC M, any mask): the reference encoder agrees."""
    version = (len(matrix) - 17) // 4
    for mask in range(8):
        reference = qrcode.QRCode(
            version=version,
            error_correction=qrcode.constants.ERROR_CORRECT_M,
            border=0,
            mask_pattern=mask,
        )
        reference.add_data(text, optimize=0)
        reference.make(fit=False)
        if reference.get_matrix() == matrix:
            return True
    return False


async def member_with_card(client: ApiClient, owner: Any, merchant_id: str) -> tuple[Any, dict]:
    r = await client.post(
        f"/v1/merchants/{merchant_id}/programs",
        json={
            "name": "老王面馆会员",
            "tiers": [{"code": "basic", "name": "普通会员", "rank": 0,
                       "earn": {"points_per_currency_unit": 1}}],
            "redeem": {"points_per_currency_unit": 100},
        },
        headers=owner.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    member = await client.register(name="孙八")
    r = await client.post(f"/v1/programs/{r.json()['id']}/join", headers=member.headers)
    assert r.status_code == 201, r.text
    return member, r.json()


async def card_at_counter(page: Any, owner: Any, shop: dict, card: dict) -> None:
    """The counter open on `shop`, the member's card typed, looked up and confirmed."""
    await open_counter(page, owner.phone, shop)
    await page.get_by_text("会员卡", exact=True).click()
    await page.get_by_label("会员卡号").fill(card["card_number"])
    await page.get_by_role("button", name="查询").click()
    await confirm_member(page)


async def customer_pays(page: Any, standin_url: str, reference: str) -> None:
    """The customer scans the QR and pays: the stand-in's development page, in another tab."""
    customer = await page.context.new_page()
    try:
        await customer.goto(f"{standin_url}/standin/pay/{reference}")
        await customer.get_by_text("NOTPAY").wait_for()
        await customer.get_by_role("button", name="确认支付 / Pay").click()
        await customer.get_by_text(f"paid: {reference}").wait_for()
    finally:
        await customer.close()


async def test_top_up_sold_qr_shown_and_paid_when_the_callback_arrives(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require(
        "/v1/counter/topups", "/v1/payments/{reference}", "/v1/payments/{provider_name}/callback"
    )
    wechatpay = live_server.standins.wechatpay
    assert wechatpay is not None, "the live server runs with the WeChat Pay stand-in"
    standin_url = live_server.standins.servers["wechatpay"].base_url
    owner, merchant, shop = await owner_with_shop(client)
    member, card = await member_with_card(client, owner, merchant["id"])

    await card_at_counter(page, owner, shop, card)
    await page.get_by_text("充值", exact=True).click()
    await page.get_by_label("充值金额（元）").fill("123.45")
    await page.get_by_text("微信支付").click()
    async with page.expect_response("**/v1/counter/topups") as answered:
        await page.get_by_role("button", name="生成收款码").click()
    sale = await answered.value
    assert sale.status == 201, await sale.text()
    assert sale.request.headers.get("idempotency-key"), "the sale carries an Idempotency-Key"
    assert sale.request.post_data_json == {
        "card": card["card_number"],
        "shop_id": shop["id"],
        "amount": {"amount": 12345, "currency": "CNY"},
        "payment": {"provider": "wechatpay", "method": "native"},
    }
    payment = (await sale.json())["payment"]
    reference = payment["reference"]
    # the API asked WeChat Pay (the stand-in) for a Native order: its code_url is the QR
    assert ("POST", "/v3/pay/transactions/native") in wechatpay.requests
    assert wechatpay.transactions[reference]["amount"]["total"] == 12345
    assert payment["provider"] == "wechatpay"
    assert payment["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    result = await result_state(page, "paying")
    assert "请顾客用微信支付扫码付款" in await result.inner_text()
    # the QR drawn in the page is the payment's, module for module
    path_d = await result.locator("svg.qr path").get_attribute("d")
    assert encodes(qr_matrix(path_d), payment["code_url"])
    await screenshot(page, "80-counter-topup-qr")
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    assert r.json()["balance"]["amount"] == 0  # nothing credited before the customer pays

    # the customer pays: WeChat Pay's signed callback reaches the API, the page turns "paid"
    await customer_pays(page, standin_url, reference)
    result = await result_state(page, "success")
    text = await result.inner_text()
    assert "已收款" in text and "123.45" in text, text
    await screenshot(page, "81-counter-topup-paid")
    [note] = [n for n in wechatpay.outbox if n.url.startswith(live_server.url)][-1:]
    # answered as WeChat Pay expects: 200 or 204, no body needed
    assert note.answered in (200, 204) and note.url.endswith("/v1/payments/wechatpay/callback")
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    assert r.json()["balance"]["amount"] == 12345

    # a phone-sized screen shows the whole QR
    await result.get_by_role("button", name="下一位顾客").click()
    await page.set_viewport_size(PHONE)
    await page.get_by_label("会员卡号").fill(card["card_number"])
    await page.get_by_role("button", name="查询").click()
    await confirm_member(page)
    await page.get_by_text("充值", exact=True).click()
    await page.get_by_label("充值金额（元）").fill("123.45")
    await page.get_by_role("button", name="生成收款码").click()
    qr = (await result_state(page, "paying")).locator("svg.qr")
    box = await qr.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    await no_sideways_scroll(page)
    await screenshot(page, "82-counter-topup-qr-390")


async def test_count_card_sold_with_alipay_and_active_when_the_callback_arrives(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    """The other provider and the other sale: a count card (次卡) sold with Alipay's precreate
    QR; the customer pays at the Alipay stand-in, its RSA2-signed notify reaches the live
    server, the page turns paid and the pass is usable."""
    live_server.require("/v1/counter/count-passes", "/v1/programs/{program_id}/count-products")
    alipay = live_server.standins.alipay
    assert alipay is not None, "the live server runs with the Alipay stand-in"
    owner, merchant, shop = await owner_with_shop(client)
    member, card = await member_with_card(client, owner, merchant["id"])
    r = await client.post(
        f"/v1/programs/{card['program_id']}/count-products",
        json={"name": "洗剪吹5次卡", "uses": 5, "price": {"amount": 20000, "currency": "CNY"}},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    product = r.json()

    await card_at_counter(page, owner, shop, card)
    await page.get_by_text("购买次卡").click()
    await page.get_by_label("要卖的次卡").select_option(product["id"])
    await page.get_by_text("支付宝").click()
    async with page.expect_response("**/v1/counter/count-passes") as answered:
        await page.get_by_role("button", name="生成收款码").click()
    sale = await answered.value
    assert sale.status == 201, await sale.text()
    assert sale.request.post_data_json["payment"] == {"provider": "alipay", "method": "precreate"}
    payment = (await sale.json())["payment"]
    assert payment["provider"] == "alipay" and payment["code_url"].startswith(
        "https://qr.alipay.com/"
    )
    result = await result_state(page, "paying")
    assert "请顾客用支付宝扫码付款" in await result.inner_text()
    path_d = await result.locator("svg.qr path").get_attribute("d")
    assert encodes(qr_matrix(path_d), payment["code_url"])

    standin_url = live_server.standins.servers["alipay"].base_url
    async with httpx.AsyncClient() as customer:  # the customer scans and pays
        paid = await customer.post(f"{standin_url}/standin/pay/{payment['reference']}")
    assert paid.status_code == 200, paid.text
    result = await result_state(page, "success")
    assert "已收款" in await result.inner_text()
    await screenshot(page, "83-counter-count-card-alipay-paid")
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    [bought] = r.json()["count_passes"]
    assert bought["uses_left"] == 5


async def test_selling_a_count_card_when_none_is_on_sale_says_so(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require("/v1/counter/topups", "/v1/counter/count-passes")
    owner, merchant, shop = await owner_with_shop(client)
    _, card = await member_with_card(client, owner, merchant["id"])
    await card_at_counter(page, owner, shop, card)
    await page.get_by_text("购买次卡").click()
    await page.get_by_text("本店没有在售的次卡。").wait_for()
    assert await page.get_by_role("button", name="生成收款码").is_disabled()
