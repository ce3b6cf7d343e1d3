"""Booking slots from opening hours (pure): a slot grid per offering, in the merchant's zone.

The periods of a day come from the shop (`merchants.service.periods_on`: special hours of that
date when it has any, else the weekly ones) as `(opens, closes)` minutes since local midnight.

Slots of an opening period start at its opening time and follow each other every
`slot_minutes`; the last one ends no later than closing time. A period whose `close` is at
or before its `open` closes after midnight, and its late slots belong to the day it opened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60

# the (opens, closes) periods opening on a local date
PeriodsOn = Callable[[date], list[tuple[int, int]]]


def slot_starts(
    periods_on: PeriodsOn, day: date, slot_minutes: int, tz: ZoneInfo
) -> list[datetime]:
    """UTC starts of the slots of the periods opening on local `day`, in order."""
    starts: set[datetime] = set()
    midnight = datetime.combine(day, time())
    for opens, closes in periods_on(day):
        if closes <= opens:
            closes += DAY_MINUTES
        at = opens
        while at + slot_minutes <= closes:
            local = (midnight + timedelta(minutes=at)).replace(tzinfo=tz)
            starts.add(local.astimezone(UTC))
            at += slot_minutes
    return sorted(starts)


def is_slot_start(periods_on: PeriodsOn, start: datetime, slot_minutes: int, tz: ZoneInfo) -> bool:
    """Whether `start` begins a slot (of its local day, or of last night's late period)."""
    start = start.astimezone(UTC)
    local_day = start.astimezone(tz).date()
    return any(
        start in slot_starts(periods_on, d, slot_minutes, tz)
        for d in (local_day, local_day - timedelta(days=1))
    )
