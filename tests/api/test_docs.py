"""/docs and /redoc load every asset from Corner itself (no CDN): the pages name only local
URLs, and each of those URLs answers with the asset."""

from __future__ import annotations

import re

from tests.helpers import ApiClient


async def test_docs_pages_use_only_local_assets(client: ApiClient) -> None:
    for page, kinds in (("/docs", {".js", ".css", ".png"}), ("/redoc", {".js", ".png"})):
        r = await client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        assert "cdn.jsdelivr.net" not in html and "googleapis" not in html and "unpkg" not in html
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
        assets = [u for u in urls if u.startswith("/docs-assets/")]
        assert {a[a.rfind(".") :] for a in assets} == kinds, assets
        for asset in assets:
            served = await client.get(asset)
            assert served.status_code == 200 and len(served.content) > 1000, asset
    assert "/openapi.json" in (await client.get("/redoc")).text
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not any(p.startswith("/docs") or p == "/redoc" for p in paths)
