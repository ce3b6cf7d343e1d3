from __future__ import annotations

import base64
import io

import zxingcpp
from PIL import Image

from memberships import render
from tests.helpers import ApiClient, assert_problem
from tests.memberships.helpers import Setup, join


def b64_png(size: tuple[int, int], colour: str) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


async def test_design_preview_and_member_card_image(client: ApiClient, setup: Setup) -> None:
    url = f"/v1/programs/{setup.program_id}/design"
    design = {
        "background_color": "#8b0000",
        "text_color": "#FFD700",
        "text_lines": ["充500送50", "全场会员九折"],
        "logo": b64_png((400, 300), "white"),
        "background_image": b64_png((1600, 1200), "#334455"),
    }
    r = await client.put(url, json=design, headers=setup.clerk.headers)
    assert_problem(r, 403, "forbidden")
    stranger = await client.register()
    assert_problem(
        await client.put(url, json=design, headers=stranger.headers), 404, "program_not_found"
    )
    r = await client.put(url, json=design, headers=setup.manager.headers)
    assert r.status_code == 200, r.text
    assert r.json()["has_logo"] and r.json()["background_color"] == "#8B0000"
    assert (await client.get(url)).json()["text_lines"] == ["充500送50", "全场会员九折"]

    r = await client.get(f"{url}/preview.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    preview = Image.open(io.BytesIO(r.content))
    assert preview.format == "PNG" and preview.size == render.CARD_SIZE

    member, card = await join(client, setup)
    for who in (member, setup.clerk):
        r = await client.get(f"/v1/cards/{card['id']}/image.png", headers=who.headers)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(r.content))
        assert image.size == (1080, 680)
        decoded = zxingcpp.read_barcodes(image)
        assert [d.text for d in decoded] == [card["card_number"]]


async def test_design_refuses_bad_images(client: ApiClient, setup: Setup) -> None:
    url = f"/v1/programs/{setup.program_id}/design"
    for body in (
        {"logo": "not base64!!"},
        {"logo": base64.b64encode(b"GIF89a not really").decode()},
        {"background_color": "red"},
    ):
        r = await client.put(url, json=body, headers=setup.owner.headers)
        assert r.status_code == 422, r.text


def test_font_renders_chinese_or_falls_back() -> None:
    font = render.font(40)
    assert font is render.font(40)  # cached
    if render.CJK_FONTS[0].exists():
        assert "CJK" in " ".join(str(x) for x in font.getname())  # type: ignore[union-attr]
