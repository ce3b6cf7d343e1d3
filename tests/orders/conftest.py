"""Fixtures of the orders tests: a store (a merchant with a shop, staff, offerings and a
customer), the WeChat Pay and Alipay stand-ins on loopback ports, settings with the merchant's
generated credentials pointing at them, and an app and client built from those settings.
Helpers test modules import live in helpers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from core.settings import Settings
from core.standins.alipay import AlipayKeys, AlipayStandin
from core.standins.alipay import create_app as alipay_app
from core.standins.server import StandinServer
from core.standins.wechatpay import (
    WeChatPayKeys,
    WeChatPayStandin,
)
from core.standins.wechatpay import (
    create_app as standin_app,
)
from tests.helpers import ApiClient
from tests.orders.helpers import Store, make_store


@pytest.fixture(scope="module")
def wechat_standin() -> Iterator[tuple[WeChatPayStandin, StandinServer]]:
    standin = WeChatPayStandin(WeChatPayKeys.generate())
    server = StandinServer(standin_app(standin)).start()
    yield standin, server
    server.stop()


@pytest.fixture
def standin(wechat_standin: tuple[WeChatPayStandin, StandinServer]) -> WeChatPayStandin:
    standin = wechat_standin[0]
    standin.fail_next.clear()
    standin.delay_seconds = standin.hold_seconds = 0.0
    standin.outbox.clear()
    standin.transactions.clear()
    standin.refunds.clear()
    standin.refused.clear()
    return standin


@pytest.fixture(scope="module")
def alipay_standin() -> Iterator[tuple[AlipayStandin, StandinServer]]:
    standin = AlipayStandin(AlipayKeys.generate())
    server = StandinServer(alipay_app(standin)).start()
    yield standin, server
    server.stop()


@pytest.fixture
def alipay(alipay_standin: tuple[AlipayStandin, StandinServer]) -> AlipayStandin:
    standin = alipay_standin[0]
    standin.fail_next.clear()
    standin.delay_seconds = 0.0
    for collection in (standin.outbox, standin.refused, standin.trades, standin.refunds):
        collection.clear()
    return standin


@pytest.fixture(scope="module")
def wechat_settings(
    test_settings: Settings,
    wechat_standin: tuple[WeChatPayStandin, StandinServer],
    alipay_standin: tuple[AlipayStandin, StandinServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Settings with WeChat Pay and Alipay configured (pointing at the stand-ins)."""
    standin, server = wechat_standin
    files = standin.keys.write(Path(tmp_path_factory.mktemp("wechatpay")))
    files |= alipay_standin[0].keys.write(Path(tmp_path_factory.mktemp("alipay")))
    return test_settings.model_copy(
        update=files
        | {k: Path(v) for k, v in files.items() if k.endswith("_file")}
        | {
            "wechatpay_apiv3_key": SecretStr(files["wechatpay_apiv3_key"]),
            "wechatpay_base_url": server.base_url,
            "alipay_gateway": alipay_standin[1].base_url + "/gateway.do",
            "payment_http_timeout_seconds": 2.0,
        }
    )


@pytest.fixture(scope="module")
async def wechat_app(wechat_settings: Settings) -> AsyncIterator[Any]:
    application = create_app(wechat_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def wclient(wechat_app: Any) -> AsyncIterator[ApiClient]:
    transport = httpx.ASGITransport(app=wechat_app)
    async with ApiClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def store(client: ApiClient) -> Store:
    return await make_store(client)
