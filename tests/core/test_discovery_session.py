"""The discovery pool: autocommit connections with the KNN planner settings."""

from __future__ import annotations

from sqlalchemy import text

from core.database import create_discovery_engine, create_sessionmaker
from core.settings import Settings


async def test_discovery_connections_autocommit_without_bitmap_scans(
    test_settings: Settings,
) -> None:
    engine = create_discovery_engine(test_settings, pool_size=1, max_overflow=0)
    try:
        async with create_sessionmaker(engine)() as session:
            assert (await session.execute(text("SHOW enable_bitmapscan"))).scalar() == "off"
            assert (await session.execute(text("SHOW jit"))).scalar() == "off"
            # autocommit: no transaction block is open between statements
            status = (await session.execute(text("SELECT now() = statement_timestamp()"))).scalar()
            assert status is True
    finally:
        await engine.dispose()


async def test_default_connections_keep_bitmap_scans(test_settings: Settings) -> None:
    from core.database import create_engine

    engine = create_engine(test_settings, pool_size=1, max_overflow=0)
    try:
        async with create_sessionmaker(engine)() as session:
            assert (await session.execute(text("SHOW enable_bitmapscan"))).scalar() == "on"
    finally:
        await engine.dispose()
