"""Steps the browser tests share: set up a merchant, sign in, choose the shop."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers import Actor, ApiClient, create_shop

PASSWORD = "s3cret-pass"
PHONE = {"width": 390, "height": 844}  # a phone, portrait


async def owner_with_shop(client: ApiClient, shop_name: str = "静安店") -> tuple[Actor, dict, dict]:
    owner = await client.register(name="王老板")
    merchant = await client.merchant(owner, name="老王面馆")
    shop = await create_shop(client, owner, merchant["id"], name=shop_name)
    return owner, merchant, shop


async def sign_in(page: Any, phone: str, password: str = PASSWORD) -> None:
    await page.goto("/console/")
    await page.get_by_label("手机号或邮箱").fill(phone)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("heading", name="选择商户和门店").wait_for()


async def choose_shop(page: Any, shop: dict) -> None:
    """Pick the shop: from the list when the server lists shops, otherwise by its ID."""
    shop_id = page.get_by_label("门店编号 (ID)")
    radio = page.get_by_role("radio", name=re.compile(re.escape(shop["name"])))
    await shop_id.or_(radio).first.wait_for()
    if await shop_id.count():
        await shop_id.fill(shop["id"])
        await page.get_by_role("button", name="查找门店").click()
        await page.locator(".alert-ok").wait_for()
    elif not await radio.is_checked():
        await radio.check()
    await page.get_by_role("button", name="进入收银台").click()
    await page.get_by_role("heading", name="收银台核销").wait_for()


async def open_counter(page: Any, phone: str, shop: dict) -> None:
    await sign_in(page, phone)
    await choose_shop(page, shop)


async def result_state(page: Any, *states: str) -> Any:
    selector = ", ".join(f'#counter-result[data-state="{s}"]' for s in states)
    result = page.locator(selector)
    await result.wait_for()
    return result


async def confirm_member(page: Any) -> Any:
    """A typed or scanned card is shown before charging (name, tier, points, balance, passes):
    the clerk confirms it is the customer's; returns the card form."""
    members = await result_state(page, "members")
    await members.get_by_role("button", name=re.compile("是本人|That.s them")).click()
    return await result_state(page, "lookup")


async def no_sideways_scroll(page: Any) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
