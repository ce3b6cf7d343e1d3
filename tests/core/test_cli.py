"""The `corner` command as an operator runs it, against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from core.settings import Settings
from tests.live import live_server

ROOT = Path(__file__).resolve().parents[2]


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    assert settings.database_url and settings.redis_url
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        CORNER_SECRET_KEY="cli-test",
        CORNER_STATE_DIR=str(settings.state_dir),
    )
    return env


def _corner(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_services_status_prints_both_services(test_settings: Settings) -> None:
    result = _corner("services", "status", settings=test_settings)
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout and "redis" in result.stdout


def test_seed_demo_is_idempotent(test_settings: Settings) -> None:
    first = _corner("seed", "demo", settings=test_settings)
    assert first.returncode == 0, first.stderr
    second = _corner("seed", "demo", settings=test_settings)
    assert second.returncode == 0, second.stderr
    assert "merchants_created: 0" in second.stdout


def test_serve_defaults_to_a_worker_per_core_on_uvloop_and_httptools(monkeypatch: Any) -> None:
    """Issue 21, point 4: `corner serve` without --workers runs one worker per core this
    process may use, on uvloop and httptools, without an access log."""
    import uvicorn
    from typer.testing import CliRunner

    from cli.main import app

    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: runs.append({"target": target, **kw}))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    result = CliRunner().invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert runs[0]["workers"] == 3 and runs[0]["port"] == 8123
    settings = (runs[0]["loop"], runs[0]["http"], runs[0]["access_log"])
    assert settings == ("uvloop", "httptools", False)
    assert CliRunner().invoke(app, ["serve", "--workers", "1"]).exit_code == 0
    assert runs[1]["workers"] == 1


def test_serve_answers_health_and_ready(test_settings: Settings) -> None:
    # `corner serve` with two workers: ready (database and Redis) and healthy
    with live_server(test_settings, workers=2) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}


def test_backup_restore_round_trip(test_settings: Settings, tmp_path: Path) -> None:
    import psycopg

    from core.settings import to_libpq_url

    assert test_settings.database_url
    url = to_libpq_url(test_settings.database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO merchants (id, name, timezone) "
                     "VALUES (gen_random_uuid(), 'backup-probe', 'Asia/Shanghai')")  # fmt: skip
    dump = tmp_path / "corner.dump"
    result = _corner("db", "backup", str(dump), settings=test_settings)
    assert result.returncode == 0, result.stderr
    assert dump.stat().st_size > 0

    # restore into a fresh database, as after losing the server
    base, _, name = url.rpartition("/")
    target = f"{name}_restored"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target}"')
    restored = test_settings.model_copy(update={"database_url": f"{base}/{target}"})
    result = _corner("db", "restore", str(dump), settings=restored)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(f"{base}/{target}", autocommit=True) as conn:
        count = conn.execute(
            "SELECT count(*) FROM merchants WHERE name = 'backup-probe'"
        ).fetchone()
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert count == (1,)
    assert version is not None
