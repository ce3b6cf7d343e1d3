"""Issue 17, finding 5 (and the JPEG comment of finding 9): decoding within a memory budget.

Before: a 300 KB 6300×6300 16-bit RGBA PNG (under the 40 MP cap) was decoded in full, ~440 MB;
uploads were decoded all at once; card design images were decoded before their format was
checked (any Pillow plugin, EPS included, parsed them); a JPEG comment survived into the
served photo.
"""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time

import pytest
from PIL import EpsImagePlugin, Image

from core import imaging
from merchants import images
from tests.helpers import ApiClient, assert_problem, create_shop, zero_png


async def _shop(client: ApiClient) -> tuple[object, str]:
    owner = await client.register()
    merchant = await client.merchant(owner)
    shop = await create_shop(client, owner, merchant["id"])
    return owner, shop["id"]


async def test_a_small_png_that_decodes_to_hundreds_of_mb_is_refused(client: ApiClient) -> None:
    owner, shop_id = await _shop(client)
    bomb = zero_png(6300, 6300, depth=16, colour=6, channels=4)
    assert len(bomb) < 1024 * 1024 and 6300 * 6300 < images.MAX_PIXELS
    r = await client.post(
        f"/v1/shops/{shop_id}/photos",
        headers=owner.headers,  # type: ignore[attr-defined]
        files={"file": ("bomb.png", bomb, "image/png")},
    )
    body = assert_problem(r, 422, "invalid_image")
    assert body["detail"] == "图片解码后将超过 64 MB"  # zh-CN: no Accept-Language
    r = await client.post(
        f"/v1/shops/{shop_id}/photos",
        headers={**owner.headers, "Accept-Language": "en"},  # type: ignore[attr-defined]
        files={"file": ("bomb.png", bomb, "image/png")},
    )
    body = assert_problem(r, 422, "invalid_image")
    assert "MB to decode" in body["detail"]
    # refused by our decoded-size budget (not by Pillow, not as corrupt data)
    assert body["limit"] == {"max_decoded_bytes": imaging.MAX_DECODED_BYTES}


def test_decoding_is_refused_before_any_pixel_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[object] = []
    original = Image.Image.load

    def load(self: Image.Image) -> object:
        loads.append(self)
        return original(self)

    monkeypatch.setattr(Image.Image, "load", load)
    with pytest.raises(imaging.ImageTooLarge):
        imaging.open_bounded(
            zero_png(6300, 6300, depth=16, colour=6, channels=4),
            formats=("PNG",),
            max_pixels=images.MAX_PIXELS,
        )
    assert loads == []


def test_jpeg_is_decoded_reduced_with_draft() -> None:
    out = io.BytesIO()
    Image.new("L", (5200, 5200), 128).save(out, "JPEG", quality=50)
    data = out.getvalue()
    budget = 10 * 1024 * 1024  # 5200² bytes would not fit, 2600² does
    with pytest.raises(imaging.ImageTooLarge):
        imaging.open_bounded(data, formats=("JPEG",), max_pixels=10**8, max_bytes=budget)
    image = imaging.open_bounded(
        data, formats=("JPEG",), max_pixels=10**8, max_bytes=budget, draft_to=(2560, 2560)
    )
    assert image.size == (2600, 2600)


async def test_uploads_are_decoded_two_at_a_time(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, shop_id = await _shop(client)
    lock, running, peak = threading.Lock(), [0], [0]
    original = images.process_image

    def slow(data: bytes) -> images.ProcessedImage:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.2)
            return original(data)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr("merchants.service.catalog.process_image", slow)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(out, "PNG")
    responses = await asyncio.gather(*(
        client.post(f"/v1/shops/{shop_id}/photos", headers=owner.headers,  # type: ignore[attr-defined]
                    files={"file": ("a.png", out.getvalue(), "image/png")})
        for _ in range(6)))  # fmt: skip
    assert [r.status_code for r in responses] == [201] * 6
    assert peak[0] <= imaging.DECODE_CONCURRENCY, peak[0]


async def test_card_design_images_are_checked_for_format_before_decoding(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    program = {"name": "卡", "tiers": [{"code": "r", "name": "r", "rank": 0,
               "discount_percent": 0, "earn": {"points_per_currency_unit": 1}}],
               "redeem": {"points_per_currency_unit": 100}}  # fmt: skip
    r = await client.post(
        f"/v1/merchants/{merchant['id']}/programs", json=program, headers=owner.headers
    )
    program_id = r.json()["id"]
    parsed: list[object] = []
    original = EpsImagePlugin.EpsImageFile._open

    def parse(self: EpsImagePlugin.EpsImageFile) -> None:
        parsed.append(self)
        original(self)

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", parse)
    postscript = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n%%EOF\n"
    for field in ("background_image", "logo"):
        r = await client.put(
            f"/v1/programs/{program_id}/design",
            json={field: base64.b64encode(postscript).decode()},
            headers=owner.headers,
        )
        assert_problem(r, 422, "image_invalid")
    assert parsed == [], "the PostScript reached Pillow's EPS plugin"


async def test_jpeg_comments_and_other_metadata_never_reach_served_photos(
    client: ApiClient,
) -> None:
    owner, shop_id = await _shop(client)
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (1, 2, 3)).save(
        out, "JPEG", comment=b"SECRET-COMMENT", icc_profile=b"SECRET-ICC" * 10
    )
    assert b"SECRET-COMMENT" in out.getvalue()
    r = await client.post(
        f"/v1/shops/{shop_id}/photos",
        headers=owner.headers,  # type: ignore[attr-defined]
        files={"file": ("c.jpg", out.getvalue(), "image/jpeg")},
    )
    assert r.status_code == 201, r.text
    for suffix in ("", "/thumbnail"):
        served = await client.get(f"/v1/photos/{r.json()['id']}{suffix}")
        assert served.status_code == 200
        assert b"SECRET-COMMENT" not in served.content
        assert b"SECRET-ICC" not in served.content
        assert Image.open(io.BytesIO(served.content)).info.get("comment") is None
