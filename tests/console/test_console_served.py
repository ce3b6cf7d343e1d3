"""The console's static pages as the API serves them (no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import ApiClient

ROOT = Path(__file__).resolve().parents[2]


async def test_console_index_is_served_with_a_strict_policy(client: ApiClient) -> None:
    r = await client.get("/console")
    assert r.status_code == 308 and r.headers["location"] == "/console/"

    r = await client.get("/console/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert '<html lang="zh-CN">' in r.text
    # nothing from another origin: every script and stylesheet is ours, versioned by content
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', r.text)
    assert assets and all(a.startswith("/console/assets/") for a in assets)
    assert all("?v=" in a and "__VERSION__" not in a for a in assets)
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000


async def test_console_assets_contain_the_qr_decoder_and_no_remote_urls(client: ApiClient) -> None:
    app = await client.get("/console/assets/app.js")
    assert app.status_code == 200
    chunk = re.search(r'"\./(chunks/scanner-[\w-]+\.js)"', app.text)
    assert chunk, "the scanner is a lazily loaded chunk"
    scanner = await client.get(f"/console/assets/{chunk.group(1)}")
    assert scanner.status_code == 200
    assert "jsQR" in scanner.text
    assert not re.search(r"https?://(?!www\.w3\.org/)", app.text), "no remote URL in the bundle"


async def test_console_does_not_appear_in_the_api_schema(client: ApiClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not any(p.startswith("/console") for p in paths)


def test_every_string_is_in_both_languages() -> None:
    source = ROOT / "console" / "src"
    dictionary = (source / "i18n.js").read_text(encoding="utf-8")
    zh_block, en_block = dictionary.split("\n  en: {\n", 1)
    key = re.compile(r'^\s+"([\w.]+)": ', re.M)
    zh, en = set(key.findall(zh_block)), set(key.findall(en_block.split("\n};", 1)[0]))
    assert zh == en, {"only zh-CN": zh - en, "only en": en - zh}
    used: set[str] = set()
    for path in source.rglob("*.js"):
        used |= set(re.findall(r'\bt\(\s*"([\w.]+)"', path.read_text(encoding="utf-8")))
    assert used <= zh, f"strings used but not in the dictionary: {used - zh}"


def console_paths() -> dict[str, set[str]]:
    """Every API path the console's sources spell out, as a shape (`/v1/shops/{}/photos`),
    with the files that call it. `${…}` (nesting allowed) becomes `{}`; a query string, or a
    `${query(…)}` at the end, is dropped."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "console" / "src").rglob("*.js")):
        source = path.read_text(encoding="utf-8")
        for start in (m.start() for m in re.finditer(r"[`\"]/v1/", source)):
            quote, i, out = source[start], start + 1, []
            while source[i] != quote:
                if source.startswith("${", i):
                    depth, j = 1, i + 2
                    while depth:
                        depth += {"{": 1, "}": -1}.get(source[j], 0)
                        j += 1
                    expression = source[i + 2 : j - 1].strip()
                    out.append("" if expression.startswith("query(") else "{}")
                    i = j
                else:
                    out.append(source[i])
                    i += 1
            shape = "".join(out).split("?", 1)[0]
            found.setdefault(shape, set()).add(path.name)
    return found


async def test_console_calls_only_routes_the_api_serves(client: ApiClient) -> None:
    """A renamed or removed route fails here, not in a merchant's browser."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    served = {re.sub(r"\{[^}]*\}", "{}", p) for p in paths}
    called = console_paths()
    assert len(called) > 30, called
    missing = {shape: sorted(files) for shape, files in called.items() if shape not in served}
    assert not missing, f"the console calls routes the API does not serve: {missing}"
