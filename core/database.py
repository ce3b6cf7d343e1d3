"""Async engine and sessions (SQLAlchemy 2 + psycopg 3).

A request owns its session: `SessionDep` commits after the endpoint returns (before the
response is sent) and rolls back on any error. Services never commit.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
import psycopg
import structlog
from fastapi import Depends, Request
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm.attributes import set_committed_value

from core.settings import Settings

log = structlog.get_logger("corner.database")


# JIT adds 10+ ms to PostGIS queries whose estimated costs are high (DESIGN: Geography)
_SERVER_OPTIONS = "-c jit=off -c timezone=UTC"


def create_engine(settings: Settings, url: str | None = None, **overrides: Any) -> AsyncEngine:
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        "connect_args": {"options": _SERVER_OPTIONS},
        # statement parameters (password hashes, token hashes, phones) stay out of exception
        # messages, and so out of the logs of an unexpected error
        "hide_parameters": True,
    }
    options.update(overrides)
    return create_async_engine(url or settings.async_database_url, **options)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessionmaker  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_sessionmaker(request)() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


class ReplicaHealth:
    """Whether to try the replica: not for `retry_seconds` after it was found lost."""

    def __init__(self, retry_seconds: float) -> None:
        self.retry_seconds = retry_seconds
        self._down_until = 0.0

    def usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def lost(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + self.retry_seconds
        log.warning("replica_unavailable", error=type(exc).__name__)


class ReadRouter:
    """Read-only sessions (shop pages, reviews): the replica when it answers, else the primary.

    The replica engine pings on checkout, so a lost replica is noticed before the query runs;
    it is then skipped for `retry_seconds` and the primary serves the reads.
    """

    def __init__(
        self,
        primary: async_sessionmaker[AsyncSession],
        replica: async_sessionmaker[AsyncSession] | None,
        retry_seconds: float,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.health = ReplicaHealth(retry_seconds)

    async def open(self) -> AsyncSession:
        if self.replica is not None and self.health.usable():
            session = self.replica()
            try:
                await session.connection()
                return session
            except (sa_exc.OperationalError, sa_exc.InterfaceError, OSError) as exc:
                await session.close()
                self.health.lost(exc)
        return self.primary()


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    router: ReadRouter = request.app.state.read_router
    session = await router.open()
    try:
        yield session
    finally:
        await session.rollback()
        await session.close()


# Read-only sessions (shop pages, categories, reviews); never commit. Nearby: core.discovery.
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


# scope="function": the commit happens when the endpoint returns, before the response is sent,
# so a client that sees 2xx can read its own write from any connection.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def is_connection_error(exc: BaseException) -> bool:
    """True when the database (or Redis) is unreachable, which maps to 503, not 500."""
    import redis.exceptions

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, psycopg.OperationalError | sa_exc.TimeoutError | ConnectionError):
            return True
        # the lean routes' asyncpg pool (core.lean): a lost or refused connection, a full pool
        if isinstance(
            current,
            asyncpg.PostgresConnectionError | asyncpg.ConnectionDoesNotExistError | TimeoutError,
        ):
            return True
        if isinstance(current, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


def mirror_database(obj: object, **values: Any) -> None:
    """Put on a loaded ORM object values its row already has in the database (e.g. from a
    Core `UPDATE … RETURNING`), without marking it dirty: a plain assignment would make the
    commit flush a second, redundant UPDATE of the row."""
    for name, value in values.items():
        set_committed_value(obj, name, value)
