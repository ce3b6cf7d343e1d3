"""`corner dev` without provider credentials: WeChat Pay and Alipay stand-ins on loopback,
with freshly generated keys under `<state_dir>/standins/`, and the settings that point the
real SDKs at them (set in this process's environment before the app reads its settings).
Notifications are delivered to the app's callback URL, so a Native QR payment goes end to end:
open `{stand-in}/standin/pay/{out_trade_no}` (a page with a pay button, playing the customer
who scans the QR) and the order turns paid. SMS and push keep their log sinks (SPEC §13)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from core.settings import Settings, get_settings
from core.standins import alipay, wechatpay
from core.standins.server import StandinServer


@dataclass
class DevStandins:
    servers: dict[str, StandinServer] = field(default_factory=dict)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def start_dev_standins(settings: Settings, app_port: int) -> DevStandins:
    started = DevStandins()
    env: dict[str, str] = {}
    root = settings.state_dir / "standins"
    if not settings.wechatpay_mchid:
        keys = wechatpay.WeChatPayKeys.generate()
        server = StandinServer(wechatpay.create_app(wechatpay.WeChatPayStandin(keys, deliver=True)))
        started.servers["wechatpay"] = server.start()
        env |= {k: str(v) for k, v in keys.write(root / "wechatpay").items()}
        env["wechatpay_base_url"] = server.base_url
    if not settings.alipay_app_id:
        ali_keys = alipay.AlipayKeys.generate()
        server = StandinServer(alipay.create_app(alipay.AlipayStandin(ali_keys, deliver=True)))
        started.servers["alipay"] = server.start()
        env |= ali_keys.write(root / "alipay")
        env["alipay_gateway"] = server.base_url + "/gateway.do"
    if env and not os.environ.get("CORNER_PUBLIC_BASE_URL"):
        env["public_base_url"] = f"http://127.0.0.1:{app_port}"
    os.environ.update({"CORNER_" + name.upper(): value for name, value in env.items()})
    get_settings.cache_clear()  # the app built next reads the stand-ins' settings
    return started
