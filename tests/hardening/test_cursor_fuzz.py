"""Issue 17, finding 7: an edited cursor is 422 `invalid_cursor`, never a 500.

Every list operation with a `cursor` parameter is found in `/openapi.json` (a new list is
covered without touching this file) and called with cursors an attacker can write: base64 JSON
with every key the services read, holding values of the wrong types; a genuine cursor with its
body or tag altered; garbage. Before the fix `/v1/me/orders`, `/customers`, `/complaints`,
`/follow-ups` and `/segments` answered 500 to such values.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from core.pagination import encode_cursor
from tests.hardening.helpers import build_world
from tests.helpers import ApiClient

# every key a cursor of this code base holds, and values of every wrong type
KEYS = ("at", "id", "s", "v", "d", "rating", "rank", "due", "seq", "t", "key", "name")
WRONG: tuple[Any, ...] = (1, -1, 1.5, "x", "", None, [], {}, True, "2026-13-45", 10**40, "\x00")


def _unsigned(values: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).rstrip(b"=").decode()


def _edited_cursors() -> list[str]:
    cursors = [_unsigned({k: wrong for k in KEYS}) for wrong in WRONG]
    sorts = ("last_visit", "total_spend", "visits", "distance", "rating")
    cursors += [_unsigned({"s": sort, "v": {}, "d": "x", "id": 5}) for sort in sorts]
    genuine = encode_cursor({"at": "2026-01-01T00:00:00+00:00", "id": "0" * 32})
    body, _, tag = genuine.partition(".")
    cursors += [
        genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),  # tag altered
        _unsigned({"at": 1, "id": []}) + "." + tag,  # body swapped, old tag kept
        body,  # tag removed
        f"{body}.",
        ".",
        "!!!",
        "e30",  # {}
        "x" * 500,
        "测试",
    ]
    return cursors


async def test_every_cursor_parameter_refuses_edited_cursors(client: ApiClient) -> None:
    w = await build_world(client)
    spec = (await client.get("/openapi.json")).json()
    lists = [
        path
        for path, item in spec["paths"].items()
        if "get" in item and any(p["name"] == "cursor" for p in item["get"].get("parameters", []))
    ]
    assert len(lists) >= 15, lists
    extra = {"/v1/shops/nearby": {"lat": 31.2304, "lng": 121.4737}}
    refused = 0
    for path in lists:
        url = re.sub(r"\{(\w+)\}", lambda m: w.ids[m.group(1)], path)
        params = extra.get(path, {})
        caller = None
        for candidate in (w.owner, w.consumer):
            r = await client.get(url, params=params, headers=candidate.headers)
            if r.status_code == 200:
                caller = candidate
                break
        assert caller is not None, f"nobody may read {path}: extend this test"
        for cursor in _edited_cursors():
            r = await client.get(url, params={**params, "cursor": cursor}, headers=caller.headers)
            assert r.status_code < 500, f"{path} cursor={cursor!r}: {r.text[:300]}"
            assert r.status_code == 422, f"{path} cursor={cursor!r}: {r.status_code} {r.text}"
            assert r.json()["code"] in ("invalid_cursor", "validation_error"), r.text
            refused += 1
    assert refused == len(lists) * len(_edited_cursors())
