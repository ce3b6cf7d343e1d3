"""Member-book import: rows per second and memory over a large book (CLI path).

    uv run python bench/import_members.py [--rows 50000] [--xlsx]

Sets up `corner_bench_import_members` on the embedded cluster (migrated with Alembic), one
merchant with a two-tier programme, writes a CSV book of `--rows` members (a third with a
member-book card number, balance and points, a third with points only, a third people only),
(or, with --xlsx, the same rows as an XLSX workbook, read back in openpyxl's read-only
mode), then runs `memberships.member_importer.import_file` — what `corner import-members`
runs, batch by batch — twice: the first import, then the same book again (idempotent: nothing new).
Prints JSON lines: rows/s of each pass and the process's resident memory sampled after each
batch (min, max, and at 10%/50%/100% of the rows), so a flat profile shows as max ≈ min, and
the process's peak RSS so far (`ru_maxrss`). The import runs its batches set-based (a fixed
number of statements per 1000 rows, see memberships/service/members.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, redis_db, seed_merchant, service_urls  # noqa: E402

DB_NAME = "corner_bench_import_members"


def rss_kib() -> int:
    """Resident set size now (not the peak: a flat import keeps this level)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


class Samples:
    """(rows done, RSS KiB) after each batch of an import."""

    def __init__(self) -> None:
        self.points: list[tuple[int, int]] = []
        self.done = 0

    def advance(self, rows: int) -> None:
        self.done += rows
        self.points.append((self.done, rss_kib()))

    def at(self, rows: float) -> int:
        return next((kib for n, kib in self.points if n >= rows), self.points[-1][1])


HEADER = ["name", "phone", "birthday", "card_number", "balance", "points"]


def book_rows(rows: int, seed: int = 50_000) -> Any:
    rng = random.Random(seed)
    for i, suffix in enumerate(rng.sample(range(10**8), rows)):
        phone = f"139{suffix:08d}"
        if i % 3 == 0:
            yield [f"会员{i}", phone, f"1980-01-{1 + i % 28:02d}", f"M{i:07d}",
                   f"{i % 500}.50", str(i % 900)]  # fmt: skip
        elif i % 3 == 1:
            yield [f"会员{i}", phone, "", "", "", str(i % 300)]
        else:
            yield [f"会员{i}", phone, "", "", "", ""]


def write_book(path: Path, rows: int) -> None:
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(HEADER)
        for row in book_rows(rows):
            sheet.append(row)
        workbook.save(path)
        return
    with path.open("w", encoding="utf-8") as f:
        f.write(",".join(HEADER) + "\n")
        for row in book_rows(rows):
            f.write(",".join(row) + "\n")


async def setup(settings: Any) -> tuple[uuid.UUID, uuid.UUID]:
    from core.database import create_engine, create_sessionmaker
    from memberships import schemas as card_schemas
    from memberships import service as memberships

    engine = create_engine(settings, pool_size=1, max_overflow=0)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            owner, merchant = await seed_merchant(session, phone="13800009999", name="会员名册店")
            program = await memberships.create_program(
                session,
                merchant_id=merchant.id,
                data=card_schemas.ProgramCreate.model_validate(
                    {
                        "name": "会员卡",
                        "tiers": [
                            {"code": "regular", "name": "普通", "rank": 0,
                             "earn": {"points_per_currency_unit": 1}},
                            {"code": "vip", "name": "贵宾", "rank": 1, "discount_percent": 5,
                             "earn": {"points_per_currency_unit": 2}},
                        ],
                        "redeem": {"points_per_currency_unit": 100},
                    }
                ),
            )  # fmt: skip
            return merchant.id, program.id
    finally:
        await engine.dispose()


async def run(rows: int, xlsx: bool) -> None:
    from core.settings import Settings
    from memberships.member_importer import import_file

    database_url, redis_url = service_urls()
    url = fresh_database(database_url, DB_NAME)
    settings = Settings(database_url=url, redis_url=redis_db(redis_url, 9))
    merchant_id, program_id = await setup(settings)
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / ("book.xlsx" if xlsx else "book.csv")
        write_book(book, rows)
        for label in ("first_import", "re_import"):
            samples = Samples()
            started = time.perf_counter()
            report = await import_file(
                settings, book, merchant_id=merchant_id, program_id=program_id,
                progress=samples.advance,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            at = samples.at

            print(json.dumps({
                "bench": "import_members", "pass": label, "rows": rows,
                "format": book.suffix[1:],
                "imported": report.imported, "updated": report.updated,
                "rejected": report.rejected_total, "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds, 1),
                "rss_kib": {"min": min(k for _, k in samples.points),
                            "max": max(k for _, k in samples.points),
                            "at_10pct": at(rows * 0.1), "at_50pct": at(rows * 0.5),
                            "at_100pct": at(rows)},
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "note": "indicative: shared 2-core machine",
            }, ensure_ascii=False))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--xlsx", action="store_true", help="an XLSX book instead of CSV")
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.xlsx))


if __name__ == "__main__":
    main()
