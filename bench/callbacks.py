"""1,000 concurrent WeChat Pay notifications for distinct orders: Corner vs a raw reference.

    uv run python bench/callbacks.py [--orders 1000] [--concurrency 100]

Sets up `corner_bench_callbacks` on the embedded cluster (migrated with Alembic) and seeds a
merchant, a shop, a customer and 2 × N pending orders paid through WeChat Pay (with their
`payments` rows). The WeChat Pay stand-in (core/standins/wechatpay.py) signs and encrypts one
TRANSACTION.SUCCESS notification per order, as WeChat Pay would. Then, in one process and one
run, alternating in rounds:

- Corner: the notifications posted to `/v1/payments/wechatpay/callback` of the real app
  (in-process ASGI: framework, wechatpayv3 verification and decryption, the payment checks,
  the conditional UPDATEs, the order's own effects, the event log);
- reference: the same RSA-SHA256 signature check and AES-GCM decryption with `cryptography`,
  then the two conditional UPDATEs (payment, order) in one transaction on a psycopg pool.

Every notification is then delivered a second time to both (replays), and the bench counts
effects: each order paid once, each payment succeeded once, no extra event. JSON lines: one
per target (throughput, p50/p99 ms), the ratio, the duplicate check. Figures are indicative
(one shared machine; ASGI in-process, so no HTTP parsing cost on either side).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, percentile, redis_db, service_urls  # noqa: E402
from core.ids import new_id  # noqa: E402
from core.payments import payment_reference  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.standins.wechatpay import Notification, WeChatPayKeys, WeChatPayStandin  # noqa: E402

DB_NAME = "corner_bench_callbacks"
AMOUNT = 3800


def seed(url: str, keys: WeChatPayKeys, count: int) -> list[str]:
    """2 × count pending WeChat Pay orders; their references."""
    merchant, shop, user = new_id(), new_id(), new_id()
    orders = [new_id() for _ in range(count)]
    refs = [payment_reference("ord_", o) for o in orders]
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO users (id, phone, password_hash, display_name)"
            " VALUES (%s, '13000000009', 'x', 'bench customer')",
            (user,),
        )
        conn.execute(
            "INSERT INTO merchants (id, name, timezone) VALUES (%s, 'bench', 'Asia/Shanghai')",
            (merchant,),
        )
        conn.execute(
            "INSERT INTO shops (id, merchant_id, name, category, location, address, opening_hours,"
            " discovery_only) VALUES (%s, %s, 'bench shop', 'noodles',"
            " ST_SetSRID(ST_MakePoint(121.47, 31.23), 4326)::geography, 'addr', '[]', false)",
            (shop, merchant),
        )
        conn.execute(
            "INSERT INTO orders (id, merchant_id, shop_id, user_id, code, status, currency,"
            " subtotal, total, provider, provider_reference, expires_at)"
            " SELECT o, %s, %s, %s, upper(substr(md5(o::text), 1, 12)), 'pending_payment', 'CNY',"
            " %s, %s, 'wechatpay', r, now() + interval '1 hour'"
            " FROM unnest(%s::uuid[], %s::text[]) AS t(o, r)",
            (merchant, shop, user, AMOUNT, AMOUNT, orders, refs),
        )
        conn.execute(
            "INSERT INTO payments (id, merchant_id, kind, subject_id, provider, method, reference,"
            " amount, currency, status, instructions, expires_at, next_query_at)"
            " SELECT gen_random_uuid(), %s, 'order', o, 'wechatpay', 'native', r, %s, 'CNY',"
            " 'pending', '{}', now() + interval '1 hour', now() + interval '1 hour'"
            " FROM unnest(%s::uuid[], %s::text[]) AS t(o, r)",
            (merchant, AMOUNT, orders, refs),
        )
    return refs


def notifications(standin: WeChatPayStandin, refs: list[str]) -> list[Notification]:
    keys = standin.keys
    return [
        standin.notification(
            "TRANSACTION.SUCCESS",
            {
                "appid": keys.appid,
                "mchid": keys.mchid,
                "out_trade_no": ref,
                "transaction_id": f"42000{i:023d}",
                "trade_type": "NATIVE",
                "trade_state": "SUCCESS",
                "success_time": "2026-12-02T12:00:00+08:00",
                "amount": {"total": AMOUNT, "currency": "CNY", "payer_total": AMOUNT},
            },
            url="",
        )
        for i, ref in enumerate(refs)
    ]


class Reference:
    """The same checks and conditional updates, without the framework."""

    def __init__(self, pool: AsyncConnectionPool[Any], keys: WeChatPayKeys) -> None:
        self.pool = pool
        self.public = keys.platform_key.public_key()
        self.aead = AESGCM(keys.apiv3_key.encode())
        self.keys = keys

    async def handle(self, note: Notification) -> bool:
        h = note.headers
        message = f"{h['Wechatpay-Timestamp']}\n{h['Wechatpay-Nonce']}\n{note.body.decode()}\n"
        self.public.verify(base64.b64decode(h["Wechatpay-Signature"]), message.encode(),
                           padding.PKCS1v15(), hashes.SHA256())  # fmt: skip
        resource = json.loads(note.body)["resource"]
        plain = self.aead.decrypt(resource["nonce"].encode(),
                                  base64.b64decode(resource["ciphertext"]),
                                  resource["associated_data"].encode())  # fmt: skip
        tx = json.loads(plain)
        assert tx["mchid"] == self.keys.mchid and tx["appid"] == self.keys.appid
        async with self.pool.connection() as conn, conn.transaction():
            moved = await conn.execute(
                "UPDATE payments SET status = 'succeeded', paid_at = now(),"
                " provider_transaction_id = %s WHERE reference = %s AND status = 'pending'"
                " AND amount = %s AND currency = %s RETURNING id",
                (tx["transaction_id"], tx["out_trade_no"], tx["amount"]["total"],
                 tx["amount"]["currency"]),
            )  # fmt: skip
            if await moved.fetchone() is None:
                return False
            await conn.execute(
                "UPDATE orders SET status = 'paid', paid_at = now() WHERE provider_reference = %s"
                " AND status = 'pending_payment'",
                (tx["out_trade_no"],),
            )
        return True


async def timed(calls: list[Any], concurrency: int) -> tuple[float, list[float]]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(call: Any) -> None:
        async with gate:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in calls))
    return time.perf_counter() - started, sorted(latencies)


async def main(args: argparse.Namespace) -> None:
    from api.app import create_app

    database_url, redis_url = service_urls()
    url = fresh_database(database_url, DB_NAME)
    keys = WeChatPayKeys.generate()
    standin = WeChatPayStandin(keys)
    refs = seed(url, keys, 2 * args.orders)
    corner_notes = notifications(standin, refs[: args.orders])
    raw_notes = notifications(standin, refs[args.orders :])

    state = ROOT / ".corner" / "bench-callbacks"
    files = keys.write(state)
    settings = Settings(
        database_url=url,
        database_replica_url=None,
        redis_url=redis_db(redis_url, 14),
        state_dir=state,
        secret_key=SecretStr("bench-secret-key-for-the-callbacks-benchmark"),
        log_level="ERROR",
    ).model_copy(
        update=files
        | {k: Path(v) for k, v in files.items() if k.endswith("_file")}
        | {"wechatpay_apiv3_key": SecretStr(files["wechatpay_apiv3_key"])}
    )
    app = create_app(settings)
    results: dict[str, dict[str, Any]] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client,
        AsyncConnectionPool(url, min_size=10, max_size=20, open=False) as pool,
    ):
        reference = Reference(pool, keys)

        def post(note: Notification) -> Any:
            async def call() -> None:
                r = await client.post(
                    "/v1/payments/wechatpay/callback",
                    content=note.body,
                    headers=note.headers | {"Content-Type": "application/json"},
                )
                assert r.status_code == 204, r.text  # fmt: skip

            return call

        def raw(note: Notification) -> Any:
            async def call() -> None:
                await reference.handle(note)

            return call

        rounds = 4
        size = args.orders // rounds
        elapsed_of: dict[str, float] = {"corner": 0.0, "reference": 0.0}
        latencies_of: dict[str, list[float]] = {"corner": [], "reference": []}
        for i in range(rounds):
            chunk = slice(i * size, (i + 1) * size)
            order = [("corner", corner_notes, post), ("reference", raw_notes, raw)]
            for name, notes, make in order if i % 2 == 0 else order[::-1]:
                elapsed, latencies = await timed([make(n) for n in notes[chunk]], args.concurrency)
                elapsed_of[name] += elapsed
                latencies_of[name] += latencies
        for name, elapsed in elapsed_of.items():
            latencies = sorted(latencies_of[name])
            results[name] = {
                "bench": "callbacks",
                "target": name,
                "requests": len(latencies),
                "per_second": round(len(latencies) / elapsed, 1),
                "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            }
            print(json.dumps(results[name]))
        # replays: every notification again, to both; nothing may change twice
        await timed([post(n) for n in corner_notes], args.concurrency)
        await timed([raw(n) for n in raw_notes], args.concurrency)
    with psycopg.connect(url) as conn:
        paid = conn.execute("SELECT count(*) FROM orders WHERE status = 'paid'").fetchone()
        succeeded = conn.execute(
            "SELECT count(*) FROM payments WHERE status = 'succeeded'"
        ).fetchone()
        applied = conn.execute(
            "SELECT count(*) FROM payment_events WHERE outcome = 'applied'"
        ).fetchone()
        activity = conn.execute(
            "SELECT count(*) FROM customer_events WHERE kind = 'order_paid'"
        ).fetchone()
    ratio = results["corner"]["per_second"] / results["reference"]["per_second"]
    print(json.dumps({"bench": "callbacks", "ratio_corner_to_reference": round(ratio, 3)}))
    check = {
        "bench": "callbacks",
        "orders_paid": paid[0] if paid else None,
        "payments_succeeded": succeeded[0] if succeeded else None,
        "corner_applied_events": applied[0] if applied else None,
        "corner_order_paid_activity": activity[0] if activity else None,
        "expected": {"orders_paid": 2 * args.orders, "corner_applied": args.orders},
    }
    check["duplicated_effects"] = (
        check["orders_paid"] != 2 * args.orders
        or check["payments_succeeded"] != 2 * args.orders
        or check["corner_applied_events"] != args.orders
        or check["corner_order_paid_activity"] != args.orders
    )
    print(json.dumps(check))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
