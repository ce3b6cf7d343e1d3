"""1,000 concurrent WeChat Pay notifications for distinct orders: Corner vs a raw reference,
both over HTTP, in the same run.

    uv run python bench/callbacks.py [--orders 1000] [--connections 100] [--rounds 4]
        [--same-sql on|off]

Sets up `corner_bench_callbacks` on the embedded cluster (migrated), seeds a merchant, a shop, a
customer and 2 × (N + warm-up) pending orders paid through WeChat Pay (with their `payments`
rows). The WeChat Pay stand-in (core/standins/wechatpay.py) signs and encrypts one
TRANSACTION.SUCCESS notification per order, as WeChat Pay would. Then it starts Corner (`corner
serve`, one worker, WeChat Pay configured with the stand-in's keys) and bench/reference.py, and
posts each its own orders' notifications with aiohttp (bench/common.py: alternating rounds, the
CPU per request of each server, of PostgreSQL and of the load generator):

- Corner: `/v1/payments/wechatpay/callback` of the real app: wechatpayv3's signature check and
  decryption, the timestamp and key-id checks, mchid/appid, then one statement without a
  transaction block (orders.repository.orders.pay_order_fast): the payment locked and moved if
  its amount and currency match, its `applied` event, the order locked and paid, the customer's
  `order_paid` record;
- reference (issue 20's: "the same signature check and conditional update", bench/reference.py's
  floor callback): the same RSA-SHA256 check and AES-GCM decryption with `cryptography`,
  mchid/appid, then the two conditional UPDATEs (payment, order) in one transaction (BEGIN, two
  statements, COMMIT), nothing else. The summary's `ratio` and `met` are judged against it, as
  the issue defines;
- same_sql (`--same-sql on`, the default; not the issue's yardstick, printed beside it): the same
  verification, then Corner's statement, as Corner runs it. Corner records more than the issue's
  reference: the `applied` event and the customer's record of the payment.

Every notification is then delivered a second time to each (replays), and the bench counts
effects in the database: each order paid once, each payment succeeded once, one `applied` event
and one `order_paid` activity per order of Corner and of same_sql. JSON lines: one per target,
the replays, and the summary (ratio, target 0.6, `duplicated_effects` must be false, the load
average, `same_sql.ratio`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Call,
    Tally,
    compare,
    drive,
    emit,
    fresh_database,
    redis_db,
    reference_kind,
    server_env,
    service_urls,
    start_servers,
    stop_all,
    verdicts,
)
from core.ids import new_id  # noqa: E402
from core.payments import payment_reference  # noqa: E402
from core.standins.wechatpay import Notification, WeChatPayKeys, WeChatPayStandin  # noqa: E402

DB_NAME = "corner_bench_callbacks"
AMOUNT = 3800


def seed(url: str, keys: WeChatPayKeys, count: int) -> list[str]:
    """`count` pending WeChat Pay orders, each of its own customer (callbacks for distinct
    orders of distinct people: one customer's record is one row, which serialises that
    customer's own concurrent payments, as it should); their references."""
    merchant, shop = new_id(), new_id()
    orders = [new_id() for _ in range(count)]
    users = [new_id() for _ in range(count)]
    refs = [payment_reference("ord_", o) for o in orders]
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO users (id, phone, password_hash, display_name)"
            " SELECT u, '139' || lpad(n::text, 8, '0'), 'x', 'bench customer'"
            " FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(u, n)",
            (users,),
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
            " SELECT o, %s, %s, u, upper(substr(md5(o::text), 1, 12)), 'pending_payment', 'CNY',"
            " %s, %s, 'wechatpay', r, now() + interval '1 hour'"
            " FROM unnest(%s::uuid[], %s::text[], %s::uuid[]) AS t(o, r, u)",
            (merchant, shop, AMOUNT, AMOUNT, orders, refs, users),
        )
        conn.execute(
            "INSERT INTO payments (id, merchant_id, kind, subject_id, provider, method, reference,"
            " amount, currency, status, instructions, expires_at, next_query_at)"
            " SELECT gen_random_uuid(), %s, 'order', o, 'wechatpay', 'native', r, %s, 'CNY',"
            " 'pending', '{}', now() + interval '1 hour', now() + interval '1 hour'"
            " FROM unnest(%s::uuid[], %s::text[]) AS t(o, r)",
            (merchant, AMOUNT, orders, refs),
        )
        # as the other benches: statistics of the seeded tables (without them the planner took
        # the partial index of pending orders for empty and scanned it for every callback)
        conn.execute("ANALYZE")
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


