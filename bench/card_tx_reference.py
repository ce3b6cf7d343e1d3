"""The raw reference for bench/card_tx.py: Starlette + asyncpg doing the same card work.

One purchase = in one transaction: read the card with its tier by number, add the points with
a conditional UPDATE … RETURNING, insert the ledger row with the running totals. No auth, no
idempotency, no customer record: the floor any implementation pays for the same SQL.
Run: uvicorn bench.card_tx_reference:app (DATABASE_URL from the environment).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.ids import new_id

POOL: dict[str, Any] = {}

CARD_SQL = """
SELECT c.id, c.merchant_id, c.currency, t.discount_percent, t.earn_points_per_unit
FROM cards c JOIN card_tiers t ON t.id = c.tier_id
WHERE c.card_number = $1
"""
UPDATE_SQL = """
UPDATE cards SET points = points + $2, lifetime_spend = lifetime_spend + $3, updated_at = now()
WHERE id = $1 AND points + $2 >= 0
RETURNING points, principal, bonus
"""
LEDGER_SQL = """
INSERT INTO card_ledger (id, card_id, merchant_id, kind, points_delta, principal_delta,
  bonus_delta, points_after, principal_after, bonus_after, currency, amount, paid_amount,
  spend_delta, shop_id, staff_user_id)
VALUES ($1, $2, $3, 'earn', $4, 0, 0, $5, $6, $7, $8, $9, $10, $10, $11, $12)
RETURNING seq, created_at
"""


async def purchase(request: Request) -> Response:
    body = orjson.loads(await request.body())
    amount = int(body["amount"]["amount"])
    pool: asyncpg.Pool = POOL["pool"]
    async with pool.acquire() as conn, conn.transaction():
        card = await conn.fetchrow(CARD_SQL, body["card"])
        if card is None:
            return Response(b'{"code":"card_not_found"}', status_code=404)
        paid = amount - amount * card["discount_percent"] // 100
        points = int((paid // 100) * card["earn_points_per_unit"])
        totals = await conn.fetchrow(UPDATE_SQL, card["id"], points, paid)
        entry_id = new_id()
        row = await conn.fetchrow(
            LEDGER_SQL,
            entry_id,
            card["id"],
            card["merchant_id"],
            points,
            totals["points"],
            totals["principal"],
            totals["bonus"],
            card["currency"],
            amount,
            paid,
            uuid.UUID(body["shop_id"]),
            uuid.UUID(POOL["staff_user_id"]),
        )
    payload = {
        "entry": {
            "id": str(entry_id),
            "kind": "earn",
            "points_delta": points,
            "points_after": totals["points"],
            "created_at": row["created_at"].isoformat(),
        },
        "card": {"id": str(card["id"]), "points": totals["points"]},
    }
    return Response(orjson.dumps(payload), status_code=201, media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    POOL["pool"] = await asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"],
        min_size=8,
        max_size=int(os.environ.get("BENCH_POOL_SIZE", "32")),
        server_settings={"jit": "off"},
    )
    POOL["staff_user_id"] = os.environ["BENCH_STAFF_USER_ID"]
    try:
        yield
    finally:
        await POOL["pool"].close()


app = Starlette(routes=[Route("/tx", purchase, methods=["POST"])], lifespan=lifespan)
