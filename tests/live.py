"""A real Corner server (uvicorn in a subprocess, loopback, free port) on the test database,
and a real `corner worker`: the one way tests run the processes a deployment runs (the
hardening, generated-client and console tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from core.embedded import free_port
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    assert settings.database_url and settings.redis_url and settings.secret_key
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        CORNER_SECRET_KEY=settings.secret_key.get_secret_value(),
        CORNER_STATE_DIR=str(settings.state_dir),
        CORNER_MEDIA_ROOT=str(settings.media_root),
        CORNER_ARGON2_TIME_COST="1",
        CORNER_ARGON2_MEMORY_KIB="512",
        CORNER_DB_POOL_SIZE="10",
        CORNER_DB_MAX_OVERFLOW="10",
        CORNER_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


@contextmanager
def live_server(
    settings: Settings,
    *,
    workers: int = 1,
    port: int | None = None,
    log: IO[bytes] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Start `corner serve` (on `port`, or a free one), wait until /readyz answers 200 (the
    database and Redis reachable), yield its base URL, stop it. `env` adds settings; its
    output goes to `log`."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=server_env(settings, **(env or {})),
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # a loaded machine (CI beside other jobs) can take over a minute to import and start
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, f"server exited (output: {getattr(log, 'name', None)})"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base
    finally:
        _stop(proc)


@contextmanager
def live_worker(settings: Settings, *jobs: str) -> Iterator[None]:
    """`corner worker` on the test database, running only `jobs` (all when none)."""
    only = [arg for job in jobs for arg in ("--only", job)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "worker", *only],
        cwd=ROOT,
        env=server_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
