from __future__ import annotations

from cli.demo import load_demo
from core.settings import Settings
from tests.helpers import ApiClient


async def test_demo_shops_are_idempotent_and_discoverable(
    client: ApiClient, test_settings: Settings
) -> None:
    first = await load_demo(test_settings)
    assert first["shops_created"] == 4
    assert (await load_demo(test_settings))["shops_created"] == 0
    near = await client.get("/v1/shops/nearby", params={"lat": 31.2290, "lng": 121.4500,
                                                        "q": "牛肉面"})  # fmt: skip
    assert [i["name"] for i in near.json()["items"]] == ["老王面馆 静安寺店"]
