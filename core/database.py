"""Async engine and sessions (SQLAlchemy 2 + psycopg 3).

A request owns its session: `SessionDep` commits after the endpoint returns (before the
response is sent) and rolls back on any error. Services never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.settings import Settings


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        # JIT adds 10+ ms to PostGIS queries whose estimated costs are high (DESIGN: Geography)
        "connect_args": {"options": "-c jit=off -c timezone=UTC"},
    }
    options.update(overrides)
    return create_async_engine(settings.async_database_url, **options)


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
        if isinstance(current, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False
