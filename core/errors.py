"""Domain errors and their one mapping to RFC 9457 problem+json.

Services raise `DomainError` subclasses carrying a stable snake_case `code`; handlers here turn
them, validation failures, 404/405 and anything unexpected into problem documents.

A refusal's `detail` is for people: None (the title says it all) or a text made with
`core.i18n.localised` in both languages, money in yuan and times on the local clock, no field
names (tests/conftest.py fails a test that makes a DomainError with any other detail).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from core.i18n import localised, message, readable_detail

PROBLEM_CONTENT_TYPE = "application/problem+json"
log = structlog.get_logger("corner.errors")


class DomainError(Exception):
    """Base of every error a client can cause. Subclasses set status, code and titles.

    `title` is English; `title_zh` the zh-CN text (falls back to core.i18n, then English).
    """

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    title_zh: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}

    def localised_title(self) -> str:
        return message(self.code, self.title, self.title_zh)

    def texts(self) -> tuple[str, str]:
        """(title, detail) for the request's reader (problem bodies and counter lookups)."""
        title = self.localised_title()
        return title, readable_detail(self.detail, title)


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Forbidden"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class InvalidInput(DomainError):
    """A 422 raised by a service for input that passes the schema but breaks a rule."""

    status, code, title = 422, "validation_error", "The request is not valid"

    def __init__(
        self, detail: str | None = None, *, loc: list[str | int] | None = None, **kw: Any
    ) -> None:
        super().__init__(detail, **kw)
        if loc is not None:
            msg = detail or self.localised_title()
            self.extra.setdefault("errors", [{"loc": loc, "msg": msg}])


class InvalidCursor(DomainError):
    status, code, title = 422, "invalid_cursor", "The pagination cursor is not valid"

    # why, in words; one wording for every list
    @classmethod
    def not_ours(cls) -> InvalidCursor:
        return cls(
            localised("分页游标不是本服务签发的", "The cursor was not issued by this server")
        )

    @classmethod
    def unreadable(cls) -> InvalidCursor:
        return cls(localised("分页游标无法解析", "The cursor could not be decoded"))

    @classmethod
    def other_list(cls) -> InvalidCursor:
        return cls(localised("分页游标不属于这个列表", "The cursor does not belong to this list"))

    @classmethod
    def other_order(cls) -> InvalidCursor:
        return cls(localised("分页游标属于另一种排序", "The cursor belongs to another sort order"))


class RateLimited(DomainError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        wait = max(1, retry_after)
        super().__init__(detail or _try_again(wait), headers={"Retry-After": str(wait)})
        self.extra["retry_after"] = wait


def _try_again(seconds: int) -> str:
    """When to try again, for people: seconds, then minutes, then hours (rounded up)."""
    if seconds < 120:
        return localised(f"请 {seconds} 秒后再试", f"Try again in {seconds} seconds")
    if seconds < 7200:
        minutes = -(-seconds // 60)
        return localised(f"请 {minutes} 分钟后再试", f"Try again in {minutes} minutes")
    hours = -(-seconds // 3600)
    return localised(f"请 {hours} 小时后再试", f"Try again in {hours} hours")


class ServiceUnavailable(DomainError):
    status, code, title = 503, "service_unavailable", "Service temporarily unavailable"


class IdempotencyKeyReused(Conflict):
    code, title = "idempotency_key_reused", "Idempotency key reused with another request"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    title_zh: str | None = None,
) -> Response:
    localized = message(code, title, title_zh)
    body: dict[str, Any] = {
        "type": f"https://corner.dev/problems/{code.replace('_', '-')}",
        "title": localized,
        "status": status,
        "detail": readable_detail(detail, localized),
        "code": code,
    }
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return problem(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        extra=exc.extra,
        headers=exc.headers,
        title_zh=exc.title_zh,
    )


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    first = errors[0] if errors else None
    detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else None
    return problem(
        422, "validation_error", "The request is not valid", detail, extra={"errors": errors}
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    title = message(code, HTTPStatus(exc.status_code).phrase)
    # Starlette's own detail is the status phrase; a sentence of ours (an unreadable body) is
    # for the developer reading English, the zh-CN reader gets the title
    said = str(exc.detail) if exc.detail else ""
    detail = localised(title, said) if said and said != HTTPStatus(exc.status_code).phrase else None
    return problem(exc.status_code, code, title, detail, headers=dict(exc.headers or {}))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    from core.database import is_connection_error  # local: avoid import cycle at start-up

    if is_connection_error(exc):
        log.warning("dependency_unavailable", error=type(exc).__name__)
        return problem(
            503,
            "service_unavailable",
            "Service temporarily unavailable",
            headers={"Retry-After": "1"},
        )
    if is_data_error(exc):
        # PostgreSQL refused a value the schema let through (a NUL byte in text, a number out
        # of a column's range): the client's input, so a 422, and the transaction rolled back
        log.info("data_error", path=request.url.path, error=type(exc).__name__)
        return problem(422, "invalid_value", "A value in the request cannot be stored")
    log.exception("unhandled_error", path=request.url.path)
    return problem(500, "internal_error", "Internal server error")


def is_data_error(exc: BaseException) -> bool:
    """True for PostgreSQL's class 22 "data exception" (SQLSTATE 22xxx) anywhere in the chain."""
    import psycopg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.DataError):
            return True
        current = current.__cause__ or current.__context__
    return False


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
