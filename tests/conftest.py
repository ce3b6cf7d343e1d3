"""Test fixtures: real PostgreSQL+PostGIS and real Redis, one database per xdist worker.

The embedded services start once (or are reused; a file lock serialises xdist workers), each
worker migrates its own database with Alembic, and every test starts from empty tables and an
empty Redis database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from core import embedded
from core.database import create_engine, create_sessionmaker
from core.errors import DomainError
from core.i18n import Localised
from core.migrate import upgrade
from core.models import Base
from core.settings import Settings, to_libpq_url
from core.standins.aliyun_sms import AliyunSmsStandin
from core.standins.aliyun_sms import create_app as create_aliyun_app
from core.standins.server import StandinServer
from tests.helpers import ApiClient

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)


def _base_urls() -> tuple[str, str]:
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if database_url and redis_url:
        return database_url, redis_url
    env = embedded.services_up(PROJECT_ROOT / ".corner")
    return database_url or env["DATABASE_URL"], redis_url or env["REDIS_URL"]


def _with_database(url: str, name: str) -> str:
    base, _, _ = to_libpq_url(url).rpartition("/")
    return f"{base}/{name}"


def _with_redis_db(url: str, index: int) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{index}"


def _recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(to_libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    database_url, redis_url = _base_urls()
    index = _worker_index()
    name = f"corner_test_{index}"
    _recreate_database(database_url, name)
    worker_db_url = _with_database(database_url, name)
    upgrade(worker_db_url)
    state_dir = tmp_path_factory.mktemp("state")
    return Settings(
        database_url=worker_db_url,
        # never the replica a developer's .corner/env may name: tests read their own database
        database_replica_url=None,
        redis_url=_with_redis_db(redis_url, 1 + index % 60),
        state_dir=state_dir,
        media_root=state_dir / "media",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        argon2_time_cost=1,
        argon2_memory_kib=512,
        log_json=True,
        log_level="WARNING",
        db_pool_size=40,
        db_max_overflow=60,
    )


@pytest.fixture(scope="session")
async def app(test_settings: Settings) -> AsyncIterator[object]:
    application = create_app(test_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def table_names() -> list[str]:
    import migrations.env_models  # noqa: F401  (registers every package's models)

    return [t.name for t in Base.metadata.sorted_tables]


@pytest.fixture(autouse=True)
async def clean_state(app: object, table_names: list[str]) -> AsyncIterator[None]:
    """Every test starts from empty tables and an empty Redis database."""
    state = app.state  # type: ignore[attr-defined]
    async with state.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(text(f"TRUNCATE {', '.join(table_names)} RESTART IDENTITY CASCADE"))
    await state.redis.flushdb()
    yield


@pytest.fixture
async def client(app: object) -> AsyncIterator[ApiClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with ApiClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def sessionmaker(app: object) -> async_sessionmaker[AsyncSession]:
    return app.state.sessionmaker  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def redis(app: object) -> Redis:
    return app.state.redis  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="session")
def database_url(test_settings: Settings) -> Iterator[str]:
    assert test_settings.database_url
    yield test_settings.database_url


__all__ = ["create_engine", "create_sessionmaker"]


@pytest.fixture(scope="module")
def aliyun() -> Iterator[tuple[AliyunSmsStandin, StandinServer]]:
    """The Aliyun SMS stand-in on a loopback port (tests/helpers.sms_settings points at it)."""
    standin = AliyunSmsStandin()
    server = StandinServer(create_aliyun_app(standin)).start()
    yield standin, server
    server.stop()


def _raise_site() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if not path.endswith(("errors.py", "conftest.py")):
            break
        frame = frame.f_back  # type: ignore[assignment]
    try:
        where = Path(frame.f_code.co_filename).relative_to(PROJECT_ROOT)
    except ValueError:
        where = Path(frame.f_code.co_filename)
    return f"{where}:{frame.f_lineno}"


@pytest.fixture(autouse=True)
def refusals_are_localised(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A refusal's detail is None (the title says it) or written in both languages with
    `core.i18n.localised`: a test that makes any other DomainError fails, naming the raise
    site (issue 18 point 8)."""
    found: list[str] = []
    original = DomainError.__init__

    def checked(self: DomainError, detail: str | None = None, **kwargs: object) -> None:
        if detail is not None and not isinstance(detail, Localised):
            site = _raise_site()
            # the project's refusals; a test may make an error of its own with any text
            if not site.startswith("tests/"):
                found.append(f"{site}: {type(self).__name__}({detail!r})")
        original(self, detail, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(DomainError, "__init__", checked)
    yield
    assert not found, "refusal details not written with core.i18n.localised:\n" + "\n".join(found)
