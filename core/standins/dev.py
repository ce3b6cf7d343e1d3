"""`corner dev` without provider credentials: WeChat Pay and Alipay stand-ins on loopback,
with freshly generated keys under `<state_dir>/standins/`, and the settings that point the
real SDKs at them (set in this process's environment before the app reads its settings).
Notifications are delivered to the app's callback URL, so a Native QR payment goes end to end:
open `{stand-in}/standin/pay/{out_trade_no}` (a page with a pay button, playing the customer
who scans the QR) and the order turns paid. SMS and push keep their log sinks (SPEC §13).

`payment_standins` is the same start without touching the environment: the console's browser
tests give its values to the live server they start (tests/console/conftest.py), so the
counter's sale goes through the API to the same stand-in `make run` uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from core.settings import Settings, get_settings
from core.standins import alipay, wechatpay
from core.standins.server import StandinServer


@dataclass
class DevStandins:
    servers: dict[str, StandinServer] = field(default_factory=dict)
    wechatpay: wechatpay.WeChatPayStandin | None = None
    alipay: alipay.AlipayStandin | None = None

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def payment_standins(
    settings: Settings, public_base_url: str
) -> tuple[DevStandins, dict[str, str]]:
    """Start a delivering stand-in for each payment provider `settings` has no credentials
    for; answers them and the `CORNER_*` values that point an app at them (notifications go
    to `{public_base_url}/v1/payments/{provider}/callback`)."""
    started = DevStandins()
    env: dict[str, str] = {}
    root = settings.state_dir / "standins"
    if not settings.wechatpay_mchid:
        keys = wechatpay.WeChatPayKeys.generate()
        started.wechatpay = wechatpay.WeChatPayStandin(keys, deliver=True)
        server = StandinServer(wechatpay.create_app(started.wechatpay))
        started.servers["wechatpay"] = server.start()
        env |= {k: str(v) for k, v in keys.write(root / "wechatpay").items()}
        env["wechatpay_base_url"] = server.base_url
    if not settings.alipay_app_id:
        ali_keys = alipay.AlipayKeys.generate()
        started.alipay = alipay.AlipayStandin(ali_keys, deliver=True)
        server = StandinServer(alipay.create_app(started.alipay))
        started.servers["alipay"] = server.start()
        env |= ali_keys.write(root / "alipay")
        env["alipay_gateway"] = server.base_url + "/gateway.do"
    if env:
        env["public_base_url"] = public_base_url
    return started, {"CORNER_" + name.upper(): value for name, value in env.items()}


def start_dev_standins(settings: Settings, app_port: int) -> DevStandins:
    public = os.environ.get("CORNER_PUBLIC_BASE_URL") or f"http://127.0.0.1:{app_port}"
    started, env = payment_standins(settings, public)
    os.environ.update(env)
    get_settings.cache_clear()  # the app built next reads the stand-ins' settings
    return started
