"""The raw reference of the HTTP benches: Starlette + asyncpg + orjson on Corner's own paths.

Run: `uvicorn bench.reference:app` with BENCH_DATABASE_URL (libpq URL), BENCH_STAFF_USER_ID
and BENCH_MERCHANT_ID (the counter benches' clerk and merchant) in the environment.

It is the floor any implementation pays for the same SQL: no authentication (the caller is read
from the bearer token's payload without checking its signature, or is the configured clerk),
no tenant, role or shop check, no idempotency key, no customer-activity record, no Redis.
Each route does exactly this, in one transaction where it writes:

- `POST /v1/counter/redeem`: the conditional `UPDATE coupons … WHERE status = 'active' AND
  valid window … RETURNING`, then `INSERT INTO coupon_redemptions`; 409 when nothing matched;
- `POST /v1/counter/transactions` (purchase only): the card with its tier by number, the
  conditional card `UPDATE … RETURNING` totals, the ledger `INSERT` with the running totals;
- `POST /v1/campaigns/{id}/claim`: the campaign's conditional `handed_out + 1`, the per-user
  counter upsert under the limit, the coupon `INSERT` with a fresh code; 201;
- `POST /v1/counter/orders/consume` (typed code): the conditional `UPDATE orders … WHERE
  status = 'paid' RETURNING`; 409 when nothing matched;
- `GET /v1/shops/nearby`: Corner's own nearby statement (the same SQL, see bench/nearby.py),
  one round trip on a connection with the discovery planner settings, the same page fields;
- `GET /v1/merchants/{m}/customers` (first page, a Corner cursor, or `q`) and
  `GET /v1/merchants/{m}/segments/{id}` (the bench's segment rules counted);
- `POST /v1/payments/wechatpay/callback` (BENCH_WECHATPAY_PUBLIC_KEY_FILE, _APIV3_KEY, _MCHID,
  _APPID): the RSA-SHA256 signature check and the AES-256-GCM decryption with `cryptography`
  (keys loaded once), mchid/appid compared, then the payment's conditional UPDATE (pending, same
  amount and currency) and the order's (pending_payment → paid) in one transaction; 204.
- `GET /v1/shops/{id}/page`: the statements Corner ran for one page (recorded by
  bench/shop_page.py, pickled at BENCH_SHOP_PAGE_STATEMENTS) with their parameters, in order,
  on one psycopg connection (Corner's driver: the statements are psycopg's text) that is, as
  Corner's discovery connections the page reads on, autocommit with the same settings; the
  rows answered as JSON.
"""

from __future__ import annotations

import base64
import gc
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.ids import new_id

POOLS: dict[str, Any] = {}
NEARBY_SQL: list[str] = []
SHOP_PAGE: list[tuple[str, Any]] = []

# -- counter writes ---------------------------------------------------------------------------

REDEEM_SQL = """
UPDATE coupons SET status = 'redeemed', redeemed_at = now()
WHERE code = $1 AND merchant_id = $2 AND status = 'active'
  AND valid_from <= now() AND valid_until > now()
RETURNING id, campaign_id, user_id
"""
REDEMPTION_SQL = """
INSERT INTO coupon_redemptions (id, merchant_id, coupon_id, campaign_id, shop_id, staff_user_id,
                                user_id, order_amount, discount_amount, currency, redeemed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, 'CNY', now())
RETURNING id
"""
CARD_SQL = """
SELECT c.id, c.merchant_id, c.currency, t.discount_percent, t.earn_points_per_unit,
  p.rule_version
FROM cards c JOIN card_tiers t ON t.id = c.tier_id JOIN card_programs p ON p.id = c.program_id
WHERE c.card_number = $1
"""
CARD_UPDATE_SQL = """
UPDATE cards SET points = points + $2, lifetime_spend = lifetime_spend + $3, updated_at = now()
WHERE id = $1 AND points + $2 >= 0
RETURNING points, principal, bonus
"""
LEDGER_SQL = """
INSERT INTO card_ledger (id, card_id, merchant_id, kind, points_delta, principal_delta,
  bonus_delta, points_after, principal_after, bonus_after, currency, amount, paid_amount,
  spend_delta, shop_id, staff_user_id, rule_version)
VALUES ($1, $2, $3, 'earn', $4, 0, 0, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13)
RETURNING seq, created_at
"""
TAKE_SQL = """
UPDATE coupon_campaigns SET handed_out = handed_out + 1
WHERE id = $1 AND status = 'published' AND claim_until > now() AND valid_until > now()
  AND (total_quantity IS NULL OR handed_out < total_quantity)
RETURNING merchant_id, valid_from, valid_until, per_user_limit
"""
COUNT_SQL = """
INSERT INTO coupon_claims (campaign_id, user_id, count) VALUES ($1, $2, 1)
ON CONFLICT (campaign_id, user_id) DO UPDATE SET count = coupon_claims.count + 1
WHERE coupon_claims.count < $3
RETURNING user_id
"""
COUPON_SQL = """
INSERT INTO coupons (id, merchant_id, campaign_id, user_id, code, status, source, valid_from,
                     valid_until, issued_at)
VALUES ($1, $2, $3, $4, $5, 'active', 'claim', $6, $7, now())
ON CONFLICT (code) DO NOTHING
RETURNING issued_at
"""
CONSUME_SQL = """
UPDATE orders SET status = 'consumed', consumed_at = now(), consumed_shop_id = $2,
                  consumed_by = $3, updated_at = now()
WHERE code = $1 AND status = 'paid'
RETURNING id, merchant_id, user_id, status, total, currency, consumed_at
"""

