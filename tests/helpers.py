"""Client helpers shared by tests: register, sign in, act as someone."""

from __future__ import annotations

import itertools
import random
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

from core.i18n import parse_accept_language

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


# What a person must never read in a refusal (issue 18 point 8): a field or enum name
# (`per_user_limit`, `valid_until`, `min_spend_not_met`) or money in minor units ("5000 CNY")
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
MINOR_UNITS = re.compile(r"\d\s*(?:CNY|HKD|USD|EUR)\b")


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def unreadable(body: dict[str, Any], language: str) -> list[str]:
    """Why a problem body or a lookup refusal ({code, title, detail}) is not for people in
    `language` (zh-CN or en); empty when it is. Pydantic's own 422 details (errors with a
    `type`) stay as FastAPI writes them for the en reader: they name the request's fields."""
    faults = []
    texts = {key: body.get(key) for key in ("title", "detail")}
    pydantic = body.get("code") == "validation_error" and any(
        isinstance(e, dict) and "type" in e for e in body.get("errors") or ()
    )
    for key, text in texts.items():
        if not isinstance(text, str) or not text:
            faults.append(f"no {key}")
            continue
        if language == "zh-CN" and not has_chinese(text):
            faults.append(f"{key} is not Chinese: {text!r}")
        if language == "en" and key == "title" and has_chinese(text):
            faults.append(f"{key} is not English: {text!r}")
        if MINOR_UNITS.search(text):
            faults.append(f"{key} shows money in minor units: {text!r}")
        if not (pydantic and key == "detail") and SNAKE_CASE.search(text):
            faults.append(f"{key} names an internal field or code: {text!r}")
    return faults


class ApiClient(httpx.AsyncClient):
    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        """Every problem body and lookup refusal a test sees is checked for its reader."""
        response = await super().send(request, **kwargs)
        media = response.headers.get("content-type", "")
        if media.startswith(("application/problem+json", "application/json")):
            await response.aread()
            language = parse_accept_language(request.headers.get("accept-language"))
            body = response.json() if response.content else None
            found = []
            if media.startswith("application/problem+json") and isinstance(body, dict):
                found = unreadable(body, language)
            elif isinstance(body, dict) and isinstance(body.get("refusal"), dict):
                found = unreadable(body["refusal"], language)
            assert not found, f"{request.method} {request.url.path}: {found} in {body}"
        return response

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
