"""Browser fixtures: Corner served by uvicorn in a subprocess, Debian's Chromium via Playwright.

The live server is configured as `corner dev` configures itself: WeChat Pay and Alipay
stand-ins (core/standins/dev.py, started here in the test process) with their keys, and the
live server's own URL as the notify URL, so a sale at the counter goes through the API and the
real SDK to the stand-in, and the stand-in's signed callback reaches the live server when a
test plays the customer paying (`LiveServer.standins`).

One server and one browser per test session (per xdist worker); a fresh browser context (so
fresh localStorage) per test. Chromium gets a fake camera that plays `camera.y4m`, which a
test writes (from a QR image) before it opens the scanner: the file is read when the camera
starts, not when the browser launches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from core.embedded import free_port
from core.settings import Settings
from core.standins.dev import DevStandins, payment_standins

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "console"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
TABLET_PORTRAIT = {"width": 768, "height": 1024}


@dataclass
class LiveServer:
    url: str
    paths: set[str]
    standins: DevStandins

    def require(self, *templates: str) -> None:
        """Fail (never skip) when a route the page calls is not served: a console page whose
        route disappeared is a defect, not a test to leave out."""
        missing = [t for t in templates if _shape(t) not in self.paths]
        assert not missing, f"routes the console calls are not served: {', '.join(missing)}"


def _shape(template: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", template)


def _server_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    assert settings.database_url and settings.redis_url and settings.secret_key
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        # the same secret as the in-process app, so QR payloads and tokens made there verify here
        CORNER_SECRET_KEY=settings.secret_key.get_secret_value(),
        CORNER_STATE_DIR=str(settings.state_dir),
        CORNER_MEDIA_ROOT=str(settings.media_root),
        CORNER_LOG_LEVEL="WARNING",
        CORNER_DB_POOL_SIZE="5",
        CORNER_DB_MAX_OVERFLOW="5",
    )
    return env


@pytest.fixture(scope="session")
def live_server(test_settings: Settings) -> Iterator[LiveServer]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make bootstrap installs it)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    standins, standin_env = payment_standins(test_settings, url)
    log = ARTIFACTS / f"server-{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", "1"],
            cwd=ROOT,
            env=_server_env(test_settings) | standin_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            # importing and building the app takes 80 s on the shared 2 cores at load 12
            deadline = time.monotonic() + 240
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.1)
            # building the schema takes seconds on a loaded machine: wait for it
            schema = httpx.get(f"{url}/openapi.json", timeout=120).json()
            paths = {_shape(p) for p in schema["paths"]}
            yield LiveServer(url, paths, standins)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            standins.stop()


@pytest.fixture(scope="session")
def camera_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    write_y4m(Image.new("RGB", (640, 480), "white"), path)
    return path


@pytest.fixture(scope="session")
async def browser(live_server: LiveServer, camera_file: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera_file}",
            ],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=live_server.url,
        viewport=TABLET_LANDSCAPE,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        has_touch=True,
    )
    await context.grant_permissions(["camera"], origin=live_server.url)
    context.set_default_timeout(10_000)
    pg = await context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    in_flight: set[Any] = set()
    idle = asyncio.Event()
    idle.set()

    def started(request: Any) -> None:
        in_flight.add(request)
        idle.clear()

    def ended(request: Any) -> None:
        in_flight.discard(request)
        if not in_flight:
            idle.set()

    pg.on("request", started)
    pg.on("requestfinished", ended)
    pg.on("requestfailed", ended)
    try:
        yield pg
        # let the page's last requests finish: a request still running in the server while the
        # next test truncates the tables can deadlock that TRUNCATE
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(idle.wait(), timeout=5)
    finally:
        await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def write_y4m(image: Image.Image, path: Path, frames: int = 3) -> None:
    """A Y4M (YUV 4:2:0) video of `image` on a 640x480 white frame, for Chromium's fake camera."""
    width, height = 640, 480
    canvas = Image.new("RGB", (width, height), "white")
    picture = image.convert("RGB")
    picture.thumbnail((400, 400))
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + frame)
    tmp.replace(path)