# -- customers --------------------------------------------------------------------------------

PAGE_SQL = """
SELECT id, user_id, name, phone, tier, tags, visits, total_spend, currency, first_seen_at,
       last_visit_at, rfm_segment
FROM customers
WHERE merchant_id = $1 AND last_visit_at IS NOT NULL {extra}
ORDER BY last_visit_at DESC, id DESC
LIMIT 21
"""
SEGMENT_COUNT_SQL = """
SELECT count(*) FROM customers
WHERE merchant_id = $1 AND r_score <= 2 AND total_spend >= 20000
  AND coalesce(last_visit_at, first_seen_at) < now() - interval '30 days'
"""


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _caller(request: Request) -> uuid.UUID:
    """The bearer token's subject, read without verifying anything (the floor does no auth)."""
    token = request.headers["authorization"].partition(" ")[2]
    payload = token.split(".")[1]
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return uuid.UUID(claims["sub"])


async def redeem(request: Request) -> Response:
    body = orjson.loads(await request.body())
    merchant, staff = POOLS["merchant_id"], POOLS["staff_user_id"]
    async with POOLS["write"].acquire() as conn, conn.transaction():
        row = await conn.fetchrow(REDEEM_SQL, body["code"], merchant)
        if row is None:
            return _json({"code": "coupon_already_redeemed"}, 409)
        rid = await conn.fetchval(
            REDEMPTION_SQL, new_id(), merchant, row["id"], row["campaign_id"],
            uuid.UUID(body["shop_id"]), staff, row["user_id"], 1000,
        )  # fmt: skip
    return _json({"redemption_id": str(rid), "coupon": {"id": str(row["id"])}})


