"""Photos (real decoding, EXIF stripped, thumbnails) and offerings."""

from __future__ import annotations

import io
import uuid

from PIL import Image

from merchants import images
from tests.helpers import ApiClient, assert_problem, create_shop


def _jpeg_with_exif(size: tuple[int, int] = (1200, 800)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = 6  # orientation: rotate 90° when shown
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 255, 128)).save(out, "PNG")
    return out.getvalue()


async def test_photo_upload_strips_exif_and_serves(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    clerk = await client.staff(owner, merchant["id"], "clerk")
    shop = await create_shop(client, owner, merchant["id"])
    url = f"/v1/shops/{shop['id']}/photos"
    r = await client.post(url, headers=owner.headers, data={"kind": "interior"},
                          files={"file": ("a.jpg", _jpeg_with_exif(), "image/jpeg")})  # fmt: skip
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["kind"] == "interior" and photo["content_type"] == "image/jpeg"
    assert (photo["width"], photo["height"]) == (800, 1200)  # EXIF orientation applied
    full = await client.get(photo["url"])
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    served = Image.open(io.BytesIO(full.content))
    assert served.size == (800, 1200)
    assert not served.getexif()
    thumb = await client.get(photo["thumbnail_url"])
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320

    r = await client.post(url, headers=owner.headers, data={"kind": "product"},
                          files={"file": ("b.png", _png((50, 40)), "image/png")})  # fmt: skip
    assert r.status_code == 201 and r.json()["content_type"] == "image/png"
    listed = (await client.get(url)).json()["items"]
    assert [p["kind"] for p in listed] == ["interior", "product"]

    bad = [
        ("not.jpg", b"hello, I am text", "image/jpeg"),
        ("trunc.jpg", _jpeg_with_exif()[:200], "image/jpeg"),
        ("a.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
    ]
    for name, data, content_type in bad:
        r = await client.post(
            url, headers=owner.headers, files={"file": (name, data, content_type)}
        )
        assert "limit" not in assert_problem(r, 422, "invalid_image")
    # 81 MP: under Pillow's own bomb limit (~89 MP), over our 40 MP cap, which refuses it
    r = await client.post(
        url, headers=owner.headers, files={"file": ("bomb.png", _png((9000, 9000)), "image/png")}
    )
    assert assert_problem(r, 422, "invalid_image")["limit"] == {"max_pixels": images.MAX_PIXELS}
    r = await client.post(url, headers=owner.headers, data={"kind": "selfie"},
                          files={"file": ("b.png", _png((5, 5)), "image/png")})  # fmt: skip
    assert_problem(r, 422, "validation_error")
    r = await client.post(url, headers=clerk.headers,
                          files={"file": ("b.png", _png((5, 5)), "image/png")})  # fmt: skip
    assert_problem(r, 403, "forbidden")
    assert_problem(await client.get(f"/v1/photos/{uuid.uuid4()}"), 404, "photo_not_found")


async def test_offerings(client: ApiClient) -> None:
    owner = await client.register()
    merchant = await client.merchant(owner)
    other_owner = await client.register()
    shop = await create_shop(client, owner, merchant["id"])
    url = f"/v1/shops/{shop['id']}/offerings"
    created = []
    for i in range(3):
        r = await client.post(url, headers=owner.headers, json={
            "name": f"牛肉面 {i}", "description": "大碗", "bookable": i == 2,
            "price": {"amount": 1800 + i, "currency": "CNY"}})  # fmt: skip
        assert r.status_code == 201, r.text
        created.append(r.json())
    assert created[0]["price"] == {"amount": 1800, "currency": "CNY"}
    page = (await client.get(url, params={"limit": 2})).json()
    assert [o["id"] for o in page["items"]] == [o["id"] for o in created[:2]]
    rest = (await client.get(url, params={"cursor": page["next_cursor"]})).json()
    assert [o["id"] for o in rest["items"]] == [created[2]["id"]] and rest["next_cursor"] is None

    for bad in ({"name": "x", "price": {"amount": 1.5}}, {"name": "x", "price": {"amount": -1}},
                {"name": "", "price": {"amount": 1}}):  # fmt: skip
        assert_problem(await client.post(url, headers=owner.headers, json=bad),
                       422, "validation_error")  # fmt: skip
    r = await client.post(
        url,
        headers=owner.headers,
        json={"name": "x", "price": {"amount": 1}, "photo_id": str(uuid.uuid4())},
    )
    assert_problem(r, 404, "photo_not_found")
    r = await client.post(
        url, headers=other_owner.headers, json={"name": "x", "price": {"amount": 1}}
    )
    assert_problem(r, 404, "shop_not_found")