PATH = "/v1/payments/wechatpay/callback"
SECRET = "bench-secret-key-for-the-callbacks-benchmark"
WARMUP = 50


def calls(notes: list[Notification]) -> list[Call]:
    return [
        Call("POST", PATH, headers=n.headers, content=n.body, expect=204, label="callback")
        for n in notes
    ]


def effects(url: str) -> dict[str, int]:
    counts = {
        "orders_paid": "SELECT count(*) FROM orders WHERE status = 'paid'",
        "payments_succeeded": "SELECT count(*) FROM payments WHERE status = 'succeeded'",
        "corner_applied_events": "SELECT count(*) FROM payment_events WHERE outcome = 'applied'",
        "corner_order_paid_activity": "SELECT count(*) FROM customer_events"
        " WHERE kind = 'order_paid'",
    }
    with psycopg.connect(url) as conn:
        return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in counts.items()}  # type: ignore[index]


async def run(args: argparse.Namespace) -> None:
    admin_url, redis_base = service_urls()
    url = fresh_database(admin_url, DB_NAME)
    keys = WeChatPayKeys.generate()
    standin = WeChatPayStandin(keys)
    per_target = args.orders + WARMUP
    # the reference (signature check + the two conditional UPDATEs) is the judged one
    references = {"reference": "floor"}
    if args.same_sql == "on":
        references["same_sql"] = "same-sql"
    refs = seed(url, keys, (1 + len(references)) * per_target)
    files = keys.write(ROOT / ".corner" / "bench-callbacks")
    wechatpay = {f"CORNER_{name.upper()}": value for name, value in files.items()}
    bench_keys = {
        f"BENCH_{name.upper()}": files[name]
        for name in ("wechatpay_public_key_file", "wechatpay_apiv3_key", "wechatpay_mchid",
                     "wechatpay_appid")
    }  # fmt: skip
    # the notifications are signed before the run: allow them the run's length (still checked)
    env = server_env(url, redis_db(redis_base, 14), SECRET, **wechatpay, **bench_keys,
                     CORNER_PAYMENT_CALLBACK_MAX_SKEW_SECONDS="7200")  # fmt: skip
    env["CORNER_LOG_LEVEL"] = "ERROR"  # the replays' warnings would flood the JSON lines
    servers = start_servers(env, references=references)
    try:
        load: dict[str, list[Call]] = {}
        warm: dict[str, list[Call]] = {}
        for index, name in enumerate(servers):
            mine = calls(
                notifications(standin, refs[index * per_target : (index + 1) * per_target])
            )
            warm[name], load[name] = mine[:WARMUP], mine[WARMUP:]
        results = await compare(servers, load, rounds=args.rounds, connections=args.connections,
                                warmup=warm)  # fmt: skip
        for name, result in results.items():
            emit("callbacks", target=name, kind="distinct", connections=args.connections,
                 **reference_kind(references, name), **result)  # fmt: skip
        for name, server in servers.items():
            replays = Tally()
            await drive(server.base, warm[name] + load[name], args.connections, replays)
            emit("callbacks", target=name, kind="replays", statuses=dict(replays.statuses),
                 unexpected=sum(replays.unexpected.values()))  # fmt: skip
    finally:
        stop_all(servers)
    found = effects(url)
    full = 1 + ("same_sql" in references)  # the targets that log and record the customer
    expected = {
        "orders_paid": len(servers) * per_target,
        "payments_succeeded": len(servers) * per_target,
        "corner_applied_events": full * per_target,
        "corner_order_paid_activity": full * per_target,
    }
    emit("callbacks", kind="summary",
         **verdicts(results, references, target_ratio=0.6),
         effects=found, expected=expected, duplicated_effects=found != expected)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="notifications per target")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4, help="alternating load rounds")
    parser.add_argument(
        "--same-sql",
        choices=["on", "off"],
        default="on",
        help="also run the reference doing Corner's three statements",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
