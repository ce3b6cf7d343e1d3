"""The benches' same-SQL reference (bench/reference.py, `same-sql`) does what Corner's route
does for the same request: the same statements, in the same order, with the same text (after
numbering the parameters for asyncpg), and the same Redis commands. Issue 21 judges the
counter's speed against "a raw reference doing the same statements": if Corner's route gains,
loses or folds a statement, this test fails until the reference follows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import psycopg
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from bench.common import bearer, seed_campaign, seed_counter
from bench.reference import Same, create_app
from core.ids import new_id
from core.lean import Statement
from core.lean import numbered as lean_numbered
from core.settings import Settings, to_libpq_url
from coupons.codes import new_code
from orders.codes import new_code as new_order_code


class Recorder:
    """The SQL text each side sends to PostgreSQL and the Redis commands it runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sql: list[str] = []
        self.redis: list[str] = []
        recorder = self

        cursor_execute = psycopg.AsyncCursor.execute

        async def psycopg_execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
            recorder.sql.append(str(query))
            return await cursor_execute(self, query, params, **kw)

        monkeypatch.setattr(psycopg.AsyncCursor, "execute", psycopg_execute)
        for name in ("fetchrow", "fetch", "execute"):
            monkeypatch.setattr(asyncpg.connection.Connection, name, self._asyncpg(name))

        redis_execute = Redis.execute_command

        async def redis_command(self: Any, *args: Any, **kw: Any) -> Any:
            recorder.redis.append(str(args[0]))
            return await redis_execute(self, *args, **kw)

        monkeypatch.setattr(Redis, "execute_command", redis_command)

    def _asyncpg(self, name: str) -> Callable[..., Any]:
        original = getattr(asyncpg.connection.Connection, name)
        recorder = self

        async def run(self: Any, query: str, *args: Any, **kw: Any) -> Any:
            # asyncpg sends its transaction's BEGIN/COMMIT as statements; psycopg's are not
            # cursor statements (both sides run one transaction per request)
            if query.rstrip(";") not in ("BEGIN", "COMMIT", "ROLLBACK"):
                recorder.sql.append(query)
            return await original(self, query, *args, **kw)

        return run

    def take(self) -> tuple[list[str], list[str]]:
        taken = (self.sql[:], self.redis[:])
        self.sql.clear()
        self.redis.clear()
        return taken


def numbered(statements: list[str]) -> list[str]:
    """Corner's psycopg statements as asyncpg takes them (`core.lean.numbered`)."""
    return [" ".join(lean_numbered(sql)[0].split()) for sql in statements]


@pytest.fixture
async def reference(
    test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    assert test_settings.database_url and test_settings.redis_url
    monkeypatch.setenv("BENCH_DATABASE_URL", to_libpq_url(test_settings.database_url))
    monkeypatch.setenv("REDIS_URL", test_settings.redis_url)
    monkeypatch.setenv("BENCH_POOL_SIZE", "4")
    app = create_app("same-sql")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ref") as client:
            yield client


def _counter(database_url: str) -> dict[str, Any]:
    with psycopg.connect(to_libpq_url(database_url)) as conn:
        base = seed_counter(conn, users=2)
        base["campaign"] = seed_campaign(conn, base)
        now = datetime.now(UTC)
        base["coupons"] = [new_code(), new_code()]
        for user, code in zip(base["users"], base["coupons"], strict=True):
            conn.execute(
                "INSERT INTO coupons (id, merchant_id, campaign_id, user_id, code, status, source,"
                " valid_from, valid_until, issued_at) VALUES (%s, %s, %s, %s, %s, 'active',"
                " 'issue', %s, %s, %s)",
                (new_id(), base["merchant"], base["campaign"], user, code,
                 now - timedelta(hours=1), now + timedelta(days=1), now),
            )  # fmt: skip
        base["orders"] = [new_order_code(), new_order_code()]
        for user, code in zip(base["users"], base["orders"], strict=True):
            conn.execute(
                "INSERT INTO orders (id, merchant_id, shop_id, user_id, code, status, currency,"
                " subtotal, total, expires_at, paid_at, provider)"
                " VALUES (%s, %s, %s, %s, %s, 'paid', 'CNY', 2800, 2800, %s, %s, 'fake')",
                (new_id(), base["merchant"], base["shop"], user, code,
                 now + timedelta(hours=1), now),
            )  # fmt: skip
    return base


@pytest.mark.parametrize("route", ["redeem", "consume"])
async def test_same_sql_reference_runs_corners_statements(
    route: str,
    client: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    test_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert test_settings.database_url
    base = _counter(test_settings.database_url)
    assert test_settings.secret_key is not None
    secret = test_settings.secret_key.get_secret_value()
    path, codes = {
        "redeem": ("/v1/counter/redeem", base["coupons"]),
        "consume": ("/v1/counter/orders/consume", base["orders"]),
    }[route]
    headers = bearer(secret, base["owner"])
    recorder = Recorder(monkeypatch)
    seen: dict[str, tuple[list[str], list[str]]] = {}
    for side, http, code in (("corner", client, codes[0]), ("reference", reference, codes[1])):
        for _ in range(2):  # the first and a replay with the same key (stored answer)
            answer = await http.post(
                path,
                json={"code": code, "shop_id": str(base["shop"])},
                headers=headers | {"Idempotency-Key": f"key-{code}"},
            )
            assert answer.status_code == 200, answer.text
            seen[side + (":replay" if side in seen else "")] = recorder.take()
    for suffix in ("", ":replay"):
        corner_sql, corner_redis = seen["corner" + suffix]
        reference_sql, reference_redis = seen["reference" + suffix]
        assert len(corner_sql) >= 2
        assert [" ".join(sql.split()) for sql in reference_sql] == numbered(corner_sql)
        assert reference_redis == corner_redis == ["EXISTS"]
    # what was written is the same kind of thing: the redemption or consumption and the
    # customer's timeline event, on both sides
    with psycopg.connect(to_libpq_url(test_settings.database_url)) as conn:
        events = conn.execute("SELECT kind, count(*) FROM customer_events GROUP BY kind").fetchall()
        keys = conn.execute("SELECT count(*) FROM idempotency_keys").fetchone()
    assert dict(events) == {"coupon_redeemed" if route == "redeem" else "order_consumed": 2}
    assert keys == (2,)


def test_numbering_keeps_literal_percent_and_reuses_names() -> None:
    statement = Statement(text("SELECT :a, :b, :a, '100%'"))
    assert statement.numbered_sql == "SELECT $1, $2, $1, '100%'"
    assert statement.args({"a": 1, "b": uuid.UUID(int=0)}) == [1, uuid.UUID(int=0)]
    assert Same(statement).sql == statement.numbered_sql
