"""Browser fixtures: Corner served by uvicorn in a subprocess, Debian's Chromium via Playwright.

One server and one browser per test session (per xdist worker); a fresh browser context (so
fresh localStorage) per test. Chromium gets a fake camera that plays `camera.y4m`, which a
test writes (from a QR image) before it opens the scanner: the file is read when the camera
starts, not when the browser launches.

The live server is configured as `corner dev` configures itself: WeChat Pay and Alipay
stand-ins (core/standins/dev.py, started here in the test process) with their keys, and the
live server's own URL as the notify URL, so a sale at the counter goes through the API and the
real SDK to the stand-in, and the stand-in's signed callback reaches the live server when a
test plays the customer paying (`LiveServer.standins`).

Fixtures only; the helpers test modules import live in helpers.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from core.embedded import free_port
from core.settings import Settings
from core.standins.dev import payment_standins
from tests.console.helpers import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TABLET_LANDSCAPE,
    LiveServer,
    shape,
    write_y4m,
)
from tests.live import live_server as running_server


@pytest.fixture(scope="session")
def live_server(test_settings: Settings) -> Iterator[LiveServer]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make bootstrap installs it)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    standins, standin_env = payment_standins(test_settings, url)
    log = ARTIFACTS / f"server-{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            log.open("wb") as sink,
            running_server(
                test_settings,
                port=port,
                log=sink,
                env={"CORNER_DB_POOL_SIZE": "5", "CORNER_DB_MAX_OVERFLOW": "5", **standin_env},
            ),
        ):
            # building the schema takes seconds on a loaded machine: wait for it
            schema = httpx.get(f"{url}/openapi.json", timeout=120).json()
            paths = {shape(p) for p in schema["paths"]}
            yield LiveServer(url, paths, standins)
    finally:
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
