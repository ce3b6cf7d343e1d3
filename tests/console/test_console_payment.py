"""Issue 20 point 7 in Chromium: the counter sells a top-up, shows the payment's QR (drawn in the
page) and turns "paid" by itself when the provider's callback arrives (it polls
GET /v1/payments/{reference}).

The first test answers the sale request (`POST /v1/counter/topups`) in the browser with a real
top-up the member started through the fake provider (the live server has no WeChat Pay
credentials): the payment, its reference, the QR, the polling and the signed callback are real.
"""

from __future__ import annotations

import re
from typing import Any

import qrcode

from core.settings import Settings
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
from tests.memberships.test_topups import callback, post_callback

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


async def test_top_up_sold_qr_shown_and_paid_when_the_callback_arrives(
    client: ApiClient, page: Any, live_server: LiveServer, test_settings: Settings
) -> None:
    live_server.require("/v1/payments/{reference}", "/v1/payments/{provider_name}/callback")
    owner, merchant, shop = await owner_with_shop(client)
    member, card = await member_with_card(client, owner, merchant["id"])
    # a real pending top-up and its payment (what the counter route will answer)
    r = await client.post(
        f"/v1/cards/{card['id']}/topups",
        json={"amount": {"amount": 12345, "currency": "CNY"}},
        headers=member.headers,
    )
    assert r.status_code == 201, r.text
    topup = r.json()
    reference = topup["payment"]["reference"]
    qr_text = topup["payment"].get("code_url") or topup["payment"].get("pay_url")
    assert qr_text, topup

    sent: list[tuple[str, dict[str, Any]]] = []

    async def counter_topup(route: Any) -> None:
        sent.append(
            (route.request.headers.get("idempotency-key", ""), route.request.post_data_json)
        )
        await route.fulfill(status=201, content_type="application/json", json=topup)

    await page.route("**/v1/counter/topups", counter_topup)
    await open_counter(page, owner.phone, shop)
    await page.get_by_text("会员卡", exact=True).click()
    await page.get_by_label("会员卡号").fill(card["card_number"])
    await page.get_by_role("button", name="查询").click()
    await confirm_member(page)
    await page.get_by_text("充值", exact=True).click()
    await page.get_by_label("充值金额（元）").fill("123.45")
    await page.get_by_text("微信支付").click()
    async with page.expect_request(re.compile(rf"/v1/payments/{reference}$")):
        await page.get_by_role("button", name="生成收款码").click()
        result = await result_state(page, "paying")
    assert sent[0][0], "the sale carries an Idempotency-Key"
    assert sent[0][1] == {
        "card": card["card_number"],
        "shop_id": shop["id"],
        "amount": {"amount": 12345, "currency": "CNY"},
        "payment": {"provider": "wechatpay", "method": "native"},
    }
    # the provider named is the payment's (the tests' payments go through the fake provider)
    assert "请顾客用测试支付扫码付款" in await result.inner_text()
    # the QR drawn in the page is the payment's, module for module
    path_d = await result.locator("svg.qr path").get_attribute("d")
    assert encodes(qr_matrix(path_d), qr_text)
    await screenshot(page, "80-counter-topup-qr")

    # the customer pays: the provider's signed callback reaches the API, the page turns "paid"
    assert (await post_callback(client, *callback(test_settings, reference))).status_code == 200
    result = await result_state(page, "success")
    text = await result.inner_text()
    assert "已收款" in text and "123.45" in text, text
    await screenshot(page, "81-counter-topup-paid")
    r = await client.get(f"/v1/cards/{card['id']}", headers=member.headers)
    assert r.json()["balance"]["amount"] >= 12345

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


async def test_selling_a_count_card_when_none_is_on_sale_says_so(
    client: ApiClient, page: Any, live_server: LiveServer
) -> None:
    live_server.require("/v1/counter/topups", "/v1/counter/count-passes")
    owner, merchant, shop = await owner_with_shop(client)
    _, card = await member_with_card(client, owner, merchant["id"])
    await open_counter(page, owner.phone, shop)
    await page.get_by_text("会员卡", exact=True).click()
    await page.get_by_label("会员卡号").fill(card["card_number"])
    await page.get_by_role("button", name="查询").click()
    await confirm_member(page)
    await page.get_by_text("购买次卡").click()
    await page.get_by_text("本店没有在售的次卡。").wait_for()
    assert await page.get_by_role("button", name="生成收款码").is_disabled()
