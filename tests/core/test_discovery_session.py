"""The discovery pools: autocommit connections with the KNN planner settings, and the fallback
from a lost replica to the primary."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from core.database import create_engine, create_sessionmaker
from core.discovery import Connection, DiscoveryReads, discovery_pool
from core.settings import Settings


async def _settings_of(connection: Connection) -> tuple[Any, ...]:
    cursor = await connection.execute(
        "SELECT current_setting('enable_bitmapscan'), current_setting('jit'),"
        " now() = statement_timestamp(), current_setting('port')"
    )
    row = await cursor.fetchone()
    assert row is not None
    return tuple(row)


async def test_discovery_connections_autocommit_without_bitmap_scans(
    test_settings: Settings,
) -> None:
    assert test_settings.database_url
    reads = DiscoveryReads(discovery_pool(test_settings.database_url, max_size=1), None, 60)
    await reads.open()
    try:
        bitmap, jit, own_snapshot, _ = await reads.read(_settings_of)
    finally:
        await reads.close()
    assert (bitmap, jit) == ("off", "off")
    # autocommit: each statement is its own transaction, none is left open between them
    assert own_snapshot is True


async def test_default_connections_keep_bitmap_scans(test_settings: Settings) -> None:
    engine = create_engine(test_settings, pool_size=1, max_overflow=0)
    try:
        async with create_sessionmaker(engine)() as session:
            assert (await session.execute(text("SHOW enable_bitmapscan"))).scalar() == "on"
    finally:
        await engine.dispose()


async def test_a_lost_replica_falls_back_to_the_primary_and_is_skipped(
    test_settings: Settings,
) -> None:
    """A replica that refuses connections: the read runs on the primary, and the next reads
    do not try the replica again until `retry_seconds` have passed."""
    from core.embedded import free_port

    assert test_settings.database_url
    dead = f"postgresql://corner@127.0.0.1:{free_port()}/nothing"
    replica = discovery_pool(dead, max_size=1, timeout=0.5)
    reads = DiscoveryReads(discovery_pool(test_settings.database_url, max_size=1), replica, 60)
    await reads.open()
    try:
        primary_port = str(psycopg.conninfo.conninfo_to_dict(test_settings.database_url)["port"])
        assert (await reads.read(_settings_of))[3] == primary_port
        assert (await reads.read(_settings_of))[3] == primary_port
        # the first read asked the replica and timed out; the second did not ask it again
        assert replica.get_stats()["requests_num"] == 1
    finally:
        await reads.close()


async def test_errors_of_the_statement_itself_are_not_retried(test_settings: Settings) -> None:
    assert test_settings.database_url
    reads = DiscoveryReads(discovery_pool(test_settings.database_url, max_size=1), None, 60)
    await reads.open()

    async def bad(connection: Connection) -> None:
        await connection.execute("SELECT 1/0")

    try:
        with pytest.raises(psycopg.errors.DivisionByZero):
            await reads.read(bad)
    finally:
        await reads.close()


async def test_a_cancelled_replica_read_runs_again_on_the_primary(test_settings: Settings) -> None:
    """A statement the replica cancels (a conflict with recovery, a timeout) is answered by the
    primary, and the replica is not counted as lost for it."""
    from psycopg_pool import AsyncConnectionPool

    from core.discovery import DISCOVERY_OPTIONS

    assert test_settings.database_url
    # both pools reach the same server; the "replica" connections cancel statements after 1 ms
    replica = AsyncConnectionPool(
        test_settings.database_url,
        kwargs={"autocommit": True, "options": DISCOVERY_OPTIONS + " -c statement_timeout=1"},
        min_size=1,
        max_size=1,
        open=False,
    )
    reads = DiscoveryReads(discovery_pool(test_settings.database_url, max_size=1), replica, 60)
    await reads.open()
    ran_with_timeouts: list[str] = []

    async def slow(connection: Connection) -> str:
        cursor = await connection.execute("SELECT current_setting('statement_timeout')")
        ran_with_timeouts.append(str((await cursor.fetchone() or ("",))[0]))
        await connection.execute("SELECT pg_sleep(0.05)")
        return "answered"

    try:
        assert await reads.read(slow) == "answered"
        assert ran_with_timeouts == ["1ms", "0"]  # tried on the replica, answered by the primary
        assert reads.health.usable()  # cancelled, not lost: the next read tries the replica
    finally:
        await reads.close()
