"""Steps the browser tests share (set up a merchant, sign in, choose the shop), the live
server's settings and viewports, screenshots and the fake camera's video (`write_y4m`).
Fixtures are in conftest.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from core.standins.dev import DevStandins
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


ROOT = Path(__file__).resolve().parents[2]


ARTIFACTS = ROOT / "tests" / "artifacts" / "console"


CHROMIUM = Path("/usr/bin/chromium")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


TABLET_LANDSCAPE = {"width": 1024, "height": 768}


TABLET_PORTRAIT = {"width": 768, "height": 1024}


@dataclass
class LiveServer:
    url: str
    paths: set[str]
    standins: DevStandins

    def require(self, *templates: str) -> None:
        """Fail (never skip) when a route the page calls is not served: a console page whose
        route disappeared is a defect, not a test to leave out."""
        missing = [t for t in templates if shape(t) not in self.paths]
        assert not missing, f"routes the console calls are not served: {', '.join(missing)}"


def shape(template: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", template)


async def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def write_y4m(image: Image.Image, path: Path, frames: int = 3) -> None:
    """A Y4M (YUV 4:2:0) video of `image` on a 640x480 white frame, for Chromium's fake camera."""
    width, height = 640, 480
    canvas = Image.new("RGB", (width, height), "white")
    picture = image.convert("RGB")
    picture.thumbnail((400, 400))
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + frame)
    tmp.replace(path)
