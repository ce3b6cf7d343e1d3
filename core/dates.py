"""Date-like values from clients (query parameters), bounded to the calendar Corner computes in.

Python's `date`/`datetime` already refuse impossible values (`2026-13-01`, year 0), but a
possible one at the edge of the calendar (`0001-01-01`, `9999-12-31`) overflows as soon as a
service moves it into a merchant's time zone or adds a day, and a `YYYY-MM` text passed a regular
expression with `0000`. These annotated types refuse both with a 422 (`errors[]` naming the
parameter) before any service sees them, so no date-like parameter can answer 500.

Every date-like query parameter uses one of them: `YearMonth` (`month`, `period`),
`CalendarDate` (`date`), `CalendarDateTime` (`since`, `until`, `from`, `to`; with a UTC offset).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints

MIN_YEAR = 1970
# leaves a year of room above for "the end of the period" and time-zone arithmetic
MAX_YEAR = 9998
YEAR_MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_YEAR_MONTH = re.compile(YEAR_MONTH_PATTERN)


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")


def check_year_month(value: str) -> str:
    """`YYYY-MM` with a month 01–12 and a year in range; returns the value unchanged."""
    if not _YEAR_MONTH.match(value):
        raise ValueError("use YYYY-MM")
    _check_year(int(value[:4]))
    return value


def _check_date(value: date) -> date:
    _check_year(value.year)
    return value


def _check_datetime(value: datetime) -> datetime:
    _check_year(value.year)
    return value


YearMonth = Annotated[
    str, StringConstraints(pattern=YEAR_MONTH_PATTERN), AfterValidator(check_year_month)
]
CalendarDate = Annotated[date, AfterValidator(_check_date)]
CalendarDateTime = Annotated[AwareDatetime, AfterValidator(_check_datetime)]
