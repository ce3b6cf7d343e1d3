"""A local stand-in of the JPush REST API v3 (`POST /v3/push`, `GET /v3/push/cid`) on loopback.

It checks what JPush checks: HTTP Basic auth with an app key and its master secret (401, error
1004 otherwise), a JSON body with `platform`, `audience` and a `notification` or `message`
(400, 1002/1003), registration ids (at most 1000), `options.time_to_live` within 10 days.

`cid` (JPush's guard against a caller's retries pushing twice) is JPush's to issue: "before
using cid you must get your cid pool" from `GET /v3/push/cid?count=n[&type=push|schedule]`,
which answers `{"cidlist": ["{appKey}-{uuid}", …]}` — at most 10 per call for an ordinary app
(a larger count is served as 10), 1000 for a VIP one; a cid is valid for one day. The stand-in
issues cids per app key and refuses (400, 1003) a push whose cid it did not issue, issued to
another app key, of type `schedule`, or older than a day. A cid that already pushed answers
the first push's `msg_id` and delivers nothing again (the stand-in's reading of "the result of
the first successful push is returned and nothing is pushed again").

It answers `{"sendno", "msg_id"}`, or 400 with error 1011 ("cannot find user by this
audience") when no registration id of the audience is known.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PLATFORMS = {"android", "ios", "winphone", "hmos", "quickapp"}
CID_TYPES = {"push", "schedule"}
CID_VALID_SECONDS = 24 * 3600
CID_MAX_ORDINARY, CID_MAX_VIP = 10, 1000


@dataclass(frozen=True)
class IssuedCid:
    app_key: str
    kind: str  # push | schedule
    at: float


@dataclass
class JPushStandin:
    app_key: str = "4f7aa1a1a1a1a1a1a1a1a1a1"
    master_secret: str = "d1d1d1d1d1d1d1d1d1d1d1d1"
    other_apps: dict[str, str] = field(default_factory=dict)  # more app key -> master secret
    vip: bool = False  # VIP apps get up to 1000 cids per call, others 10
    registered: set[str] = field(default_factory=set)  # registration ids JPush knows
    delivered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    issued: dict[str, IssuedCid] = field(default_factory=dict)  # every cid handed out
    cids: dict[str, str] = field(default_factory=dict)  # cid -> msg_id of its first push
    requests: int = 0  # pushes asked for
    cid_requests: int = 0  # cid pools asked for
    refused: list[int] = field(default_factory=list)  # error codes answered to pushes
    fail_next: list[int] = field(default_factory=list)  # HTTP statuses for the next pushes
    fail_next_cid: list[int] = field(default_factory=list)  # … for the next cid requests
    clock: Callable[[], float] = time.time
    _ids: Any = field(default_factory=lambda: itertools.count(18100000000000001))

    def error(self, status: int, code: int, message: str) -> Response:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    def app_of(self, authorization: str) -> str | None:
        """The app key the Basic credentials prove, None when they prove none."""
        scheme, _, encoded = authorization.partition(" ")
        if scheme != "Basic":
            return None
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        apps = {self.app_key: self.master_secret} | self.other_apps
        return key if key in apps and apps[key] == secret else None

    def issue_cids(self, authorization: str, count: str | None, kind: str | None) -> Response:
        self.cid_requests += 1
        if self.fail_next_cid:
            return self.error(self.fail_next_cid.pop(0), 1000, "server error")
        app = self.app_of(authorization)
        if app is None:
            return self.error(401, 1004, "Authen failed")
        try:
            wanted = int(count) if count is not None else 1
        except ValueError:
            return self.error(400, 1003, "count is invalid")
        kind = kind or "push"
        if wanted < 1 or kind not in CID_TYPES or (self.vip and wanted > CID_MAX_VIP):
            return self.error(400, 1003, "count or type is invalid")
        wanted = min(wanted, CID_MAX_VIP if self.vip else CID_MAX_ORDINARY)
        now = self.clock()
        cidlist = [f"{app}-{uuid.uuid4()}" for _ in range(wanted)]
        for cid in cidlist:
            self.issued[cid] = IssuedCid(app, kind, now)
        return JSONResponse({"cidlist": cidlist})

    def push(self, authorization: str, body: bytes) -> Response:
        self.requests += 1
        answer = self._push(authorization, body)
        if answer.status_code != 200:
            self.refused.append(json.loads(bytes(answer.body))["error"]["code"])
        return answer

    def _push(self, authorization: str, body: bytes) -> Response:
        if self.fail_next:
            return self.error(self.fail_next.pop(0), 1000, "server error")
        app = self.app_of(authorization)
        if app is None:
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
            issued = self.issued.get(cid) if isinstance(cid, str) else None
            if (
                issued is None
                or issued.app_key != app
                or issued.kind != "push"
                or self.clock() - issued.at > CID_VALID_SECONDS
            ):
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

    async def cid(request: Request) -> Response:
        return standin.issue_cids(
            request.headers.get("authorization", ""),
            request.query_params.get("count"),
            request.query_params.get("type"),
        )

    return Starlette(
        routes=[
            Route("/v3/push", push, methods=["POST"]),
            Route("/v3/push/cid", cid, methods=["GET"]),
        ]
    )
