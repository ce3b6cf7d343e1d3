"""Multi-row statements within PostgreSQL's bind-parameter limit.

The wire protocol numbers parameters with 16 bits: one statement carries at most 65,535. A
multi-row INSERT of 6,600 coupons × 10 columns passed it and psycopg's error was taken for a
database outage (503; issue 17, finding 8). Bulk writes go in batches sized from the row width.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

BIND_PARAMETER_LIMIT = 65_535
# some statements add parameters of their own (RETURNING, ON CONFLICT ... WHERE): keep room
_HEADROOM = 256


def rows_per_statement(columns: int) -> int:
    """How many rows of `columns` values one statement may carry."""
    return max(1, (BIND_PARAMETER_LIMIT - _HEADROOM) // max(1, columns))


def batches(rows: Sequence[T], columns: int) -> Iterator[Sequence[T]]:
    size = rows_per_statement(columns)
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def row_batches(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    """Batches of dict rows (all with the same keys, as a multi-row VALUES needs)."""
    return batches(rows, len(rows[0]) if rows else 1)