async def card_transaction(request: Request) -> Response:
    body = orjson.loads(await request.body())
    amount = int(body["amount"]["amount"])
    async with POOLS["write"].acquire() as conn, conn.transaction():
        card = await conn.fetchrow(CARD_SQL, body["card"])
        if card is None:
            return _json({"code": "card_not_found"}, 404)
        paid = amount - amount * card["discount_percent"] // 100
        points = int((paid // 100) * card["earn_points_per_unit"])
        totals = await conn.fetchrow(CARD_UPDATE_SQL, card["id"], points, paid)
        entry_id = new_id()
        row = await conn.fetchrow(
            LEDGER_SQL, entry_id, card["id"], card["merchant_id"], points, totals["points"],
            totals["principal"], totals["bonus"], card["currency"], amount, paid,
            uuid.UUID(body["shop_id"]), POOLS["staff_user_id"], card["rule_version"],
        )  # fmt: skip
    payload = {
        "entry": {"id": str(entry_id), "kind": "earn", "points_delta": points,
                  "points_after": totals["points"], "created_at": row["created_at"].isoformat()},
        "card": {"id": str(card["id"]), "points": totals["points"]},
    }  # fmt: skip
    return _json(payload, 201)


async def claim(request: Request) -> Response:
    from coupons.codes import new_code

    campaign_id, user_id = uuid.UUID(request.path_params["campaign_id"]), _caller(request)
    async with POOLS["write"].acquire() as conn, conn.transaction():
        campaign = await conn.fetchrow(TAKE_SQL, campaign_id)
        if campaign is None:
            return _json({"code": "campaign_sold_out"}, 409)
        counted = await conn.fetchval(COUNT_SQL, campaign_id, user_id, campaign["per_user_limit"])
        if counted is None:  # raised inside the transaction: it rolls back
            raise _Refused(_json({"code": "claim_limit_reached"}, 409))
        coupon_id, code = new_id(), new_code()
        issued_at = await conn.fetchval(
            COUPON_SQL, coupon_id, campaign["merchant_id"], campaign_id, user_id, code,
            campaign["valid_from"], campaign["valid_until"],
        )  # fmt: skip
    return _json({"id": str(coupon_id), "code": code, "issued_at": issued_at.isoformat()}, 201)


class _Refused(Exception):
    """Rolls the reference's transaction back and answers `response`."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def consume(request: Request) -> Response:
    from orders.codes import normalise

    body = orjson.loads(await request.body())
    async with POOLS["write"].acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            CONSUME_SQL, normalise(body["code"]), uuid.UUID(body["shop_id"]),
            POOLS["staff_user_id"],
        )  # fmt: skip
    if row is None:
        return _json({"code": "order_already_consumed"}, 409)
    return _json({"id": str(row["id"]), "status": row["status"], "total": row["total"],
                  "consumed_at": row["consumed_at"].isoformat()})  # fmt: skip


# -- reads ------------------------------------------------------------------------------------


async def nearby(request: Request) -> Response:
    from merchants.service.nearby import first_pass_candidates

    if not NEARBY_SQL:
        from bench.nearby import reference_statement

        NEARBY_SQL.append(reference_statement())
    lat = float(request.query_params["lat"])
    lng = float(request.query_params["lng"])
    radius = float(request.query_params.get("radius_m", 2000))
    async with POOLS["discovery"].acquire() as conn:
        rows = await conn.fetch(NEARBY_SQL[0], lat, lng, radius, first_pass_candidates(21), 21)
    items = [{"id": r[0], "name": r[3], "category": r[4],
              "location": {"lat": round(r[5], 7), "lng": round(r[6], 7)},
              "distance_m": round(r[1], 1), "address": r[7],
              "rating": float(r[8]), "review_count": r[9]}
             for r in rows[:20]]  # fmt: skip
    return _json({"items": items})


async def customers_page(request: Request) -> Response:
    from core.pagination import decode_cursor

    merchant = uuid.UUID(request.path_params["merchant_id"])
    cursor, q = request.query_params.get("cursor"), request.query_params.get("q")
    async with POOLS["write"].acquire() as conn:
        if cursor:
            position = decode_cursor(cursor, ("v", "id"))
            assert position is not None
            rows = await conn.fetch(
                PAGE_SQL.format(extra="AND (last_visit_at, id) < ($2, $3)"), merchant,
                datetime.fromisoformat(position["v"]), uuid.UUID(position["id"]),
            )  # fmt: skip
        elif q:
            escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = await conn.fetch(
                PAGE_SQL.format(extra="AND name ILIKE $2"), merchant, f"%{escaped}%"
            )
        else:
            rows = await conn.fetch(PAGE_SQL.format(extra=""), merchant)
    return Response(orjson.dumps({"items": [dict(r) for r in rows[:20]]}, default=str),
                    media_type="application/json")  # fmt: skip


async def segment_count(request: Request) -> Response:
    merchant = uuid.UUID(request.path_params["merchant_id"])
    async with POOLS["write"].acquire() as conn:
        count = await conn.fetchval(SEGMENT_COUNT_SQL, merchant)
    return _json({"id": request.path_params["segment_id"], "customers": count})


# -- payment callbacks -------------------------------------------------------------------------

PAY_SQL = """
UPDATE payments SET status = 'succeeded', paid_at = now(), provider_transaction_id = $2,
                    updated_at = now()
WHERE reference = $1 AND status = 'pending' AND amount = $3 AND currency = $4
RETURNING id
"""
PAY_ORDER_SQL = """
UPDATE orders SET status = 'paid', paid_at = now(), updated_at = now()
WHERE provider_reference = $1 AND status = 'pending_payment'
"""


async def wechatpay_callback(request: Request) -> Response:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    body = await request.body()
    h = request.headers
    message = b"%s\n%s\n%s\n" % (h["wechatpay-timestamp"].encode(), h["wechatpay-nonce"].encode(),
                                  body)  # fmt: skip
    POOLS["wechatpay_key"].verify(base64.b64decode(h["wechatpay-signature"]), message,
                                  padding.PKCS1v15(), hashes.SHA256())  # fmt: skip
    resource = orjson.loads(body)["resource"]
    plain = POOLS["wechatpay_aead"].decrypt(resource["nonce"].encode(),
                                            base64.b64decode(resource["ciphertext"]),
                                            resource["associated_data"].encode())  # fmt: skip
    tx = orjson.loads(plain)
    if tx["mchid"] != POOLS["wechatpay_mchid"] or tx["appid"] != POOLS["wechatpay_appid"]:
        return _json({"code": "FAIL", "message": "not ours"}, 400)
    async with POOLS["write"].acquire() as conn, conn.transaction():
        moved = await conn.fetchrow(PAY_SQL, tx["out_trade_no"], tx["transaction_id"],
                                    tx["amount"]["total"], tx["amount"]["currency"])  # fmt: skip
        if moved is not None:
            await conn.execute(PAY_ORDER_SQL, tx["out_trade_no"])
    return Response(status_code=204)


def _wechatpay_keys() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key_file = os.environ.get("BENCH_WECHATPAY_PUBLIC_KEY_FILE")
    if key_file:
        with open(key_file, "rb") as pem:
            POOLS["wechatpay_key"] = load_pem_public_key(pem.read())
        POOLS["wechatpay_aead"] = AESGCM(os.environ["BENCH_WECHATPAY_APIV3_KEY"].encode())
        POOLS["wechatpay_mchid"] = os.environ["BENCH_WECHATPAY_MCHID"]
        POOLS["wechatpay_appid"] = os.environ["BENCH_WECHATPAY_APPID"]


async def shop_page(request: Request) -> Response:
    parts = []
    async with POOLS["psycopg"].connection() as conn:  # autocommit, as Corner's
        for statement, parameters in SHOP_PAGE:
            cursor = await conn.execute(statement, parameters)
            parts.append(await cursor.fetchall())
    return Response(orjson.dumps(parts, default=str), media_type="application/json")


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


def _refusal_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Refused)
    return exc.response


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    dsn, size = os.environ["BENCH_DATABASE_URL"], int(os.environ.get("BENCH_POOL_SIZE", "32"))
    POOLS["write"] = await asyncpg.create_pool(
        dsn, min_size=4, max_size=size, server_settings={"jit": "off"}
    )
    # Corner's discovery connections fix the KNN planner settings per connection
    POOLS["discovery"] = await asyncpg.create_pool(
        dsn, min_size=1, max_size=size,
        server_settings={"jit": "off", "enable_bitmapscan": "off"},
    )  # fmt: skip
    for key in ("staff_user_id", "merchant_id"):
        value = os.environ.get(f"BENCH_{key.upper()}")
        POOLS[key] = uuid.UUID(value) if value else None
    _wechatpay_keys()
    recorded = os.environ.get("BENCH_SHOP_PAGE_STATEMENTS")
    if recorded:
        import pickle
        from pathlib import Path

        from psycopg_pool import AsyncConnectionPool

        # written by bench/shop_page.py; read once at start-up, before any request
        SHOP_PAGE[:] = pickle.loads(Path(recorded).read_bytes())  # noqa: ASYNC240, S301
        from core.discovery import DISCOVERY_OPTIONS

        # the settings of Corner's discovery connections, which the page reads on
        POOLS["psycopg"] = AsyncConnectionPool(
            dsn, min_size=4, max_size=size, open=False,
            kwargs={"autocommit": True, "options": DISCOVERY_OPTIONS},
        )  # fmt: skip
        await POOLS["psycopg"].open()
    gc.collect()
    gc.freeze()  # as Corner's app does after start-up: no long full collections under load
    try:
        yield
    finally:
        await POOLS["write"].close()
        await POOLS["discovery"].close()
        if "psycopg" in POOLS:
            await POOLS["psycopg"].close()


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/v1/counter/redeem", redeem, methods=["POST"]),
        Route("/v1/counter/transactions", card_transaction, methods=["POST"]),
        Route("/v1/campaigns/{campaign_id}/claim", claim, methods=["POST"]),
        Route("/v1/counter/orders/consume", consume, methods=["POST"]),
        Route("/v1/shops/nearby", nearby),
        Route("/v1/merchants/{merchant_id}/customers", customers_page),
        Route("/v1/merchants/{merchant_id}/segments/{segment_id}", segment_count),
        Route("/v1/payments/wechatpay/callback", wechatpay_callback, methods=["POST"]),
        Route("/v1/shops/{shop_id}/page", shop_page),
    ],
    exception_handlers={_Refused: _refusal_handler},
    lifespan=lifespan,
)
