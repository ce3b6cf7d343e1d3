"""The SMS interface every package sends through (sign-in codes, flash offers, reminders).

A message is a `kind` (a template the provider knows: `login_code`, `reset_code`,
`flash_offer`, `booking_reminder`, `follow_up`, …), its `params`, and the rendered `text` for
sinks and providers that send free text. Senders answer with an `SmsResult` and never raise
for a refusal by the provider: `retryable` tells the caller (the push outbox, the sign-in
code route) whether trying again later can help.

`CORNER_SMS_PROVIDER=log` (the default) appends one JSON line per message to
`CORNER_SMS_LOG_FILE` (default `<state_dir>/sms.jsonl`): `{"to","kind","params","text"}`, so
developers and tests read sign-in codes there. Real providers register a factory under their
name with `register_sms_provider` (the providers package does it at import), so this module
knows none of their SDKs.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

from core.settings import Settings

# the kinds known today; a provider maps each to one of its templates (CORNER_SMS_TEMPLATES)
LOGIN_CODE = "login_code"
RESET_CODE = "reset_code"
DELETE_CODE = "delete_code"
CARD_PIN_CODE = "card_pin_code"
FLASH_OFFER = "flash_offer"
BOOKING_REMINDER = "booking_reminder"
FOLLOW_UP = "follow_up"
SERVICE_DESK = "service_desk"
BIRTHDAY = "birthday"

# the text a sink shows (and a free-text provider sends) for each kind; params fill it in
TEXTS: dict[str, str] = {
    LOGIN_CODE: "您的登录验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略。",
    RESET_CODE: "您正在重置密码，验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略。",
    DELETE_CODE: "您正在注销账号，验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略。",
    CARD_PIN_CODE: "您正在设置{program}会员卡支付密码，验证码为{code}，{minutes}分钟内有效。"
    "如非本人操作，请忽略。",
    FLASH_OFFER: "{title}：{body}",
    BOOKING_REMINDER: "{title}：{body}",
    FOLLOW_UP: "{body}",
    SERVICE_DESK: "{title}：{body}",
    BIRTHDAY: "{body}",
}

MAX_TEXT = 300
log = structlog.get_logger("corner.sms")


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    kind: str
    params: dict[str, str]
    text: str
    sign_name: str | None = None  # overrides CORNER_SMS_SIGN_NAME for this message


@dataclass(frozen=True)
class SmsResult:
    ok: bool
    provider_id: str | None = None
    error: str | None = None
    retryable: bool = False


class SmsSender(Protocol):
    async def send(self, message: SmsMessage) -> SmsResult: ...

    async def aclose(self) -> None: ...


def sms_message(
    to: str, kind: str, params: dict[str, str], sign_name: str | None = None
) -> SmsMessage:
    """A message of a known kind with its text rendered from `TEXTS` (unknown kinds: the
    params joined, so a new kind still says something in the sink)."""
    template = TEXTS.get(kind)
    try:
        text = template.format(**params) if template else " ".join(params.values())
    except KeyError:
        text = " ".join(params.values())
    return SmsMessage(
        to=to, kind=kind, params=dict(params), text=text[:MAX_TEXT], sign_name=sign_name
    )


@dataclass
class LogSmsSender:
    """The development sink: one JSON line per message appended to `path`.

    Each line is written with a single `write` on a file opened with O_APPEND, so lines of
    concurrent senders (several workers, several test processes) never interleave.
    """

    path: Path
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def send(self, message: SmsMessage) -> SmsResult:
        record = {"to": message.to, "kind": message.kind, "params": message.params}
        line = json.dumps(record | {"text": message.text}, ensure_ascii=False)
        async with self._lock:
            await asyncio.to_thread(_append_line, self.path, line)
        return SmsResult(ok=True, provider_id=None)

    async def aclose(self) -> None:
        return None


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


SmsFactory = Callable[[Settings], SmsSender]
_PROVIDERS: dict[str, SmsFactory] = {}


def register_sms_provider(name: str, factory: SmsFactory) -> None:
    """Make `CORNER_SMS_PROVIDER=name` build its sender with `factory(settings)`."""
    _PROVIDERS[name] = factory


def sms_sender(settings: Settings) -> SmsSender:
    """The sender `CORNER_SMS_PROVIDER` names; `log` needs nothing and is the default."""
    if settings.sms_provider == "log":
        return LogSmsSender(settings.sms_log_path)
    factory = _PROVIDERS.get(settings.sms_provider)
    if factory is None:
        known = ", ".join(sorted({"log", *_PROVIDERS}))
        raise RuntimeError(f"unknown CORNER_SMS_PROVIDER {settings.sms_provider!r} ({known})")
    return factory(settings)


def read_log(path: Path) -> list[dict[str, object]]:
    """Every message the log sink wrote to `path`, oldest first (for tests and `corner`)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def send_after_answer(sender: SmsSender, message: SmsMessage) -> None:
    """A code message sent as a background task after the answer: a provider's refusal is
    logged, never shown to the caller (for sign-in codes it would tell whether the phone has
    an account); the person asks again after the interval."""
    try:
        result = await sender.send(message)
    except Exception as exc:  # a transport failure
        log.warning("sms_code_send_failed", kind=message.kind, error=str(exc))
        return
    if not result.ok:
        log.warning("sms_code_refused", kind=message.kind, error=result.error)
