"""Logical backups with pg_dump/pg_restore (custom format: compressed, restorable selectively)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.embedded import PG_BIN
from core.settings import to_libpq_url


def backup(database_url: str, target: Path) -> int:
    """Dump the database to `target`; returns the file size in bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(PG_BIN / "pg_dump"), "--format=custom", "--no-owner", "--file", str(target),
         to_libpq_url(database_url)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return target.stat().st_size


def restore(database_url: str, source: Path) -> None:
    """Restore `source` into the database, replacing the objects it contains."""
    if not source.is_file():
        raise FileNotFoundError(source)
    subprocess.run(
        [str(PG_BIN / "pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
         "--dbname", to_libpq_url(database_url), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
