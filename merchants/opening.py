"""Opening hours: is a shop open at a moment (Python twin of SQL `corner_shop_open_at`).

Periods are `{day: 0..6 (Mon=0), open: "HH:MM", close: "HH:MM"}` in the merchant's timezone;
a close at or before the open time ends after midnight, on the next day. The nearby filter
runs the SQL function; answers computed here for the few rows of a page must agree with it
(tests compare both on random inputs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
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


# Special hours: dated exceptions to the weekly pattern (a holiday closure, shorter hours on
# New Year's Eve). Stored on the shop as `[{date, until, closed, open, close, note}]` (`until`
# inclusive, `open`/`close` null when closed). On a local date covered by any entry, the entries
# replace the weekly periods of that date, the after-midnight tail of its late period included;
# a date without entries keeps the weekly pattern. SQL twin: `corner_shop_open_at(hours,
# special, tz, at)` (migration 1031), compared with this on random inputs by the tests.

# (first date ordinal, last date ordinal, opens, closes) — opens = closes = -1 when closed
SpecialPeriod = tuple[int, int, int, int]


def compile_special(entries: Iterable[Mapping[str, Any]]) -> tuple[SpecialPeriod, ...]:
    out = []
    for e in entries:
        first = date.fromisoformat(str(e["date"])).toordinal()
        last = date.fromisoformat(str(e.get("until") or e["date"])).toordinal()
        if e.get("closed"):
            out.append((first, last, -1, -1))
        else:
            out.append((first, last, _minutes(e["open"]), _minutes(e["close"])))
    return tuple(out)


@lru_cache(maxsize=4096)
def special_of_json(text: str) -> tuple[SpecialPeriod, ...]:
    return compile_special(orjson.loads(text)) if text != "[]" else ()


def _covering(special: tuple[SpecialPeriod, ...], ordinal: int) -> list[SpecialPeriod]:
    return [s for s in special if s[0] <= ordinal <= s[1]]


def is_open_with_special(
    periods: tuple[Period, ...],
    special: tuple[SpecialPeriod, ...],
    day: date,
    now: float,
) -> bool:
    """Open at minute `now` of local `day`, special hours first, then the weekly periods."""
    if not special:
        return is_open_during(periods, day.weekday(), now)
    ordinal = day.toordinal()
    today = _covering(special, ordinal)
    yesterday = _covering(special, ordinal - 1)
    if today:
        open_today = any(o >= 0 and now >= o and (c <= o or now < c) for _, _, o, c in today)
    else:
        open_today = any(
            d == day.weekday() and now >= o and (c <= o or now < c) for d, o, c in periods
        )
    if open_today:
        return True
    if yesterday:
        return any(o >= 0 and c <= o and now < c for _, _, o, c in yesterday)
    dow_before = (day.weekday() + 6) % 7
    return any(d == dow_before and c <= o and now < c for d, o, c in periods)


def local_day_clock(timezone: str, at: datetime) -> tuple[date, float]:
    """(local date, minutes since local midnight) of `at` in `timezone`."""
    local = at.astimezone(zone(timezone))
    return local.date(), local.hour * 60 + local.minute + (
        local.second + local.microsecond / 1e6
    ) / 60


def is_open_at_with_special(
    periods: Iterable[Mapping[str, Any]],
    special: Iterable[Mapping[str, Any]],
    timezone: str,
    at: datetime,
) -> bool:
    return is_open_with_special(
        compile_periods(periods), compile_special(special), *local_day_clock(timezone, at)
    )


def periods_on(
    periods: Iterable[Mapping[str, Any]], special: Iterable[Mapping[str, Any]], day: date
) -> list[tuple[int, int]]:
    """(opens, closes) minutes of the periods that open on local `day` — special hours when
    the day has any, else the weekly ones; closes ≤ opens runs past midnight. For slot grids."""
    covering = _covering(compile_special(special), day.toordinal())
    if covering:
        return [(o, c) for _, _, o, c in covering if o >= 0]
    return [(d_o, d_c) for d, d_o, d_c in compile_periods(periods) if d == day.weekday()]


def special_overlaps(entries: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """Indexes of two entries that contradict each other, or None: two entries on one date
    where either is a closure, or open periods (an overnight one's tail included) that
    intersect. Assumes each entry is valid on its own."""
    compiled = compile_special(entries)
    closed_days: dict[int, int] = {}
    days: dict[int, int] = {}
    intervals: list[tuple[int, int, int]] = []
    for index, (first, last, o, c) in enumerate(compiled):
        for ordinal in range(first, last + 1):
            if ordinal in closed_days and closed_days[ordinal] != index:
                return closed_days[ordinal], index
            if o < 0:
                if ordinal in days and days[ordinal] != index:
                    return days[ordinal], index
                closed_days[ordinal] = index
            else:
                days.setdefault(ordinal, index)
                start = ordinal * DAY + o
                intervals.append((start, start + ((c - o) % DAY or DAY), index))
    intervals.sort()
    reach, holder = -1, -1  # the furthest end so far and whose it is
    for start, end, index in intervals:
        if start < reach and index != holder:
            return min(index, holder), max(index, holder)
        if end > reach:
            reach, holder = end, index
    return None


DAY = 24 * 60
