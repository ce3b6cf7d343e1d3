"""Fixtures of the push tests: the fake FCM server and its credentials, the senders, the
pipeline. The helpers test modules import live in helpers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from core.sms import LogSmsSender
from push.service.senders import FcmPushSender, LogPushSender, Senders
from tests.push.fake_fcm import FakeFcmServer, service_account
from tests.push.helpers import Pipeline


@pytest.fixture(scope="session")
def fake_fcm_server() -> Iterator[FakeFcmServer]:
    server = FakeFcmServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fcm_credentials(
    fake_fcm_server: FakeFcmServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("fcm") / "service-account.json"
    fake_fcm_server.state.public_key_pem = service_account(path, fake_fcm_server.base_url)
    return path


@pytest.fixture
def fake_fcm(fake_fcm_server: FakeFcmServer, fcm_credentials: Path) -> FakeFcmServer:
    fake_fcm_server.state.reset()
    return fake_fcm_server


@pytest.fixture
async def fcm_senders(
    fake_fcm: FakeFcmServer, fcm_credentials: Path, tmp_path: Path
) -> AsyncIterator[Senders]:
    senders = Senders(
        push=FcmPushSender(fcm_credentials, fake_fcm.base_url, timeout=5.0),
        sms=LogSmsSender(tmp_path / "sms.jsonl"),
    )
    yield senders
    await senders.aclose()


@pytest.fixture
def log_senders(tmp_path: Path) -> Senders:
    return Senders(push=LogPushSender(), sms=LogSmsSender(tmp_path / "sms.jsonl"))


@pytest.fixture
def pipeline(
    sessionmaker: async_sessionmaker[AsyncSession], redis: Redis, test_settings: Settings
) -> Pipeline:
    return Pipeline(sessionmaker, redis, test_settings)
