"""Client helpers shared by tests: register, sign in, act as someone."""

from __future__ import annotations

import itertools
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

_phones = itertools.count(random.randint(0, 10_000) * 10_000)


def fresh_phone() -> str:
    """A valid, unique Chinese mobile number for this run."""
    return f"139{next(_phones) % 100_000_000:08d}"


@dataclass
class Actor:
    user_id: str
    phone: str
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class ApiClient(httpx.AsyncClient):
    async def register(
        self, phone: str | None = None, password: str = "s3cret-pass", name: str = "测试用户"
    ) -> Actor:
        phone = phone or fresh_phone()
        r = await self.post(
            "/v1/auth/register", json={"phone": phone, "password": password, "display_name": name}
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        tokens = await self.login(phone, password)
        return Actor(user_id, r.json()["phone"], tokens["access_token"], tokens["refresh_token"])

    async def login(self, username: str, password: str) -> dict[str, Any]:
        r = await self.post("/v1/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def merchant(self, owner: Actor, name: str = "老王面馆", **extra: Any) -> dict[str, Any]:
        r = await self.post("/v1/merchants", json={"name": name, **extra}, headers=owner.headers)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def staff(self, owner: Actor, merchant_id: str, role: str = "clerk") -> Actor:
        person = await self.register()
        r = await self.post(
            f"/v1/merchants/{merchant_id}/staff",
            json={"user_id": person.user_id, "role": role},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
        await self.accept_invitation(person, r.json()["id"])
        return person

    async def accept_invitation(self, person: Actor, invitation_id: str) -> dict[str, Any]:
        """Staff membership is an invitation the person accepts (nothing before that)."""
        r = await self.post(
            f"/v1/me/staff-invitations/{invitation_id}/accept", headers=person.headers
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


async def create_shop(
    client: ApiClient, owner: Actor, merchant_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "静安店",
        "category": "noodles",
        "location": {"lat": 31.2304, "lng": 121.4737},
        "address": "上海市静安区南京西路1号",
        "opening_hours": [{"day": d, "open": "09:00", "close": "21:30"} for d in range(7)],
        **fields,
    }
    r = await client.post(f"/v1/merchants/{merchant_id}/shops", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    for key in ("type", "title", "detail"):
        assert body.get(key), body
    return body


def zero_png(
    width: int, height: int, *, depth: int = 8, colour: int = 0, channels: int = 1
) -> bytes:
    """A complete, valid PNG of zeros (8-bit grey by default): a few KB on disk however large
    it claims to be, so an upload test reaches the project's own size checks (Pillow refuses
    only above ~89 MP, and a header-only file is refused as corrupt before any cap)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + width * channels * depth // 8)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def sms_settings(settings: Any, standin: Any, server: Any, **changes: object) -> Any:
    """`settings` with CORNER_SMS_* pointing at the Aliyun stand-in (`aliyun` fixture)."""
    from pydantic import SecretStr

    values = standin.settings(server.base_url) | changes
    values["sms_access_key_secret"] = SecretStr(str(values["sms_access_key_secret"]))
    return settings.model_copy(update=values)
