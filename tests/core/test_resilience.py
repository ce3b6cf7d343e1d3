"""Fault injection with real servers: PostgreSQL restarted under the API, and a read replica
that serves discovery reads until it is lost, when the primary takes over."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from api.app import create_app
from core.database import ReadSessionDep
from core.embedded import EmbeddedPostgres, EmbeddedReplica
from core.migrate import upgrade
from core.settings import Settings
from tests.helpers import ApiClient, assert_problem

ROOT = Path(__file__).resolve().parents[2]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="needs the embedded cluster to control servers"
)


@pytest.fixture
async def own_cluster(test_settings: Settings) -> AsyncIterator[tuple[EmbeddedPostgres, Settings]]:
    state = ROOT / ".corner" / f"fault-{WORKER}"
    cluster = EmbeddedPostgres(state)
    url = await asyncio.to_thread(cluster.start)
    await asyncio.to_thread(upgrade, url)
    settings = test_settings.model_copy(update={"database_url": url, "db_pool_size": 5})
    try:
        yield cluster, settings
    finally:
        await asyncio.to_thread(cluster.stop)
        shutil.rmtree(state, ignore_errors=True)


async def _client(app: FastAPI) -> ApiClient:
    import httpx

    return ApiClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_postgres_restart_gives_503_then_recovers(own_cluster) -> None:  # type: ignore[no-untyped-def]
    cluster, settings = own_cluster
    app = create_app(settings)
    async with app.router.lifespan_context(app), await _client(app) as client:
        await client.register()
        await asyncio.to_thread(cluster.stop)

        r = await client.post("/v1/auth/register",
                              json={"phone": "13912340000", "password": "long-enough",
                                    "display_name": "x"})  # fmt: skip
        assert_problem(r, 503, "service_unavailable")
        assert (await client.get("/readyz")).status_code == 503

        await asyncio.to_thread(cluster.start)
        statuses = []
        for _ in range(3):  # the pool drops dead connections after the first failure
            r = await client.get("/readyz")
            statuses.append(r.status_code)
            if r.status_code == 200:
                break
        assert statuses[-1] == 200, statuses
        actor = await client.register()
        assert (await client.get("/v1/me", headers=actor.headers)).status_code == 200


async def _in_recovery(session) -> dict[str, object]:  # type: ignore[no-untyped-def]
    row = (await session.execute(text(
        "SELECT pg_is_in_recovery(), (SELECT count(*) FROM merchants)"))).one()  # fmt: skip
    return {"replica": row[0], "merchants": row[1]}


async def test_reads_go_to_the_replica_and_survive_its_loss(test_settings: Settings) -> None:
    assert test_settings.database_url
    state = ROOT / ".corner"
    replica = EmbeddedReplica(state, EmbeddedPostgres(state), name=f"pg-test-replica-{WORKER}")
    shutil.rmtree(replica.root, ignore_errors=True)
    await asyncio.to_thread(replica.start)
    db_name = test_settings.database_url.rsplit("/", 1)[1]
    replica_url = f"postgresql://corner@127.0.0.1:{replica.port}/{db_name}"
    settings = test_settings.model_copy(
        update={"database_replica_url": replica_url, "replica_retry_seconds": 60}
    )
    app = create_app(settings)

    async def probe(session: ReadSessionDep) -> dict[str, object]:
        return await _in_recovery(session)

    app.add_api_route("/test-read", probe)
    try:
        async with app.router.lifespan_context(app), await _client(app) as client:
            owner = await client.register()
            await client.merchant(owner)
            for _ in range(100):  # replication is asynchronous: wait for the replay
                body = (await client.get("/test-read")).json()
                if body["merchants"] == 1:
                    break
                await asyncio.sleep(0.05)
            assert body == {"replica": True, "merchants": 1}

            await asyncio.to_thread(replica.stop)
            body = (await client.get("/test-read")).json()
            assert body == {"replica": False, "merchants": 1}
    finally:
        await asyncio.to_thread(replica.stop)
        shutil.rmtree(replica.root, ignore_errors=True)


async def test_nearby_is_served_by_the_replica_until_it_is_lost(test_settings: Settings) -> None:
    """Pausing the replica's replay makes it visibly stale: a shop created on the primary is
    missing from nearby while the replica serves it, and appears once the replica is gone."""
    import psycopg

    from tests.helpers import create_shop

    assert test_settings.database_url
    state = ROOT / ".corner"
    replica = EmbeddedReplica(state, EmbeddedPostgres(state), name=f"pg-nearby-replica-{WORKER}")
    shutil.rmtree(replica.root, ignore_errors=True)
    await asyncio.to_thread(replica.start)
    db_name = test_settings.database_url.rsplit("/", 1)[1]
    replica_url = f"postgresql://corner@127.0.0.1:{replica.port}/{db_name}"
    settings = test_settings.model_copy(
        update={"database_replica_url": replica_url, "replica_retry_seconds": 60}
    )
    app = create_app(settings)
    near = {"lat": 31.2304, "lng": 121.4737, "radius_m": 1000}
    try:
        async with app.router.lifespan_context(app), await _client(app) as client:
            owner = await client.register()
            merchant = await client.merchant(owner)
            first = await create_shop(client, owner, merchant["id"], name="甲")
            # wait until the replica has replayed the first shop (and the truncation before it)
            for _ in range(200):
                items = (await client.get("/v1/shops/nearby", params=near)).json()["items"]
                if [s["id"] for s in items] == [first["id"]]:
                    break
                await asyncio.sleep(0.05)
            assert [s["id"] for s in items] == [first["id"]]

            with psycopg.connect(replica_url, autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_pause()")
            second = await create_shop(client, owner, merchant["id"], name="乙",
                                       location={"lat": 31.2305, "lng": 121.4737})  # fmt: skip
            items = (await client.get("/v1/shops/nearby", params=near)).json()["items"]
            assert [s["id"] for s in items] == [first["id"]]  # the paused replica answered

            await asyncio.to_thread(replica.stop)
            items = (await client.get("/v1/shops/nearby", params=near)).json()["items"]
            assert [s["id"] for s in items] == [first["id"], second["id"]]  # the primary did
    finally:
        await asyncio.to_thread(replica.stop)
        shutil.rmtree(replica.root, ignore_errors=True)
