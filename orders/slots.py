"""Booking slots from opening hours (pure): a slot grid per offering, in the merchant's zone.

Slots of an opening period start at its opening time and follow each other every
`slot_minutes`; the last one ends no later than closing time. A period whose `close` is at
or before its `open` closes after midnight, and its late slots belong to the day it opened.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def slot_starts(
    periods: list[dict[str, Any]], day: date, slot_minutes: int, tz: ZoneInfo
) -> list[datetime]:
    """UTC starts of the slots of the periods opening on local `day`, in order."""
    starts: set[datetime] = set()
    midnight = datetime.combine(day, time())
    for period in periods:
        if period["day"] != day.weekday():
            continue
        opens, closes = _minutes(period["open"]), _minutes(period["close"])
        if closes <= opens:
            closes += DAY_MINUTES
        at = opens
        while at + slot_minutes <= closes:
            local = (midnight + timedelta(minutes=at)).replace(tzinfo=tz)
            starts.add(local.astimezone(UTC))
            at += slot_minutes
    return sorted(starts)


def is_slot_start(
    periods: list[dict[str, Any]], start: datetime, slot_minutes: int, tz: ZoneInfo
) -> bool:
    """Whether `start` begins a slot (of its local day, or of last night's late period)."""
    start = start.astimezone(UTC)
    local_day = start.astimezone(tz).date()
    return any(
        start in slot_starts(periods, d, slot_minutes, tz)
        for d in (local_day, local_day - timedelta(days=1))
    )
