"""A paper member book as rows (pure): CSV (UTF-8 or GB18030) or XLSX, one member a row.

Columns by header, in any order, English or Chinese: `name 姓名`, `phone 手机`, `birthday 生日`,
`card_number 卡号`, `balance 余额` (yuan, up to two decimals), `points 积分`. Every row is
checked here before anything is written; a row that fails is reported with its number (the
spreadsheet's, header = row 1) and a stable reason, and never applied in part.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from accounts.schemas import normalise_phone
from core.i18n import localised
from core.money import MAX_AMOUNT
from customers.schemas.walk_in import EARLIEST_BIRTHDAY

COLUMNS: dict[str, frozenset[str]] = {
    "name": frozenset({"name", "姓名", "会员姓名"}),
    "phone": frozenset({"phone", "mobile", "手机", "手机号", "电话"}),
    "birthday": frozenset({"birthday", "生日", "出生日期"}),
    "card_number": frozenset({"card_number", "cardnumber", "卡号", "会员卡号"}),
    "balance": frozenset({"balance", "余额", "储值余额"}),
    "points": frozenset({"points", "积分"}),
}
CARD_COLUMNS = frozenset({"card_number", "balance", "points"})
MAX_POINTS = 10**12


def _not_text() -> str:
    return localised(
        "文件不是 UTF-8 或 GB18030 编码的文本", "The file is neither UTF-8 nor GB18030 text"
    )


class BookInvalid(ValueError):
    """The file cannot be read as a member book; the message (`args[0]`) is `localised`."""

    """The whole file cannot be read as a member book."""


@dataclass(frozen=True)
class Rejected:
    row: int
    reason: str  # stable snake_case: invalid_phone, negative_balance, ...
    field: str | None = None


@dataclass(frozen=True)
class MemberRow:
    row: int
    phone: str
    name: str | None
    birthday: date | None
    card_number: str | None
    balance: int  # fen
    points: int

    @property
    def has_card_data(self) -> bool:
        return bool(self.card_number or self.balance or self.points)


def header_map(cells: Iterable[Any]) -> dict[str, int]:
    """Column name → index, from the header row; BookInvalid without a phone column."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = str(cell or "").strip().lower().replace(" ", "_")
        for column, names in COLUMNS.items():
            if key in names and column not in found:
                found[column] = index
    if "phone" not in found:
        raise BookInvalid(
            localised(
                "表头没有手机号列（手机 / phone）",
                "The header row has no phone column (phone / 手机)",
            )
        )
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a spreadsheet's 13812345678.0 or card 1001.0
    return str(value).strip()


def _money(value: Any) -> int:
    raw = _text(value).replace(",", "").replace("¥", "").replace("￥", "")
    if not raw:
        return 0
    amount = Decimal(raw) * 100
    if amount != amount.to_integral_value():
        raise InvalidOperation("more than two decimals")
    return int(amount)


