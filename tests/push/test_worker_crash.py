"""A real `corner worker` process killed with SIGKILL in the middle of a fan-out.

Guarantee under test (push/jobs/outbox.py): nothing is lost, nothing recorded is sent
again, and what was in flight when the worker died is sent again with the same identity, so
every device shows the offer exactly once (the fake FCM keeps each device's notification tray
and replaces a notification by one with the same tag, as Android does).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import text

from core.settings import Settings
from core.timezones import utcnow
from push import schemas, service
from tests.helpers import ApiClient
from tests.push.fake_fcm import FakeFcmServer
from tests.push.helpers import merchant_with_shop, offer_body, offset, subscriber

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BATCH = 10
CONCURRENCY = 2


# `corner worker` (the CLI's own command), started once the test says go
LAUNCHER = """
import importlib, sys
from cli.main import JOB_MODULES, app
for module in JOB_MODULES:
    importlib.import_module(module)
import api.wiring, firebase_admin.messaging
sys.stdin.readline()
app(["worker", "--only", "push_dispatch_outbox", "--only", "push_send"])
"""


class Workers:
    """`corner worker` processes running only the push dispatcher and sender."""

    def __init__(self, settings: Settings, fake: FakeFcmServer, credentials: Path, tmp: Path):
        self.tmp = tmp
        self.env = os.environ | {
            "PYTHONPATH": str(PROJECT_ROOT),
            "DATABASE_URL": str(settings.database_url),
            "REDIS_URL": str(settings.redis_url),
            "CORNER_SECRET_KEY": "test-secret-key-not-for-production",
            "CORNER_FCM_CREDENTIALS": str(credentials),
            "CORNER_FCM_BASE_URL": fake.base_url,
            "CORNER_PUSH_SEND_LEASE_SECONDS": "1",
            "CORNER_PUSH_RECLAIM_IDLE_SECONDS": "1",
            "CORNER_PUSH_CONSUMER_CONCURRENCY": str(CONCURRENCY),
            "CORNER_LOG_LEVEL": "INFO",
        }
        self.processes: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def prepare(self, name: str) -> subprocess.Popen[bytes]:
        """A worker process that has imported everything and runs once told to `go` (a
        standby worker: the test does not wait seconds for imports after the kill)."""
        log = (self.tmp / f"{name}.log").open("wb")
        # cwd: a directory without .corner/env, so the worker reads only this environment
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER],
            cwd=self.tmp,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append((process, log))
        return process

    @staticmethod
    def go(process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        process.stdin.flush()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-5000:] for p in sorted(self.tmp.glob("*.log")))

    def stop_all(self) -> None:
        for process, log in self.processes:
            if process.poll() is None:
                process.kill()  # no graceful stop needed: the next test starts from scratch
                process.wait()
            log.close()


@pytest.fixture
def workers(
    test_settings: Settings,
    fake_fcm: FakeFcmServer,
    fcm_credentials: Path,
    tmp_path: Path,
) -> Iterator[Workers]:
    started = Workers(test_settings, fake_fcm, fcm_credentials, tmp_path)
    yield started
    started.stop_all()


async def _wait_for(condition, what: str, workers: Workers, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{workers.logs()}")
        await asyncio.sleep(0.02)


async def test_sigkill_mid_fan_out_loses_nothing_and_shows_nothing_twice(
    client: ApiClient,
    sessionmaker,
    test_settings: Settings,
    fake_fcm: FakeFcmServer,
    workers: Workers,
) -> None:  # type: ignore[no-untyped-def]
    # the worker processes import the app while the test writes its data
    first, second = workers.prepare("first"), workers.prepare("second")
    owner, merchant_id, shop_id = await merchant_with_shop(client)
    tokens: list[str] = []
    for _ in range(4):
        _, mine = await subscriber(client, at=offset(100), categories=["dining"], devices=15)
        tokens += mine
    async with sessionmaker.begin() as session:
        accepted = await service.create_flash_offer(
            session,
            merchant_id=uuid.UUID(merchant_id),
            created_by=uuid.UUID(owner.user_id),
            data=schemas.FlashOfferCreate.model_validate(offer_body(shop_id)),
            now=utcnow(),
            settings=test_settings.model_copy(update={"push_batch_size": BATCH}),
        )
    assert len(tokens) == 60  # 6 batches of 10

    async def tokens_by_status() -> dict[str, set[str]]:
        async with sessionmaker() as session:
            rows = await session.execute(
                text("""SELECT d.status, v.token FROM flash_offer_deliveries d
                        JOIN push_devices v ON v.id = d.device_id WHERE d.offer_id = :id"""),
                {"id": accepted.id},
            )
            found: dict[str, set[str]] = {}
            for status, token in rows:
                found.setdefault(status, set()).add(token)
            return found

    # FCM answers the first two batches' worth of requests at once, then slowly: the worker
    # records some batches, and is killed while others are on the wire (FCM has them and
    # will accept them; the worker has no answer yet)
    state = fake_fcm.state
    state.delay_after, state.delay_seconds = 2 * BATCH, 1.5
    workers.go(first)

    async def some_recorded_some_on_the_wire() -> bool:
        assert first.poll() is None, workers.logs()
        return state.pending > 0 and len((await tokens_by_status()).get("sent", ())) >= BATCH

    await _wait_for(some_recorded_some_on_the_wire, "the first worker to send", workers, 120)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = await tokens_by_status()
    recorded, in_flight = before["sent"], before["sending"]
    assert len(recorded) >= BATCH and len(in_flight) >= BATCH

    async def statuses() -> dict[str, int]:
        return {status: len(found) for status, found in (await tokens_by_status()).items()}

    state.delay_seconds = 0
    workers.go(second)

    async def all_sent() -> bool:
        assert second.poll() is None, workers.logs()
        return await statuses() == {"sent": 60}

    await _wait_for(all_sent, "the second worker to finish the fan-out", workers)

    async def fcm_done() -> bool:  # FCM answered the dead worker's requests too
        return state.pending == 0

    await _wait_for(fcm_done, "the fake FCM to answer everything", workers)

    # every device got the offer and shows it once, under one delivery id
    assert set(state.delivered) == set(tokens)
    assert state.shown_counts() == {token: 1 for token in tokens}
    assert {token: len(set(ids)) for token, ids in state.delivery_ids.items()} == {
        token: 1 for token in tokens
    }
    # FCM may have been given a message twice only for what was on the wire at the kill;
    # nothing recorded was sent again
    twice = {token for token, n in state.delivered_counts().items() if n > 1}
    assert twice <= in_flight
    assert max(state.delivered_counts().values()) <= 2
    assert all(state.delivered_counts()[token] == 1 for token in recorded)
    async with sessionmaker() as session:
        resent = set(
            (
                await session.execute(
                    text("""SELECT v.token FROM flash_offer_deliveries d
                            JOIN push_devices v ON v.id = d.device_id
                            WHERE d.offer_id = :id AND d.attempts > 1"""),
                    {"id": accepted.id},
                )
            ).scalars()
        )
    assert resent == in_flight
