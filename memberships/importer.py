"""`corner import-physical-cards PROGRAM_ID FILE`: pre-printed card numbers from a CSV.

The same validation as the API (`memberships.physical`, `service.import_batch`), but each
batch of rows is its own transaction, so a large file's progress is durable and memory flat.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from core.database import create_engine, create_sessionmaker
from core.settings import Settings
from memberships import physical, schemas
from memberships import service as memberships
from memberships.service.errors import ProgramNotFound

BATCH = 2000


class ImportFailed(Exception):
    """The whole file cannot be imported (unknown program, unreadable file)."""


def count_rows(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def _rows(path: Path) -> Iterator[physical.Row]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFailed("the file is neither UTF-8 nor GB18030 text")
    return physical.rows_of_text(text)


async def import_file(
    settings: Settings,
    path: Path,
    *,
    program_id: uuid.UUID,
    progress: Callable[[int], None] | None = None,
) -> schemas.PhysicalCardImport:
    engine = create_engine(settings, pool_size=1, max_overflow=0)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            try:
                merchant_id = await memberships.program_merchant(session, program_id=program_id)
            except ProgramNotFound as exc:
                raise ImportFailed(f"program {program_id} does not exist") from exc
        tally = memberships.ImportTally()
        rows = _rows(path)
        while batch := list(islice(rows, BATCH)):
            async with sessionmaker() as session, session.begin():
                await memberships.import_batch(
                    session, merchant_id=merchant_id, program_id=program_id, rows=batch,
                    tally=tally,
                )  # fmt: skip
            if progress is not None:
                progress(len(batch))
        return tally.report()
    finally:
        await engine.dispose()
