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


def _shape(value: Any) -> Any:
    """A JSON answer's structure: its keys, nesting and value types (ids, codes and times
    differ between the two sides; what fields each answer carries must not)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def _assert_same_work(
    corner: tuple[list[str], list[str]], reference: tuple[list[str], list[str]], redis: list[str]
) -> None:
    """The reference sent the statements Corner sent (numbered for asyncpg), in the same
    order, and the same Redis commands."""
    assert len(corner[0]) >= 2
    assert [" ".join(sql.split()) for sql in reference[0]] == numbered(corner[0])
    assert reference[1] == corner[1] == redis


async def _card_members(
    client: httpx.AsyncClient, secret: str, base: dict[str, Any]
) -> tuple[str, list[str]]:
    """A two-tier programme of `base`'s merchant created through Corner's API (its rule
    snapshot with it; 贵宾 from ¥1,000 of 12-month spend) and the card number of each of
    `base`'s users, who joined it."""
    from tests.memberships.helpers import program_body

    owner = bearer(secret, base["owner"])
    created = await client.post(f"/v1/merchants/{base['merchant']}/programs",
                                json=program_body(), headers=owner)  # fmt: skip
    assert created.status_code == 201, created.text
    numbers = []
    for user in base["users"]:
        joined = await client.post(f"/v1/programs/{created.json()['id']}/join",
                                   headers=bearer(secret, user))  # fmt: skip
        assert joined.status_code == 201, joined.text
        numbers.append(joined.json()["card_number"])
    return created.json()["id"], numbers


def _other_shop(conn: Any) -> uuid.UUID:
    """A shop of another merchant (the clerk has no role there)."""
    merchant, shop = new_id(), new_id()
    conn.execute(
        "INSERT INTO merchants (id, name, timezone) VALUES (%s, 'other', 'Asia/Shanghai')",
        (merchant,),
    )
    conn.execute(
        "INSERT INTO shops (id, merchant_id, name, category, location, address, opening_hours,"
        " discovery_only) VALUES (%s, %s, 'other shop', 'noodles',"
        " ST_SetSRID(ST_MakePoint(121.47, 31.23), 4326)::geography, 'addr', '[]', false)",
        (shop, merchant),
    )
    return shop


# a purchase under the next tier; one reaching it (the upgrade's statements: the 12-month
# spend, the rule version's tiers, the move, its record, the customer's tier); a refusal
# (the counter's shop is not the card's merchant's: the key's claim and the card statement,
# rolled back)
CARD_CASES = {
    "purchase": (2_000, 201),
    "upgrade": (150_000, 201),
    "other_shop": (2_000, 404),
}


@pytest.mark.parametrize("case", list(CARD_CASES))
async def test_same_sql_reference_runs_corners_card_purchase(
    case: str,
    client: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    test_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert test_settings.database_url and test_settings.secret_key is not None
    secret = test_settings.secret_key.get_secret_value()
    with psycopg.connect(to_libpq_url(test_settings.database_url)) as conn:
        base = seed_counter(conn, users=2)
        other = _other_shop(conn)
    _, numbers = await _card_members(client, secret, base)
    amount, status = CARD_CASES[case]
    shop = other if case == "other_shop" else base["shop"]
    headers = bearer(secret, base["owner"])
    recorder = Recorder(monkeypatch)
    seen: dict[str, tuple[list[str], list[str]]] = {}
    answers: dict[str, Any] = {}
    for side, http, number in (
        ("corner", client, numbers[0]),
        ("reference", reference, numbers[1]),
    ):
        # the first attempt and a retry with the same key (the stored answer; after a
        # refusal nothing was stored, the retry runs again)
        for attempt in ("", ":replay"):
            answer = await http.post(
                "/v1/counter/transactions",
                json={"card": number, "shop_id": str(shop), "kind": "purchase",
                      "amount": {"amount": amount, "currency": "CNY"}},
                headers=headers | {"Idempotency-Key": f"key-{number}"},
            )  # fmt: skip
            assert answer.status_code == status, answer.text
            assert answer.json()["code" if status >= 400 else "entry"]
            seen[side + attempt], answers[side + attempt] = recorder.take(), answer.json()
    for attempt in ("", ":replay"):
        _assert_same_work(seen["corner" + attempt], seen["reference" + attempt], ["EXISTS"])
    if status >= 400:
        assert answers["corner"]["code"] == answers["reference"]["code"] == "shop_not_found"
        return
    assert _shape(answers["reference"]) == _shape(answers["corner"])
    assert answers["reference:replay"] == answers["reference"]
    upgraded = {answers[side]["card"]["tier"]["code"] for side in ("corner", "reference")}
    assert upgraded == ({"vip"} if case == "upgrade" else {"regular"})
    with psycopg.connect(to_libpq_url(test_settings.database_url)) as conn:
        events = conn.execute(
            "SELECT tier, count(*) FROM customers c JOIN customer_events e"
            " ON e.customer_id = c.id AND e.kind = 'card_transaction' GROUP BY tier"
        ).fetchall()
        changes = conn.execute("SELECT count(*) FROM card_tier_changes").fetchone()
    assert dict(events) == {"vip" if case == "upgrade" else "regular": 2}
    assert changes == ((2,) if case == "upgrade" else (0,))


async def test_same_sql_reference_runs_corners_claim(
    client: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    test_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A claim, then a second one by the same consumer over the campaign's per-user limit
    (refused after the campaign's conditional UPDATE: the counter's upsert said no)."""
    assert test_settings.database_url and test_settings.secret_key is not None
    secret = test_settings.secret_key.get_secret_value()
    with psycopg.connect(to_libpq_url(test_settings.database_url)) as conn:
        base = seed_counter(conn, users=2)
        campaign = seed_campaign(conn, base, per_user_limit=1)
    path = f"/v1/campaigns/{campaign}/claim"
    recorder = Recorder(monkeypatch)
    seen: dict[str, tuple[list[str], list[str]]] = {}
    answers: dict[str, Any] = {}
    for side, http, user in (("corner", client, base["users"][0]),
                             ("reference", reference, base["users"][1])):  # fmt: skip
        for attempt, status in (("", 201), (":again", 409)):
            answer = await http.post(path, headers=bearer(secret, user))
            assert answer.status_code == status, answer.text
            seen[side + attempt], answers[side + attempt] = recorder.take(), answer.json()
    for attempt in ("", ":again"):
        _assert_same_work(seen["corner" + attempt], seen["reference" + attempt],
                          ["EXISTS", "EVAL"])  # fmt: skip
    assert _shape(answers["reference"]) == _shape(answers["corner"])
    assert answers["corner:again"]["code"] == answers["reference:again"]["code"]
    assert answers["reference:again"]["code"] == "claim_limit_reached"
    with psycopg.connect(to_libpq_url(test_settings.database_url)) as conn:
        row = conn.execute(
            "SELECT handed_out, (SELECT count(*) FROM coupons),"
            " (SELECT count(*) FROM customer_events WHERE kind = 'coupon_claimed')"
            " FROM coupon_campaigns"
        ).fetchone()
    assert row == (2, 2, 2)
