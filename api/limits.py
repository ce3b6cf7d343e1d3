"""Request body limits, applied before the body is read (issue 17, finding 6).

A 200 MB multipart upload without a token used to be read and spooled to disk before the 401,
and a 60 MB JSON body cost 100 MB of memory. Every request now has a body limit chosen by its
path: uploads a few MB, everything else a few hundred KB. A declared `Content-Length` over the
limit is answered 413 `payload_too_large` (problem+json) without reading a byte; a body without
one (chunked) is read up to the limit and refused as soon as it passes it.
"""

from __future__ import annotations

import re

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import problem
from core.i18n import localised

KB = 1024
MB = 1024 * KB
DEFAULT_LIMIT = 256 * KB

# (method, path pattern, limit): the routes that take files; anything else gets DEFAULT_LIMIT
ROUTE_LIMITS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    # shop photos: 10 MB file (merchants/images.py) plus the multipart envelope
    ("POST", re.compile(r"^/v1/shops/[^/]+/photos$"), 10 * MB + 64 * KB),
    # card design: base64 background (≤ 4 MB text) and logo (≤ 1 MB) in JSON
    ("PUT", re.compile(r"^/v1/programs/[^/]+/design$"), 5 * MB + 64 * KB),
    # a bulk issue names up to 10,000 users (~400 KB of JSON)
    ("POST", re.compile(r"^/v1/campaigns/[^/]+/issue$"), 512 * KB),
    # member books and physical card number lists (CSV/XLSX)
    ("POST", re.compile(r"^/v1/programs/[^/]+/physical-cards$"), 4 * MB + 64 * KB),
    ("POST", re.compile(r"^/v1/merchants/[^/]+/customers/import$"), 8 * MB + 64 * KB),
)


def body_limit(method: str, path: str) -> int:
    for route_method, pattern, limit in ROUTE_LIMITS:
        if method == route_method and pattern.match(path):
            return limit
    return DEFAULT_LIMIT


def _size(limit: int) -> str:
    """A body limit for people: `512 KB`, `4.1 MB` (the exact bytes are in `max_bytes`)."""
    if limit < MB:
        return f"{limit / KB:g} KB"
    return f"{round(limit / MB, 1):g} MB"


def _too_large(limit: int) -> Response:
    return problem(
        413,
        "payload_too_large",
        "The request body is too large",
        localised(
            f"请求内容不能超过 {_size(limit)}", f"This request may carry at most {_size(limit)}"
        ),
        extra={"max_bytes": limit},
        title_zh="请求内容过大",
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        declared = None
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                declared = value
                break
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # the server itself refuses a malformed length
            if too_large:
                await _too_large(limit)(scope, receive, send)
                return
            # the server delivers no more than the declared length
            await self.app(scope, receive, send)
            return
        # no declared length (chunked): read up to the limit here, then hand the body on
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # a disconnect: the app sees an empty body and the server drops it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
