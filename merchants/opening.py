"""Opening hours: is a shop open at a moment (Python twin of SQL `corner_shop_open_at`).

Periods are `{day: 0..6 (Mon=0), open: "HH:MM", close: "HH:MM"}` in the merchant's timezone;
a close at or before the open time ends after midnight, on the next day. The nearby filter
runs the SQL function; answers computed here for the few rows of a page must agree with it
(tests compare both on random inputs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from core.timezones import zone

# (weekday Mon=0, opens, closes) in minutes since local midnight
Period = tuple[int, int, int]


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:5])


def compile_periods(periods: Iterable[Mapping[str, Any]]) -> tuple[Period, ...]:
    return tuple((int(p["day"]), _minutes(p["open"]), _minutes(p["close"])) for p in periods)


@lru_cache(maxsize=4096)
def periods_of_json(text: str) -> tuple[Period, ...]:
    """Periods from their stored JSON text. Shops share a few patterns of opening hours, so
    the rows of a nearby page mostly find theirs here instead of parsing it again."""
    return compile_periods(orjson.loads(text))


def is_open_at(periods: Iterable[Mapping[str, Any]], timezone: str, at: datetime) -> bool:
    return is_open_during(compile_periods(periods), *local_clock(timezone, at))


def local_clock(timezone: str, at: datetime) -> tuple[int, float]:
    """(weekday, minutes since local midnight) of `at` in `timezone`."""
    local = at.astimezone(zone(timezone))
    return local.weekday(), local.hour * 60 + local.minute + (
        local.second + local.microsecond / 1e6
    ) / 60


def is_open_during(periods: tuple[Period, ...], dow: int, now: float) -> bool:
    """Open at local weekday `dow`, minute `now`; a period closing at or before it opens runs
    past midnight into the next day."""
    yesterday = (dow + 6) % 7
    for day, opens, closes in periods:
        overnight = closes <= opens
        if day == dow and now >= opens and (overnight or now < closes):
            return True
        if day == yesterday and overnight and now < closes:
            return True
    return False
