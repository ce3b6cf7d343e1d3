"""A real `corner worker` process killed with SIGKILL while WeChat Pay (the stand-in) has taken
a refund but not yet answered: the refund is neither lost nor made twice. The outbox row keeps
its refund number (out_refund_no); once the dead worker's lease runs out the next sender asks
again with the same number and the provider answers the refund it already made."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text

from core import payment_records
from core.settings import Settings
from core.standins.wechatpay import WeChatPayStandin
from core.timezones import utcnow
from tests.helpers import ApiClient
from tests.orders.helpers import deliver, make_store

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = """
import importlib
from cli.main import JOB_MODULES, app
for module in JOB_MODULES:
    importlib.import_module(module)
app(["worker", "--only", "payment_calls"])
"""


def worker_env(settings: Settings) -> dict[str, str]:
    env = os.environ | {
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": str(settings.database_url),
        "REDIS_URL": str(settings.redis_url),
        "CORNER_SECRET_KEY": "test-secret-key-not-for-production",
        "CORNER_PAYMENT_CALL_LEASE_SECONDS": "30",
        "CORNER_LOG_LEVEL": "INFO",
    }
    for name in (
        "wechatpay_mchid",
        "wechatpay_appid",
        "wechatpay_private_key_file",
        "wechatpay_cert_serial_no",
        "wechatpay_public_key_file",
        "wechatpay_public_key_id",
        "wechatpay_base_url",
    ):
        env["CORNER_" + name.upper()] = str(getattr(settings, name))
    assert settings.wechatpay_apiv3_key is not None
    env["CORNER_WECHATPAY_APIV3_KEY"] = settings.wechatpay_apiv3_key.get_secret_value()
    return env


def start_worker(settings: Settings, tmp_path: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER],
        cwd=tmp_path,  # no .corner/env here: the worker reads only this environment
        env=worker_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def kill(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


async def test_killed_worker_neither_loses_nor_repeats_a_refund(
    wclient: ApiClient,
    standin: WeChatPayStandin,
    wechat_app: Any,
    wechat_settings: Settings,
    tmp_path: Path,
) -> None:
    store = await make_store(wclient)
    r = await wclient.post(
        f"/v1/shops/{store.shop_id}/orders",
        json={
            "items": [{"offering_id": store.noodles["id"], "quantity": 1}],
            "payment": {"provider": "wechatpay"},
        },
        headers=store.customer.headers,
    )
    note = standin.pay(r.json()["payment"]["reference"])
    assert note is not None and (await deliver(wclient, note)).status_code == 204
    r = await wclient.post(f"/v1/orders/{r.json()['id']}/refund", headers=store.manager.headers)
    assert r.status_code == 200

    standin.hold_seconds = 60.0  # the refund is made, the answer never comes back in time
    log = (tmp_path / "worker.log").open("wb")
    worker = start_worker(wechat_settings, tmp_path, log)
    try:
        deadline = time.monotonic() + 60
        while not standin.refunds:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            await asyncio.sleep(0.05)
    finally:
        kill(worker)
        log.close()
    standin.hold_seconds = 0.0

    async with wechat_app.state.engine.connect() as conn:
        [(status, attempts, leased)] = (
            await conn.execute(text("SELECT status, attempts, leased_until FROM payment_calls"))
        ).all()
    assert status == "pending" and attempts == 1 and leased is not None  # died mid-call
    [(refund_no, first)] = list(standin.refunds.items())

    sessions = wechat_app.state.sessionmaker
    # while the dead worker's lease holds, nobody takes the call
    assert await payment_records.send_due_calls(sessions, wechat_settings) == 0
    after_lease = utcnow() + timedelta(seconds=31)
    sent = await payment_records.send_due_calls(
        sessions, wechat_settings, clock=lambda: after_lease
    )
    assert sent == 1
    assert list(standin.refunds) == [refund_no]  # asked twice, refunded once
    assert standin.refunds[refund_no] is first
    refund_requests = [p for m, p in standin.requests if p == "/v3/refund/domestic/refunds"]
    assert len(refund_requests) == 2
    async with wechat_app.state.engine.connect() as conn:
        [(status, provider_id)] = (
            await conn.execute(text("SELECT status, provider_refund_id FROM payment_calls"))
        ).all()
    assert status == "sent" and provider_id == first["refund_id"]
