"""The console against the SPEC's shapes, with the API answers given by the test.

Sign-in and the shop choice go to the real server; the coupons/customers endpoints (built by
other packages) are answered here with the documented shapes, so the pages that show them
(lookup → confirm → success, "already redeemed at 14:03 at Shop X", camera scanning, customers,
campaign charts) are tested before those packages are deployed. test_console_browser.py runs
the same flows against the real endpoints once they exist.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import qrcode

from tests.console.helpers import (
    confirm_member,
    open_counter,
    owner_with_shop,
    result_state,
    screenshot,
    write_y4m,
)
from tests.helpers import ApiClient

SHANGHAI = ZoneInfo("Asia/Shanghai")


def problem(status: int, code: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "content_type": "application/problem+json",
        "body": json.dumps(
            {
                "type": f"https://corner.dev/problems/{code}",
                "title": title,
                "status": status,
                "detail": title,
                "code": code,
                **extra,
            }  # fmt: skip
        ),
    }


def ok(body: Any, status: int = 200) -> dict[str, Any]:
    return {"status": status, "content_type": "application/json", "body": json.dumps(body)}


def coupon(shop_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": str(uuid.uuid4()),
        "campaign_id": str(uuid.uuid4()),
        "code": "7K3M9QX2PT5",
        "code_display": "7K3M-9QX2-PT5",
        "status": "active",
        "valid_from": (now - timedelta(days=1)).isoformat(),
        "valid_until": (now + timedelta(days=6)).isoformat(),
        "campaign": {
            "name": "开业立减5元",
            "discount": {"kind": "amount_off", "value": {"amount": 500, "currency": "CNY"}},
            "shop_ids": [shop_id],
        },
    }


async def test_counter_lookup_confirm_and_already_redeemed(client: ApiClient, page: Any) -> None:
    owner, _, shop = await owner_with_shop(client)
    await open_counter(page, owner.phone, shop)
    the_coupon = coupon(shop["id"])
    discount = {"kind": "amount_off", "amount": {"amount": 500, "currency": "CNY"}}
    at_1403 = datetime.now(SHANGHAI).replace(hour=14, minute=3, second=0, microsecond=0)
    lookups = iter(
        [
            ok(
                {
                    "redeemable": True,
                    "refusal": None,
                    "coupon": the_coupon,
                    "discount": discount,
                    "order_amount": {"amount": 3800, "currency": "CNY"},
                    "pay_amount": {"amount": 3300, "currency": "CNY"},
                }
            ),  # fmt: skip
            problem(
                409,
                "coupon_already_redeemed",
                "优惠券已核销",
                redeemed_at=at_1403.isoformat(),
                shop_id=str(uuid.uuid4()),
                shop_name="徐汇店",
            ),  # fmt: skip
            ok(
                {
                    "redeemable": False,
                    "coupon": the_coupon,
                    "discount": discount,
                    "refusal": {
                        "code": "coupon_already_redeemed",
                        "title": "Coupon already redeemed",
                        "extra": {"redeemed_at": at_1403.isoformat(), "shop_id": shop["id"]},
                    },
                }
            ),  # fmt: skip
        ]
    )
    bodies: list[dict[str, Any]] = []
    keys: list[str] = []

    async def lookup(route: Any) -> None:
        bodies.append(route.request.post_data_json)
        await route.fulfill(**next(lookups))

    async def redeem(route: Any) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        await route.fulfill(
            **ok(
                {
                    "redemption_id": str(uuid.uuid4()),
                    "coupon": {**the_coupon, "status": "redeemed"},
                    "discount": discount,
                    "pay_amount": {"amount": 3300, "currency": "CNY"},
                    "redeemed_at": datetime.now(UTC).isoformat(),
                }
            )  # fmt: skip
        )

    await page.route("**/v1/counter/lookup", lookup)
    await page.route("**/v1/counter/redeem", redeem)

    await page.get_by_label("券码").fill("7k3m-9qx2 pt5")
    await page.get_by_label("订单金额（元，选填）").fill("38")
    await page.get_by_role("button", name="查询").click()
    result = await result_state(page, "lookup")
    text = await result.inner_text()
    assert "开业立减5元" in text and "7K3M-9QX2-PT5" in text and "33.00" in text
    # the code is sent normalised, the amount in minor units
    assert bodies[0] == {
        "shop_id": shop["id"],
        "code": "7K3M9QX2PT5",
        "order_amount": {"amount": 3800, "currency": "CNY"},
    }
    # the confirm button is big and has the focus: one tap (or Enter) confirms
    confirm = page.get_by_role("button", name="确认核销")
    assert (await confirm.bounding_box())["height"] >= 88
    assert await confirm.evaluate("el => el === document.activeElement")
    await screenshot(page, "30-contract-lookup")

    await confirm.click()
    result = await result_state(page, "success")
    assert "核销成功" in await result.inner_text()
    assert len(keys) == 1 and re.fullmatch(r"[0-9a-f-]{36}", keys[0])
    await screenshot(page, "31-contract-success")

    await result.get_by_role("button", name="下一位顾客").click()
    await page.get_by_label("券码").fill("7K3M9QX2PT5")
    await page.get_by_role("button", name="查询").click()
    result = await result_state(page, "refused")
    assert "该券已于 14:03 在 徐汇店 核销" in await result.inner_text()
    await screenshot(page, "32-contract-already-redeemed")

    # in English, and with the refusal inside a 200 lookup naming this shop by id
    await page.get_by_role("button", name="English").click()
    await page.get_by_label("Coupon code").fill("7K3M9QX2PT5")
    await page.get_by_role("button", name="Look up").click()
    result = await result_state(page, "refused")
    assert "Already redeemed at 14:03 at 静安店" in await result.inner_text()


async def test_camera_scan_sends_the_qr_payload(
    client: ApiClient, page: Any, camera_file: Path
) -> None:
    owner, _, shop = await owner_with_shop(client)
    payload = "c1.k1.eyJjIjoiN2YyYzliNjQiLCJ2IjoxfQ.Qm9ndXNTaWduYXR1cmVGb3JUZXN0cw"
    write_y4m(qrcode.make(payload, box_size=8, border=4).get_image(), camera_file)
    await open_counter(page, owner.phone, shop)
    sent: list[dict[str, Any]] = []

    async def lookup(route: Any) -> None:
        sent.append(route.request.post_data_json)
        await route.fulfill(
            **ok(
                {
                    "redeemable": True,
                    "coupon": coupon(shop["id"]),
                    "discount": {"kind": "gift", "amount": None, "gift_name": "卤蛋一个"},
                }
            )  # fmt: skip
        )

    await page.route("**/v1/counter/lookup", lookup)
    await page.get_by_role("button", name="扫码").click()
    await page.locator("video.scanner-video").wait_for()
    await page.screenshot(path=str(camera_file.parent / "scanning.png"))
    result = await result_state(page, "lookup")
    assert sent == [{"shop_id": shop["id"], "qr": payload}]
    assert "卤蛋一个" in await result.inner_text()
    # the camera is released once the code is read
    assert await page.locator(".scanner").is_hidden()
    await screenshot(page, "33-contract-scanned")


async def test_customers_and_campaign_results(client: ApiClient, page: Any) -> None:
    owner, merchant, shop = await owner_with_shop(client)
    await open_counter(page, owner.phone, shop)
    now = datetime.now(UTC)
    customers: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "user_id": str(uuid.uuid4()),
            "name": name,
            "phone": phone,
            "tier": tier,
            "tags": [],
            "visits": visits,
            "total_spend": {"amount": spend, "currency": "CNY"},
            "first_seen_at": (now - timedelta(days=90)).isoformat(),
            "last_visit_at": (now - timedelta(days=days)).isoformat(),
            "rfm_segment": None,
        }  # fmt: skip
        for name, phone, tier, visits, spend, days in [
            ("张三", "138****5678", "gold", 12, 128000, 1),
            ("李四", "139****0001", None, 3, 9900, 8),
        ]
    ]
    requested: list[str] = []

    async def customer_list(route: Any) -> None:
        requested.append(route.request.url)
        await route.fulfill(**ok({"items": customers, "next_cursor": "b3BhcXVl"}))

    detail = {
        **customers[0],
        "notes": None,
        "timeline": [
            {
                "id": "event:2",
                "kind": "coupon_redeemed",
                "at": now.isoformat(),
                "amount": {"amount": 500, "currency": "CNY"},
                "summary": "开业立减5元",
            },
            {"id": "event:1", "kind": "visit", "at": (now - timedelta(days=3)).isoformat()},
        ],  # fmt: skip
        "timeline_next_cursor": None,
    }
    base = f"/v1/merchants/{merchant['id']}"
    await page.route(re.compile(rf"{base}/customers(\?.*)?$"), customer_list)
    await page.route(
        re.compile(rf"{base}/customers/{customers[0]['id']}$"),
        lambda route: route.fulfill(**ok(detail)),
    )
    await page.route(
        re.compile(rf"{base}/segments(\?.*)?$"),
        lambda route: route.fulfill(
            **ok({"items": [{"id": str(uuid.uuid4()), "name": "沉睡顾客"}], "next_cursor": None})
        ),
    )

    await page.get_by_role("link", name="顾客").click()
    table = page.locator("table.data")
    await table.wait_for()
    assert await table.locator("tbody tr").count() == 2
    assert "1,280.00" in await table.inner_text()
    await (
        page.get_by_label("分组").locator("option", has_text="沉睡顾客").wait_for(state="attached")
    )
    await screenshot(page, "34-contract-customers")
    await page.get_by_label("排序").select_option("total_spend")
    await page.wait_for_url(re.compile("sort=total_spend"))
    # wait for the request itself: the address changes before the page fetches the next page
    async with page.expect_request(lambda r: "cursor=b3BhcXVl" in r.url) as next_page:
        await page.get_by_role("button", name="下一页").click()
    await page.wait_for_url(re.compile("cursor=b3BhcXVl"))
    await table.wait_for()
    url = (await next_page.value).url
    assert "sort=total_spend" in url and "cursor=b3BhcXVl" in url
    await page.get_by_role("link", name="张三").click()
    await page.get_by_role("heading", name="张三").wait_for()
    timeline = await page.locator("ol.timeline").inner_text()
    assert "开业立减5元" in timeline
    await screenshot(page, "35-contract-customer-detail")

    campaign_id = str(uuid.uuid4())
    days = [(now - timedelta(days=6 - i)).date().isoformat() for i in range(7)]
    stats = {
        "campaign_id": campaign_id, "timezone": "Asia/Shanghai", "issued": 200, "claimed": 150,
        "redeemed": 61, "reversed": 2, "expired": 10, "redemption_rate": 0.305,
        "by_day": [{"date": d, "issued": 30, "claimed": 20, "redeemed": r, "reversed": 0}
                   for d, r in zip(days, [3, 8, 12, 0, 9, 15, 14], strict=True)],
    }  # fmt: skip
    await page.route(
        re.compile(rf"{base}/campaigns(\?.*)?$"),
        lambda route: route.fulfill(
            **ok(
                {
                    "items": [{"id": campaign_id, "name": "开业立减5元", "status": "active"}],
                    "next_cursor": None,
                }
            )  # fmt: skip
        ),
    )
    await page.route(
        re.compile(rf"/v1/campaigns/{campaign_id}$"),
        lambda route: route.fulfill(**ok({"id": campaign_id, "name": "开业立减5元"})),
    )
    await page.route(
        re.compile(rf"/v1/campaigns/{campaign_id}/stats$"),
        lambda route: route.fulfill(**ok(stats)),
    )
    await page.get_by_role("link", name="活动", exact=True).click()
    await page.get_by_role("link", name=re.compile("开业立减5元")).click()
    await page.get_by_role("heading", name="转化漏斗").wait_for()
    funnel = page.get_by_role("img", name=re.compile("发放 200，领取 150，核销 61"))
    assert await funnel.count() == 1
    assert await page.locator("svg.chart-bars rect.bar-day").count() == 7
    assert "30.5%" in await page.locator(".rate").inner_text()
    await screenshot(page, "36-contract-campaign-results")


async def test_member_card_payment_with_pin(client: ApiClient, page: Any) -> None:
    owner, _, shop = await owner_with_shop(client)
    await open_counter(page, owner.phone, shop)
    answers = iter(
        [
            problem(403, "card_pin_invalid", "支付密码错误"),
            ok(
                {
                    "entry": {
                        "id": str(uuid.uuid4()),
                        "kind": "spend_balance",
                        "points_delta": 0,
                        "balance_delta": {"amount": -2550, "currency": "CNY"},
                    },
                    "card": {
                        "id": str(uuid.uuid4()),
                        "card_number": "6280000000000008",
                        "tier": {"code": "gold", "name": "金卡"},
                        "points": 120,
                        "balance": {"amount": 7450, "currency": "CNY"},
                    },
                }
            ),  # fmt: skip
        ]
    )
    sent: list[tuple[str, dict[str, Any]]] = []

    async def transaction(route: Any) -> None:
        sent.append((route.request.headers["idempotency-key"], route.request.post_data_json))
        await route.fulfill(**next(answers))

    await page.route("**/v1/counter/transactions", transaction)
    looked_up: list[dict[str, Any]] = []
    member_card = {
        "customer_id": str(uuid.uuid4()),
        "name": "钱七",
        "card": {
            "id": str(uuid.uuid4()),
            "card_number": "6280000000000008",
            "tier": {"code": "gold", "name": "金卡"},
            "points": 120,
            "balance": {"amount": 10000, "currency": "CNY"},
            "has_pin": True,
            "count_passes": [],
        },
    }

    async def card_lookup(route: Any) -> None:
        looked_up.append(route.request.post_data_json)
        await route.fulfill(**ok(member_card))

    await page.route("**/v1/counter/cards/lookup", card_lookup)
    # a Luhn-valid number typed in coupon mode switches to the card, shown before charging
    await page.get_by_label("券码").fill("6280 0000 0000 0008")
    await page.get_by_role("button", name="查询").click()
    members = await result_state(page, "members")
    facts = await members.inner_text()
    assert "钱七" in facts and "金卡" in facts and "¥100.00" in facts, facts
    await confirm_member(page)
    assert looked_up == [{"card": "6280000000000008", "shop_id": shop["id"]}]
    await page.get_by_text("余额支付").click()
    await page.get_by_label("金额（元）").fill("25.5")
    await page.get_by_label("支付密码（6 位）").fill("111111")
    await page.get_by_role("button", name="确认交易").click()
    result = await result_state(page, "failed")
    assert "支付密码错误" in await result.inner_text()

    await result.get_by_role("button", name="下一位顾客").click()
    await page.get_by_role("button", name="查询").click()
    await confirm_member(page)
    await page.get_by_text("余额支付").click()
    await page.get_by_label("金额（元）").fill("25.5")
    await page.get_by_label("支付密码（6 位）").fill("135790")
    await page.get_by_role("button", name="确认交易").click()
    result = await result_state(page, "success")
    assert "金卡" in await result.inner_text()
    await screenshot(page, "37-contract-card-success")
    assert [body for _, body in sent] == [
        {
            "card": "6280000000000008",
            "shop_id": shop["id"],
            "kind": "spend_balance",
            "amount": {"amount": 2550, "currency": "CNY"},
            "pin": pin,
        }  # fmt: skip
        for pin in ("111111", "135790")
    ]
    # two confirm attempts (the first was answered), two keys
    assert sent[0][0] != sent[1][0]
