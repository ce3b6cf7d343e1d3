"""A local stand-in of the JPush REST API v3 push endpoint (`POST /v3/push`) on loopback.

It checks what JPush checks: HTTP Basic auth with the app key and master secret (401, error
1004 otherwise), a JSON body with `platform`, `audience` and a `notification` or `message`
(400, 1002/1003), registration ids (at most 1000), `options.time_to_live` within 10 days, and a
`cid` of the form `{appKey}-{uuid}`. It answers `{"sendno", "msg_id"}`, or 400 with error 1011
("cannot find user by this audience") when no registration id of the audience is known. A `cid`
seen before answers the first push's `msg_id` and delivers nothing again (the guard JPush
offers against a caller's retries; the stand-in's reading of it).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PLATFORMS = {"android", "ios", "winphone", "hmos", "quickapp"}


@dataclass
class JPushStandin:
    app_key: str = "4f7aa1a1a1a1a1a1a1a1a1a1"
    master_secret: str = "d1d1d1d1d1d1d1d1d1d1d1d1"
    registered: set[str] = field(default_factory=set)  # registration ids JPush knows
    delivered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cids: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    fail_next: list[int] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(18100000000000001))

    def error(self, status: int, code: int, message: str) -> Response:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    def push(self, authorization: str, body: bytes) -> Response:
        self.requests += 1
        if self.fail_next:
            return self.error(self.fail_next.pop(0), 1000, "server error")
        expected = base64.b64encode(f"{self.app_key}:{self.master_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return self.error(401, 1004, "Authen failed")
        try:
            payload = json.loads(body)
        except ValueError:
            return self.error(400, 1003, "Invalid JSON")
        if (
            not isinstance(payload, dict)
            or not payload.get("platform")
            or not payload.get("audience")
        ):
            return self.error(400, 1002, "Missing platform or audience")
        if not payload.get("notification") and not payload.get("message"):
            return self.error(400, 1002, "Missing notification or message")
        platform = payload["platform"]
        if platform != "all" and not (isinstance(platform, list) and set(platform) <= PLATFORMS):
            return self.error(400, 1003, "platform value is invalid")
        audience = payload["audience"]
        ids = audience.get("registration_id") if isinstance(audience, dict) else None
        if not isinstance(ids, list) or not ids or len(ids) > 1000:
            return self.error(400, 1003, "audience value is invalid")
        ttl = (payload.get("options") or {}).get("time_to_live", 86400)
        if not isinstance(ttl, int) or not 0 <= ttl <= 864000:
            return self.error(400, 1003, "time_to_live value is invalid")
        cid = payload.get("cid")
        if cid is not None:
            if not re.fullmatch(re.escape(self.app_key) + r"-[0-9a-f\-]{36}", str(cid)):
                return self.error(400, 1003, "cid is invalid")
            if cid in self.cids:
                return JSONResponse({"sendno": "0", "msg_id": self.cids[cid]})
        known = [i for i in ids if i in self.registered]
        if not known:
            return self.error(
                400, 1011, "cannot find user by this audience or has been inactive for more"
                " than 255 days",
            )  # fmt: skip
        msg_id = str(next(self._ids))
        if cid is not None:
            self.cids[cid] = msg_id
        for registration_id in known:
            self.delivered.setdefault(registration_id, []).append(payload)
        return JSONResponse({"sendno": "0", "msg_id": msg_id})


def create_app(standin: JPushStandin) -> Starlette:
    async def push(request: Request) -> Response:
        return standin.push(request.headers.get("authorization", ""), await request.body())

    return Starlette(routes=[Route("/v3/push", push, methods=["POST"])])
