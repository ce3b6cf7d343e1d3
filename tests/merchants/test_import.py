from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson

from core.settings import Settings
from geo import crs
from merchants.importer import import_shops
from tests.core.test_cli import ROOT, _env
from tests.helpers import ApiClient


def _csv(path: Path, n: int) -> None:
    lines = ["name,lat,lng,category,address,phone"]
    for i in range(n):
        lat, lng = 31.2 + (i % 1000) * 1e-4, 121.4 + (i // 1000) * 1e-4
        lines.append(f"店{i},{lat},{lng},noodles,静安区{i}号,")
    lines += [
        ",31.2,121.4,noodles,addr,",  # missing name
        "x,91,121.4,noodles,addr,",  # bad coordinates
        "x,abc,121.4,noodles,addr,",  # bad coordinates
        "x,31.2,121.4,spaceport,addr,",  # unknown category
        "x,31.2,121.4,bank,,",  # missing address
        '"Bank, Jing\'an",31.2,121.4,bank,南京西路,021-62123456',  # fine, discovery-only
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def test_import_csv_batches_and_rejects(
    client: ApiClient, test_settings: Settings, tmp_path: Path
) -> None:
    owner = await client.register()
    merchant_id = uuid.UUID((await client.merchant(owner))["id"])
    path = tmp_path / "shops.csv"
    _csv(path, 40_000)
    assert test_settings.database_url
    started = time.perf_counter()
    report = await asyncio.to_thread(
        import_shops, test_settings.database_url, path, merchant_id=merchant_id, batch_size=5000
    )
    elapsed = time.perf_counter() - started
    assert report.imported == 40_001
    assert report.rejected == {"missing name": 1, "bad coordinates": 2, "unknown category": 1,
                               "missing address": 1}  # fmt: skip
    print(f"imported {report.imported / elapsed:.0f} rows/s")  # noqa: T201
    found = await client.get("/v1/shops/nearby", params={"lat": 31.2, "lng": 121.4, "q": "Bank"})
    item = found.json()["items"][0]
    assert item["name"] == "Bank, Jing'an" and item["discovery_only"] is True


async def test_cli_import_geojson_in_gcj02(
    client: ApiClient, test_settings: Settings, tmp_path: Path
) -> None:
    owner = await client.register()
    merchant_id = (await client.merchant(owner))["id"]
    glat, glng = crs.wgs84_to_gcj02(31.2290, 121.4450)
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [glng, glat]},
         "properties": {"name": "静安面馆", "category": "noodles", "address": "愚园路1号"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
         "properties": {"name": "line", "category": "noodles", "address": "x"}},
    ]  # fmt: skip
    path = tmp_path / "shops.geojson"
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", "import-shops", str(path), "--merchant", merchant_id,
         "--crs", "gcj02"],
        cwd=ROOT, env=_env(test_settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "imported: 1" in result.stdout and "rejected: 1" in result.stdout
    assert "bad coordinates: 1" in result.stdout
    near = await client.get("/v1/shops/nearby", params={"lat": 31.2290, "lng": 121.4450})
    assert near.json()["items"][0]["distance_m"] < 0.5

    unknown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", "import-shops", str(path), "--merchant",
         str(uuid.uuid4())],
        cwd=ROOT, env=_env(test_settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert unknown.returncode == 1 and "does not exist" in unknown.stderr