def _birthday(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = _text(value).replace("/", "-").replace(".", "-")
    if not raw:
        return None
    if raw.isdigit() and len(raw) == 8:  # 19900131
        raw = f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    # 1990-1-31 as written by hand, as well as 1990-01-31
    return datetime.strptime(raw, "%Y-%m-%d").date()


def parse_row(row: int, cells: list[Any], columns: dict[str, int], today: date) -> MemberRow:
    """One member from a row's cells; raises RowRejected (a `Rejected`) naming the field."""

    def cell(column: str) -> Any:
        index = columns.get(column)
        return cells[index] if index is not None and index < len(cells) else None

    try:
        phone = normalise_phone(_text(cell("phone")))
    except ValueError as exc:
        raise RowRejected(Rejected(row, "invalid_phone", "phone")) from exc
    name = _text(cell("name"))[:64] or None
    try:
        birthday = _birthday(cell("birthday"))
    except ValueError as exc:
        raise RowRejected(Rejected(row, "invalid_birthday", "birthday")) from exc
    if birthday is not None and not EARLIEST_BIRTHDAY <= birthday <= today:
        raise RowRejected(Rejected(row, "invalid_birthday", "birthday"))
    card_number = _text(cell("card_number")) or None
    if card_number is not None and (len(card_number) > 32 or not card_number.isprintable()):
        raise RowRejected(Rejected(row, "invalid_card_number", "card_number"))
    try:
        balance = _money(cell("balance"))
    except (InvalidOperation, ValueError) as exc:
        raise RowRejected(Rejected(row, "invalid_balance", "balance")) from exc
    if balance < 0:
        raise RowRejected(Rejected(row, "negative_balance", "balance"))
    if balance > MAX_AMOUNT:
        raise RowRejected(Rejected(row, "invalid_balance", "balance"))
    try:
        raw_points = _text(cell("points")) or "0"
        points_value = Decimal(raw_points.replace(",", ""))
        if points_value != points_value.to_integral_value():
            raise InvalidOperation("points are whole")
        points = int(points_value)
    except (InvalidOperation, ValueError) as exc:
        raise RowRejected(Rejected(row, "invalid_points", "points")) from exc
    if points < 0:
        raise RowRejected(Rejected(row, "negative_points", "points"))
    if points > MAX_POINTS:
        raise RowRejected(Rejected(row, "invalid_points", "points"))
    return MemberRow(row, phone, name, birthday, card_number, balance, points)


class RowRejected(ValueError):
    def __init__(self, rejected: Rejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


def _encoding(raw: bytes) -> str:
    """UTF-8 (perhaps with a BOM) or GB18030, as spreadsheet exports here are."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            raw.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    raise BookInvalid(_not_text())


def _file_encoding(path: Path) -> str:
    """`_encoding` of a file, read in chunks (a large book is never held whole)."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise BookInvalid(_not_text())


def _csv_file_cells(path: Path, encoding: str) -> Iterator[list[Any]]:
    with path.open(encoding=encoding, newline="") as f:
        yield from csv.reader(f)


def is_xlsx(raw_head: bytes, filename: str | None) -> bool:
    """XLSX is a ZIP: its magic number decides (the name only when there are no bytes yet)."""
    if raw_head:
        return raw_head[:4] == b"PK\x03\x04"
    return bool(filename and filename.lower().endswith(".xlsx"))


def _xlsx_cells(source: bytes | Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # only XLSX imports pay for it

    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise BookInvalid(
            localised("文件不是可读取的 XLSX 工作簿", "The file is not a readable XLSX workbook")
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        workbook.close()


def read_book(
    source: bytes | Path, *, filename: str | None = None, today: date
) -> tuple[frozenset[str], Iterator[MemberRow | Rejected]]:
    """(the book's columns, its rows one by one — a `MemberRow` or a `Rejected`). A file path
    is streamed row by row (CSV lines, XLSX in read-only mode), so memory stays flat."""
    if isinstance(source, bytes):
        head = source[:4]
    else:
        with source.open("rb") as f:
            head = f.read(4)
    cells: Iterator[list[Any]]
    if is_xlsx(head, filename if isinstance(source, bytes) else str(source)):
        cells = _xlsx_cells(source)
    elif isinstance(source, bytes):
        cells = csv.reader(io.StringIO(source.decode(_encoding(source)), newline=""))
    else:
        cells = _csv_file_cells(source, _file_encoding(source))
    header = next(cells, None)
    if header is None:
        raise BookInvalid(localised("文件是空的", "The file is empty"))
    columns = header_map(header)

    def rows() -> Iterator[MemberRow | Rejected]:
        for number, values in enumerate(cells, start=2):
            if not any(_text(v) for v in values):
                continue  # blank lines in a hand-kept book
            try:
                yield parse_row(number, values, columns, today)
            except RowRejected as exc:
                yield exc.rejected

    return frozenset(columns), rows()
