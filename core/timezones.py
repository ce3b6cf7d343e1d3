"""IANA time zones: validation, "local" conversions for merchant rules, and times for people
(`format_local`: the shop's or merchant's wall clock, never ISO with +00:00)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_TIMEZONE = "Asia/Shanghai"


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_timezone(name: str) -> bool:
    if name not in _known():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_now(name: str, now: datetime) -> datetime:
    return now.astimezone(zone(name))


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_local(moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> str:
    """A time for people, on the shop's or merchant's wall clock: `2026-12-02 21:30` (read the
    same in zh-CN and en; refusal texts put it in their sentence with `core.i18n.localised`)."""
    return moment.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M")
