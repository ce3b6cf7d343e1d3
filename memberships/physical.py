"""Pre-printed (physical) card numbers: what a valid one looks like and how an import file is
read. Pure functions, shared by the API import and `corner import-physical-cards`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from core.i18n import Words
from memberships import cardnumbers

MIN_LENGTH, MAX_LENGTH = 8, 19
HEADER_NAMES = frozenset({"number", "card_number", "cardnumber", "卡号"})


class NumberRejected(ValueError):
    """A row's number is not acceptable; the message is a stable reason code (REASONS says
    it in words)."""


REASONS = Words(
    {
        "empty": ("卡号为空", "the number is empty"),
        "not_digits": ("卡号只能包含数字", "a card number is digits only"),
        "bad_length": (
            f"卡号应为 {MIN_LENGTH} 到 {MAX_LENGTH} 位",
            f"a card number has {MIN_LENGTH} to {MAX_LENGTH} digits",
        ),
        "luhn_failed": ("校验位不符，请检查是否输错", "the check digit does not match (a typo?)"),
        "reserved_range": ("该号段留给系统发放的卡", "numbers of this range are Corner's own"),
    }
)


def luhn_valid(number: str) -> bool:
    return cardnumbers.luhn_check_digit(number[:-1]) == number[-1]


def in_virtual_range(number: str) -> bool:
    """The shape of the numbers Corner issues itself (16 digits, leading 8): kept for them,
    so a typed number at the counter never means two cards."""
    return len(number) == cardnumbers.CARD_NUMBER_LENGTH and number.startswith(cardnumbers.PREFIX)


def normalise(raw: str) -> str:
    """The number as stored, or NumberRejected with the reason."""
    number = cardnumbers.normalise_card_number(raw.strip())
    if not number:
        raise NumberRejected("empty")
    if not number.isdigit() or not number.isascii():
        raise NumberRejected("not_digits")
    if not MIN_LENGTH <= len(number) <= MAX_LENGTH:
        raise NumberRejected("bad_length")
    if not luhn_valid(number):
        raise NumberRejected("luhn_failed")
    if in_virtual_range(number):
        raise NumberRejected("reserved_range")
    return number


def looks_physical(number: str) -> bool:
    """For the counter: digits that could be an imported number (no database needed)."""
    try:
        return normalise(number) == number
    except NumberRejected:
        return False


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line of the file
    raw: str


def read_rows(lines: Iterable[str]) -> Iterator[Row]:
    """One number per row: the first column, or the column named number/card_number/卡号
    when the first row is such a header. Blank rows are skipped."""
    reader = csv.reader(lines)
    column = 0
    for index, fields in enumerate(reader, start=1):
        cells = [f.strip() for f in fields]
        if not any(cells):
            continue
        if index == 1:
            lowered = [c.lower().lstrip("\ufeff") for c in cells]
            header = next((i for i, c in enumerate(lowered) if c in HEADER_NAMES), None)
            if header is not None:
                column = header
                continue
        yield Row(index, cells[column] if column < len(cells) else "")


def rows_of_text(text: str) -> Iterator[Row]:
    return read_rows(io.StringIO(text.lstrip("\ufeff"), newline=""))
