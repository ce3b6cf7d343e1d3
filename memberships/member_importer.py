"""`corner import-members FILE --merchant ID [--program ID]`: a paper member book from CSV/XLSX.

The same rows and rules as `POST /v1/merchants/{id}/customers/import` (memberships.memberbook,
service.import_members), but each batch of rows is its own transaction, so a large book's
progress is durable and memory stays flat (the file is streamed, the report keeps counts and
the first rejected rows only).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from accounts import service as accounts
from core.database import create_engine, create_sessionmaker
from core.errors import DomainError
from core.settings import Settings
from core.timezones import utcnow, zone
from memberships import memberbook, schemas
from memberships import service as memberships

BATCH = 1000  # rows per transaction (and per set-based batch of service.import_members)


class ImportFailed(Exception):
    """The whole book cannot be imported (unknown merchant or programme, unreadable file)."""


def count_rows(path: Path) -> int:
    """Data rows for the progress bar (approximate for XLSX: the sheet's extent)."""
    with path.open("rb") as f:
        head = f.read(4)
    if memberbook.is_xlsx(head, str(path)):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        try:
            return max(0, (workbook.worksheets[0].max_row or 1) - 1)
        finally:
            workbook.close()
    with path.open("rb") as f:
        return max(0, sum(1 for line in f if line.strip()) - 1)


async def import_file(
    settings: Settings,
    path: Path,
    *,
    merchant_id: uuid.UUID,
    program_id: uuid.UUID | None,
    progress: Callable[[int], None] | None = None,
) -> schemas.MemberImportReport:
    engine = create_engine(settings, pool_size=1, max_overflow=0)
    sessionmaker = create_sessionmaker(engine)
    try:
        now = utcnow()
        async with sessionmaker() as session:
            try:
                timezone = await accounts.merchant_timezone(session, merchant_id=merchant_id)
                program = (
                    await memberships.load_program(
                        session, merchant_id=merchant_id, program_id=program_id
                    )
                    if program_id is not None
                    else None
                )
            except DomainError as exc:
                raise ImportFailed(exc.detail or exc.title) from exc
        try:
            columns, rows = memberbook.read_book(path, today=now.astimezone(zone(timezone)).date())
            memberships.check_book_columns(columns, program_id)
        except (memberbook.BookInvalid, DomainError) as exc:
            raise ImportFailed(str(exc)) from exc
        tally = memberships.MemberImportTally()
        seen: set[str] = set()
        while batch := list(islice(rows, BATCH)):
            async with sessionmaker() as session, session.begin():
                if program is not None:  # this session's own copy of the programme rows
                    program = await memberships.load_program(
                        session, merchant_id=merchant_id, program_id=program[0].id
                    )
                await memberships.import_members(
                    session, merchant_id=merchant_id, program=program, rows=batch,
                    tally=tally, staff_user_id=None, now=now, seen_phones=seen,
                )  # fmt: skip
            if progress is not None:
                progress(len(batch))
        return tally.report(limit=1000)
    finally:
        await engine.dispose()
