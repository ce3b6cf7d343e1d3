"""The SMS interface (core.sms): the log sink's lines, provider selection, push's mapping."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from core.settings import Settings
from core.sms import (
    LOGIN_CODE,
    LogSmsSender,
    SmsMessage,
    SmsResult,
    read_log,
    register_sms_provider,
    sms_message,
    sms_sender,
)
from push.service.senders import Outcome, sms_outcome


async def test_log_sink_appends_one_json_line_per_message(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "sms.jsonl"
    sender = LogSmsSender(path)
    result = await sender.send(
        sms_message("+8613800000000", LOGIN_CODE, {"code": "042017", "minutes": "5"})
    )
    assert result.ok
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record == {
        "to": "+8613800000000",
        "kind": "login_code",
        "params": {"code": "042017", "minutes": "5"},
        "text": record["text"],
    }
    assert "042017" in record["text"] and "5分钟" in record["text"]


async def test_concurrent_senders_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    senders = [LogSmsSender(path) for _ in range(4)]  # several processes' worth of sinks
    long_body = "长" * 250
    await asyncio.gather(
        *(
            senders[i % 4].send(
                SmsMessage(to=f"+86139{i:08d}", kind="follow_up", params={}, text=long_body)
            )
            for i in range(200)
        )
    )
    records = read_log(path)
    assert len(records) == 200
    assert {r["to"] for r in records} == {f"+86139{i:08d}" for i in range(200)}


def test_unknown_kind_and_missing_params_still_render() -> None:
    assert sms_message("+86", "brand_new_kind", {"a": "x", "b": "y"}).text == "x y"
    assert sms_message("+86", LOGIN_CODE, {"code": "1"}).text == "1"  # no "minutes": params


def test_provider_selection(tmp_path: Path) -> None:
    default = Settings(state_dir=tmp_path)
    sender = sms_sender(default)
    assert isinstance(sender, LogSmsSender) and sender.path == tmp_path / "sms.jsonl"
    named = Settings(state_dir=tmp_path, sms_log_file=tmp_path / "x.jsonl")
    assert sms_sender(named).path == tmp_path / "x.jsonl"  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="unknown CORNER_SMS_PROVIDER"):
        sms_sender(Settings(state_dir=tmp_path, sms_provider="nope"))

    class Fake:
        async def send(self, message: SmsMessage) -> SmsResult:
            return SmsResult(ok=True)

        async def aclose(self) -> None:
            return None

    register_sms_provider("test-fake", lambda settings: Fake())
    assert isinstance(sms_sender(Settings(state_dir=tmp_path, sms_provider="test-fake")), Fake)


def test_template_setting_is_parsed() -> None:
    settings = Settings(sms_templates="login_code:SMS_1, reset_code : SMS_2,broken")
    assert settings.sms_template_map() == {"login_code": "SMS_1", "reset_code": "SMS_2"}


def test_push_maps_provider_answers_to_outbox_outcomes() -> None:
    assert sms_outcome(SmsResult(ok=True)).outcome is Outcome.SENT
    assert sms_outcome(SmsResult(ok=False, error="throttled", retryable=True)).outcome is (
        Outcome.RETRY
    )
    failed = sms_outcome(SmsResult(ok=False, error="invalid_number"))
    assert failed.outcome is Outcome.FAILED and failed.error == "invalid_number"
