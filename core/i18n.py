"""Human-readable messages in zh-CN (default) and en, chosen per request by Accept-Language.

One mechanism for every text a person reads (problem titles and details, counter lookup
refusals, offer lines): titles come from the error class (`title` / `title_zh`) or `MESSAGES`
through `message`; every detail is written in both languages with `localised(chinese,
english)`, which picks the request's language when the refusal is made. Details say things in
words: money with `core.money.format_money` (`¥50.00`, never minor units), times with
`core.timezones.format_local` (the shop's or merchant's wall clock), never a field name or an
enum code (those stay in the problem's machine-readable members: `code`, `errors[].loc`, extras).
"""

from __future__ import annotations

from contextvars import ContextVar

SUPPORTED = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)

# Core codes -> (zh-CN, en). Packages put zh-CN titles on their own DomainError subclasses
# (`title_zh`), so this table does not grow with every package.
MESSAGES: dict[str, tuple[str, str]] = {
    "validation_error": ("请求参数无效", "The request is not valid"),
    "not_found": ("资源不存在", "Not found"),
    "conflict": ("与当前状态冲突", "Conflict"),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "internal_error": ("服务器内部错误", "Internal server error"),
    "service_unavailable": ("服务暂时不可用", "Service temporarily unavailable"),
    "unauthorized": ("需要登录", "Authentication required"),
    "rate_limited": ("请求过于频繁，请稍后再试", "Too many attempts; try again later"),
    "forbidden": ("没有权限执行此操作", "You are not allowed to do this"),
    "invalid_cursor": ("分页游标无效", "The pagination cursor is not valid"),
    "idempotency_key_reused": (
        "幂等键已用于不同的请求",
        "This Idempotency-Key was used with a different request",
    ),
    "payload_too_large": ("请求体过大", "The request body is too large"),
    "invalid_value": ("请求中的某个值无法保存", "A value in the request cannot be stored"),
    "bad_request": ("请求无法解析", "Bad request"),
    "unsupported_media_type": ("不支持该内容类型", "Unsupported media type"),
}


def parse_accept_language(header: str | None) -> str:
    """Pick zh-CN or en from an Accept-Language header, honouring q-values."""
    if not header:
        return DEFAULT_LANGUAGE
    choices: list[tuple[float, str]] = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary == "en":
            choices.append((quality, "en"))
        elif primary == "zh":
            choices.append((quality, "zh-CN"))
    if not choices:
        return DEFAULT_LANGUAGE
    return max(choices, key=lambda c: c[0])[1]


def message(code: str, english: str, chinese: str | None = None) -> str:
    """The title for the request's language: an error's own zh text, this table, or English."""
    if current_language.get() == "en":
        return english
    if chinese:
        return chinese
    pair = MESSAGES.get(code)
    return pair[0] if pair else english


class Localised(str):
    """A text already in the request's language (made by `localised`): a problem's detail
    built this way is shown as it is."""

    __slots__ = ()


def localised(chinese: str, english: str) -> str:
    """A text written for people in the request's language (refusal details, offer lines)."""
    return Localised(english if current_language.get() == "en" else chinese)


class Words:
    """The values of an enum said in words, `{code: (chinese, english)}`: a refusal says
    "已消费" / "consumed", never `consumed` or `no_show` (the codes stay in the API)."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        self.table = table

    def say(self, code: str) -> str:
        # a value the table does not know yet (a new status) is said plainly rather than
        # failing the refusal with a 500; tests check every table covers its enum
        plain = code.replace("_", " ")
        chinese, english = self.table.get(code, (plain, plain))
        return localised(chinese, english)


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def readable_detail(detail: str | None, title: str) -> str:
    """A refusal's detail for the request's reader: a detail written in their language as it
    is; an English-only detail (written for developers, it may name fields) is replaced by
    the localised title for a zh-CN reader, who would not read it."""
    if detail is None:
        return title
    if current_language.get() == "en" or isinstance(detail, Localised) or _has_chinese(detail):
        return detail
    return title
