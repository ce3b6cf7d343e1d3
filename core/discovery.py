"""Discovery reads (nearby) on plain psycopg pools: the replica when it answers, else the primary.

Nearby is the hottest read of the API and one or two single statements, so it skips the
SQLAlchemy session (its checkout, transaction bookkeeping and result machinery cost more CPU
than the statement's own round trip) and runs on `psycopg_pool` connections that are
autocommit (no BEGIN/ROLLBACK round trips) and have the KNN planner settings fixed per
connection (DESIGN: Geography). Never use these connections for writes nor for reads that need
one snapshot across statements.

The replica is not pinged before each read (a round trip per request): the read is tried on it
and, when its connection fails, run again on the primary (reads are safe to repeat), and the
replica is skipped for `retry_seconds`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
import structlog
from fastapi import Request
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from core.database import ReplicaHealth
from core.settings import Settings, to_libpq_url

log = structlog.get_logger("corner.discovery")

P = ParamSpec("P")
T = TypeVar("T")
Connection = psycopg.AsyncConnection[Any]

# JIT adds 10+ ms to PostGIS statements with high estimated costs; bitmap scans would replace
# the index-ordered KNN plan with "collect everything within r, then sort" (DESIGN: Geography)
DISCOVERY_OPTIONS = "-c jit=off -c timezone=UTC -c enable_bitmapscan=off"
# a replica that cannot hand out a connection this fast is treated as lost
REPLICA_CHECKOUT_SECONDS = 2.0


def discovery_pool(
    url: str, *, max_size: int, timeout: float = 30.0, name: str = "discovery"
) -> AsyncConnectionPool:
    """A closed pool of autocommit discovery connections to `url` (open it in the lifespan)."""
    return AsyncConnectionPool(
        to_libpq_url(url),
        kwargs={"autocommit": True, "options": DISCOVERY_OPTIONS},
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        name=name,
        open=False,
    )


class DiscoveryReads:
    def __init__(
        self,
        primary: AsyncConnectionPool,
        replica: AsyncConnectionPool | None,
        retry_seconds: float,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.health = ReplicaHealth(retry_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> DiscoveryReads:
        assert settings.database_url, "DATABASE_URL is required"
        size = settings.db_pool_size + settings.db_max_overflow
        replica = (
            discovery_pool(
                settings.database_replica_url,
                max_size=size,
                timeout=REPLICA_CHECKOUT_SECONDS,
                name="discovery-replica",
            )
            if settings.database_replica_url
            else None
        )
        return cls(
            discovery_pool(settings.database_url, max_size=size),
            replica,
            settings.replica_retry_seconds,
        )

    async def open(self) -> None:
        # wait=False: a replica (or primary) that is down at start-up must not stop the API
        # from starting; reads find out, and fall back, when they run
        for pool in self._pools():
            await pool.open(wait=False)

    async def close(self) -> None:
        for pool in self._pools():
            await pool.close()

    def _pools(self) -> list[AsyncConnectionPool]:
        return [self.primary] + ([self.replica] if self.replica is not None else [])

    async def read(
        self,
        reader: Callable[Concatenate[Connection, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`reader(connection, *args, **kwargs)` on the replica, or on the primary when the
        replica is down or fails underneath it."""
        if self.replica is not None and self.health.usable():
            try:
                async with self.replica.connection() as connection:
                    return await reader(connection, *args, **kwargs)
            except psycopg.OperationalError as exc:  # PoolTimeout is one too
                # e.g. a statement cancelled for a conflict with recovery: the primary
                # answers this one, and the replica the next
                if _is_lost(exc):
                    self.health.lost(exc)
                else:
                    log.warning("replica_read_failed", error=type(exc).__name__)
        async with self.primary.connection() as connection:
            return await reader(connection, *args, **kwargs)


@contextmanager
def recording_statements(reads: DiscoveryReads) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (driver SQL, parameters) that readers run through `reads` while the
    block runs, in order: what tests count and what the benches' raw reference replays. The
    cursors of each reader's connection record what they execute, so a statement cannot run
    unseen; outside the block nothing changes."""
    seen: list[tuple[str, Any]] = []

    class Recording(psycopg.AsyncCursor[Any]):
        async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            seen.append((query if isinstance(query, str) else str(query), params))
            return await super().execute(query, params, **kwargs)

    original = reads.read

    async def read(reader: Any, *args: Any, **kwargs: Any) -> Any:
        async def recorded(connection: Connection, *a: Any, **k: Any) -> Any:
            previous = connection.cursor_factory
            connection.cursor_factory = Recording
            try:
                return await reader(connection, *a, **k)
            finally:
                connection.cursor_factory = previous

        return await original(recorded, *args, **kwargs)

    reads.read = read  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del reads.read  # the class's method again


def discovery_reads(request: Request) -> DiscoveryReads:
    """The app's discovery pools (opened in the lifespan); run readers through `.read`."""
    return request.app.state.discovery  # type: ignore[no-any-return]


def _is_lost(exc: Exception) -> bool:
    """No connection: none to be had, refused or broken (no SQLSTATE), or SQLSTATE class 08
    (connection exception) or 57P (the server shutting down)."""
    if isinstance(exc, PoolTimeout):
        return True
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith(("08", "57P"))


# a `:name` bind parameter of SQLAlchemy's text style; `::type` casts are not one
BIND_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


def to_driver_sql(sql: str) -> str:
    """`:name` bind parameters as psycopg's `%(name)s`, literal `%` escaped."""
    return BIND_PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))


async def fetch_rows(
    connection: Connection, driver_sql: str, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """One statement's rows as tuples; `driver_sql` uses psycopg's `%(name)s` parameters
    (see `to_driver_sql`)."""
    async with connection.cursor() as cursor:
        await cursor.execute(driver_sql, params)  # type: ignore[arg-type]
        return await cursor.fetchall()
