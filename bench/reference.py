"""The raw references of the HTTP benches: Starlette + asyncpg + orjson on Corner's own paths.

Run: `uvicorn bench.reference:app` with BENCH_DATABASE_URL (libpq URL), BENCH_STAFF_USER_ID
and BENCH_MERCHANT_ID (the counter benches' clerk and merchant) in the environment, and
BENCH_REFERENCE=floor (the default) or same-sql.

Two kinds of reference, both without the framework (no JWT signature check, no dependency
solving, no pydantic, no ORM: asyncpg, orjson and Starlette's routing):

**same-sql** (`BENCH_REFERENCE=same-sql`; issue 21's reference: "a raw Starlette+asyncpg
reference doing the same statements"): for coupon redeem, order consume and the payment
callback it runs the statements Corner's route runs for the same request, in the same order
and round trips, with the same SQL text: Corner's compiled statements (`core.lean.Statement`,
imported from the module that runs them) with their `%(name)s` parameters numbered for asyncpg
(`Same`), the same parameter values, the same Redis command (the revocation EXISTS of
accounts/revocation.py). What it leaves out is the framework's own work: the JWT signature
(the caller is the token's `sub`, read without checking; the check costs a cached dict lookup
in Corner), body validation by pydantic (orjson only), the response model (a dict). It is
never slowed artificially: when Corner folds statements, this reference runs the folded ones.
`tests/core/test_bench_reference.py` runs Corner and this reference on the same requests and
compares the statements each sends to PostgreSQL.

- `POST /v1/counter/redeem`: Redis EXISTS `revoked:user:<id>` (and the sign-in's family when
  the token names one); with an `Idempotency-Key`: the key's claim INSERT (a replay reads the
  stored answer); the coupon + campaign + caller's role + shop-of-merchant lookup in one
  statement; the checks in Python (role, status, validity window, eligible shops, shop of the
  merchant, minimum spend); the conditional `UPDATE coupons … RETURNING` feeding the
  redemption INSERT; the customer-activity upsert (and the first-purchase follow-ups when it
  is one); the stored answer's UPDATE; commit; the answer with RedeemResult's fields.
- `POST /v1/counter/orders/consume`: the same Redis EXISTS; the key's claim; the order + role
  + shop lookup; the conditional `UPDATE orders … WHERE status = 'paid'`; the customer
  activity (and first-purchase follow-ups); the order's items; the stored answer; commit.
- `POST /v1/payments/wechatpay/callback`: as the floor's signature check and decryption, then
  Corner's fast path: one statement (the payment locked and moved with its `applied` event,
  the order locked and paid, the customer-activity record) on a pool connection without a
  transaction block, as Corner runs it; 204.
Other routes are the floor's in both modes (card transactions, claims and the reads have their
own references; see their benches).

**floor** (`BENCH_REFERENCE=floor`, the default): the least any implementation pays for the
core write, not the same SQL: no authentication (the caller is read from the bearer token's
payload without checking its signature, or is the configured clerk), no tenant, role or shop
check, no idempotency key, no customer-activity record, no Redis. Kept as a second, lower
yardstick (the counter benches print both ratios); issue 21's targets are judged against
same-sql, issue 20's callback target against the floor's callback (the issue defines its
reference as "the same signature check and conditional update"). Each floor route does
exactly this, in one transaction where it writes:


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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
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


def _token_claims(request: Request) -> dict[str, Any]:
    """The bearer token's payload, read without verifying anything (see the module's
    docstring: the signature check is the framework's cost, a cached lookup in Corner)."""
    token = request.headers["authorization"].partition(" ")[2]
    payload = token.split(".")[1]
    claims: dict[str, Any] = orjson.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _caller(request: Request) -> uuid.UUID:
    """The bearer token's subject (the floor does no auth)."""
    return uuid.UUID(_token_claims(request)["sub"])


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


# -- same statements as Corner (BENCH_REFERENCE=same-sql) ------------------------------------


class Same:
    """One of Corner's compiled statements (`core.lean.Statement`) as asyncpg runs it: the
    text and argument order Corner's own asyncpg path uses (`Statement.numbered_sql`,
    `Statement.args`: psycopg's `%(name)s` numbered `$1…`, the statement's anonymous literal
    values such as `'active'` bound as Corner binds them)."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self.sql = statement.numbered_sql

    def args(self, params: dict[str, Any]) -> list[Any]:
        return self.statement.args(params)  # type: ignore[no-any-return]

    async def one(self, conn: Any, params: dict[str, Any]) -> Any:
        return await conn.fetchrow(self.sql, *self.args(params))

    async def all(self, conn: Any, params: dict[str, Any]) -> Any:
        return await conn.fetch(self.sql, *self.args(params))


SAME: dict[str, Any] = {}


def _same_statements() -> None:
    """Corner's statements, from the modules that run them (built once, at start-up)."""
    from accounts.service import staff_role_expression
    from core.idempotency import _statements as idempotency_statements
    from coupons.models import Campaign, Coupon
    from coupons.repository.counter import _counter_statement, _redeem
    from customers.repository.activity import _record
    from customers.repository.followups import _schedule_first_purchase
    from customers.service import recorded_from
    from merchants.service import shop_of_merchant_sql
    from orders.models import Order, OrderItem
    from orders.repository import orders as order_statements
    from orders.service.moves import paid_activity

    claim, record, store = idempotency_statements()
    SAME.update(
        claim=Same(claim), record=Same(record), store=Same(store),
        coupon=Same(_counter_statement(staff_role_expression, shop_of_merchant_sql)),
        redeem=Same(_redeem()), activity=Same(_record(False)),
        activity_of_customer=Same(_record(True)),
        first_purchase=Same(_schedule_first_purchase()),
        order=Same(order_statements._counter_statement(staff_role_expression,
                                                       shop_of_merchant_sql)),
        consume=Same(order_statements._consume_statement()),
        items=Same(order_statements._items_statement()),
        pay_fast=Same(order_statements._pay_fast_statement(recorded_from)),
        paid_activity=paid_activity,
        coupon_keys=list(Coupon.__table__.c.keys()),
        campaign_keys=list(Campaign.__table__.c.keys()),
        order_keys=list(Order.__table__.c.keys()),
        item_keys=list(OrderItem.__table__.c.keys()),
    )  # fmt: skip
    _card_and_claim_statements()


def _card_and_claim_statements() -> None:
    """A card purchase's statements (memberships, customers) and a claim's (coupons), from
    the modules that run them; the column names of the rows they return (`Detached.keys`)."""
    from accounts.service import staff_role_expression
    from coupons.repository.campaigns import _claim_statements
    from coupons.repository.claim_counters import _increment_statement
    from coupons.repository.coupons import _insert_statement
    from coupons.repository.rows import CAMPAIGN, COUPON
    from customers.repository.activity import _tier_statement
    from memberships.repository import cards, programs, tiers
    from merchants.service import shop_of_merchant_sql

    campaign, take = _claim_statements()
    SAME.update(
        card=Same(cards._context_statement("number", staff_role_expression,
                                           shop_of_merchant_sql)),
        post=Same(cards._post_statement()), spend=Same(cards._spend_statement()),
        version=Same(programs._statements()["version"]),
        tiers=Same(programs._statements()["tiers"]),
        move_tier=Same(tiers._move_statement()), tier_change=Same(tiers._record_statement()),
        customer_tier=Same(_tier_statement()),
        campaign=Same(campaign), take=Same(take), count=Same(_increment_statement()),
        coupons=Same(_insert_statement()),
        card_keys=cards._CARD.keys, program_keys=cards._PROGRAM.keys,
        tier_keys=cards._TIER.keys, entry_keys=cards._LEDGER.keys,
        ledger_values=cards._LEDGER_VALUES, change_values=tiers._CHANGE_VALUES,
        claim_campaign_keys=CAMPAIGN.keys, claim_coupon_keys=COUPON.keys,
    )  # fmt: skip


def _claims(request: Request) -> tuple[uuid.UUID, list[str]]:
    """The caller (the token's `sub`, its signature not checked) and the deny-list keys
    Corner's authentication reads for that token (accounts/revocation.py)."""
    claims = _token_claims(request)
    user = uuid.UUID(claims["sub"])
    keys = [f"revoked:user:{user.hex}"]
    if claims.get("fam"):
        keys.append(f"revoked:family:{claims['fam']}")
    return user, keys


async def _revoked(keys: list[str]) -> bool:
    return bool(await POOLS["redis"].exists(*keys))


def _problem(status: int, code: str) -> Response:
    return Response(orjson.dumps({"status": status, "code": code}), status_code=status,
                    media_type="application/problem+json")  # fmt: skip


async def _signed_in(request: Request) -> uuid.UUID | Response:
    """The caller as Corner's authentication leaves it (accounts.permissions): the token's
    subject once the revocation EXISTS in Redis said neither the user nor the sign-in is
    revoked; a revoked token's 401 otherwise. Every same-SQL handler starts here."""
    user, keys = _claims(request)
    if await _revoked(keys):
        return _problem(401, "invalid_token")
    return user


@dataclass(frozen=True, slots=True)
class CounterCall:
    """What a same-SQL counter handler has read before its transaction (`_counter_call`)."""

    user: uuid.UUID  # the clerk (the token's subject, not revoked)
    body: dict[str, Any]  # the JSON body as sent
    key: str | None  # the Idempotency-Key header (None: the request has none)
    code: str  # the typed code or card number, normalised as Corner normalises it
    shop_id: uuid.UUID  # the counter's shop (body `shop_id`)
    now: datetime


async def _counter_call(
    request: Request,
    *,
    normalise: Callable[[str], str],
    valid: Callable[[str], bool],
    invalid: tuple[int, str],
    field: str = "code",
) -> CounterCall | Response:
    """The preamble every same-SQL counter handler shares: `_signed_in`, the body (orjson),
    the Idempotency-Key, the body's `field` normalised by `normalise` (the function Corner's
    service uses) and refused with `invalid` (status, code) when `valid` says no, the shop."""
    user = await _signed_in(request)
    if isinstance(user, Response):
        return user
    body = orjson.loads(await request.body())
    code = normalise(body[field])
    if not valid(code):
        return _problem(*invalid)
    key = request.headers.get("idempotency-key")
    return CounterCall(user, body, key, code, uuid.UUID(body["shop_id"]), datetime.now(UTC))


async def _replay_or_claim(conn: Any, scope: str, key: str | None, payload: Any) -> Any:
    """Corner's `core.idempotency.idempotent` before the work: None to go on, or the stored
    answer (a `_Refused` for a reused key)."""
    from core.idempotency import request_fingerprint

    if key is None:
        return None
    names = {"p_scope": scope, "p_key": key}
    fingerprint = request_fingerprint(payload)
    if await SAME["claim"].one(conn, names | {"p_hash": fingerprint}) is not None:
        return None
    found = await SAME["record"].one(conn, names)
    if bytes(found[0]) != fingerprint:
        raise _Refused(_problem(409, "idempotency_key_reused"))
    return Response(found[2], status_code=found[1], media_type="application/json",
                    headers={"Idempotent-Replayed": "true"})  # fmt: skip


async def _store(conn: Any, scope: str, key: str | None, body: bytes, status: int) -> None:
    if key is not None:
        params = {"p_scope": scope, "p_key": key, "p_status": status, "p_body": body.decode()}
        await conn.execute(SAME["store"].sql, *SAME["store"].args(params))


async def _activity(conn: Any, **event: Any) -> None:
    """customers.record_activity: the upsert + timeline + rollup statement (by the user, or
    without one by the customer record's id), and the first-purchase follow-ups when this is
    the customer's first purchase."""
    from customers.repository.activity import _upsert_params

    reference_id, customer_id = event.pop("reference_id"), event.pop("customer_id", None)
    params = _upsert_params(**event) | {"reference_id": reference_id}
    if event["user_id"] is None:  # a walk-in customer's card: the record by its own id
        row = await SAME["activity_of_customer"].one(conn, params | {"id": customer_id})
    else:
        row = await SAME["activity"].one(conn, params)
    if event["spend"] > 0 and row[1] == event["spend"]:
        await conn.execute(
            SAME["first_purchase"].sql,
            *SAME["first_purchase"].args(
                {"merchant_id": event["merchant_id"], "customer_id": row[0], "at": event["at"]}
            ),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _money(amount: int | None, currency: str) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": currency}


async def redeem_same(request: Request) -> Response:
    from coupons import codes

    call = await _counter_call(request, normalise=codes.normalise, valid=codes.is_valid,
                               invalid=(422, "coupon_code_invalid"))  # fmt: skip
    if isinstance(call, Response):
        return call
    payload = {"code": call.body["code"], "qr": None, "shop_id": call.body["shop_id"],
               "order_amount": call.body.get("order_amount")}  # fmt: skip
    scope = f"redeem:{call.user}"
    async with POOLS["write"].acquire() as conn, conn.transaction():
        replay = await _replay_or_claim(conn, scope, call.key, payload)
        if replay is not None:
            return replay  # type: ignore[no-any-return]
        row = await SAME["coupon"].one(conn, {"code": call.code, "staff_user_id": call.user,
                                              "shop_id": call.shop_id})  # fmt: skip
        split = len(SAME["coupon_keys"])
        end = split + len(SAME["campaign_keys"])
        if row is None or row[end] is None:
            raise _Refused(_problem(404, "coupon_not_found"))
        coupon = dict(zip(SAME["coupon_keys"], row[:split], strict=True))
        campaign = dict(zip(SAME["campaign_keys"], row[split:end], strict=True))
        if (coupon["status"] != "active" or coupon["valid_until"] <= call.now
                or coupon["valid_from"] > call.now or not row[end + 1]
                or (campaign["shop_ids"] is not None and call.shop_id not in campaign["shop_ids"])
                or campaign["min_spend"]):  # fmt: skip
            raise _Refused(_problem(409, "coupon_not_redeemable"))
        currency = campaign["currency"]
        discount = campaign["discount_amount"] if campaign["discount_kind"] == "amount_off" else 0
        done = await SAME["redeem"].one(conn, {
            "p_coupon_id": coupon["id"], "p_merchant_id": coupon["merchant_id"],
            "p_shop_id": call.shop_id, "p_staff_user_id": call.user, "p_order_amount": None,
            "p_discount_amount": discount, "p_currency": currency, "p_now": call.now,
            "p_redemption_id": new_id()})  # fmt: skip
        if done is None:
            raise _Refused(_problem(409, "coupon_already_redeemed"))
        if coupon["user_id"] is not None:
            await _activity(conn, merchant_id=coupon["merchant_id"], user_id=coupon["user_id"],
                            source="coupon_redeemed", at=call.now, spend=0, currency=currency,
                            visit=True, tier=None, reference_id=done[0])  # fmt: skip
        off = {"kind": campaign["discount_kind"], "amount": _money(discount, currency),
               "percent": campaign["discount_percent"],
               "max_off": _money(campaign["max_off"], currency),
               "gift_name": campaign["gift_name"]}  # fmt: skip
        answer = orjson.dumps({
            "redemption_id": str(done[0]),
            "coupon": {
                "id": str(coupon["id"]), "campaign_id": str(coupon["campaign_id"]),
                "merchant_id": str(coupon["merchant_id"]), "code": call.code,
                "code_display": codes.display(call.code), "status": "redeemed",
                "source": coupon["source"], "valid_from": _iso(coupon["valid_from"]),
                "valid_until": _iso(coupon["valid_until"]), "issued_at": _iso(coupon["issued_at"]),
                "redeemed_at": _iso(done[1]),
                "campaign": {"id": str(campaign["id"]), "merchant_id": str(campaign["merchant_id"]),
                             "name": campaign["name"],
                             "discount": {"kind": off["kind"], "value": off["amount"]},
                             "min_spend": None, "shop_ids": campaign["shop_ids"],
                             "flash": campaign["flash"]},
            },
            "discount": off, "order_amount": None, "pay_amount": None,
            "shop_id": str(call.shop_id), "redeemed_at": _iso(done[1]),
        })  # fmt: skip
        await _store(conn, scope, call.key, answer, 200)
    return Response(answer, media_type="application/json")


def _entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    """memberships.service.ledger.entry_schema's fields."""
    cur = entry["currency"]
    return {
        "id": str(entry["id"]), "card_id": str(entry["card_id"]), "kind": entry["kind"],
        "points_delta": entry["points_delta"],
        "balance_delta": entry["principal_delta"] + entry["bonus_delta"],
        "principal_delta": entry["principal_delta"], "bonus_delta": entry["bonus_delta"],
        "points_after": entry["points_after"],
        "balance_after": entry["principal_after"] + entry["bonus_after"],
        "principal_after": entry["principal_after"], "bonus_after": entry["bonus_after"],
        "currency": cur, "amount": _money(entry["amount"], cur),
        "paid": _money(entry["paid_amount"], cur), "shop_id": str(entry["shop_id"]),
        "staff_user_id": str(entry["staff_user_id"]), "reverses_entry_id": None,
        "topup_id": None, "count_pass_id": None, "uses_delta": entry["uses_delta"],
        "uses_after": entry["uses_after"], "note": entry["note"],
        "rule_version": entry["rule_version"], "created_at": _iso(entry["created_at"]),
    }  # fmt: skip


def _card_view(card: dict[str, Any], tier: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """memberships.service.cards.card_schema's fields, the totals after `entry`."""
    cur = card["currency"]
    return {
        "id": str(card["id"]), "program_id": str(card["program_id"]),
        "merchant_id": str(card["merchant_id"]), "card_number": card["card_number"],
        "tier": {"code": tier["code"], "name": tier["name"], "rank": tier["rank"],
                 "discount_percent": tier["discount_percent"]},
        "points": entry["points_after"],
        "balance": _money(entry["principal_after"] + entry["bonus_after"], cur),
        "principal": _money(entry["principal_after"], cur),
        "bonus": _money(entry["bonus_after"], cur), "has_pin": card["pin_hash"] is not None,
        "progress": None, "count_passes": None, "physical_card_number": None,
        "created_at": _iso(card["created_at"]),
    }  # fmt: skip


def _typed_card_number(number: str) -> bool:
    """A number of the shape Corner issues (the counter's typed-number path); pre-printed
    numbers and QR tokens take other statements, which this reference does not run."""
    from memberships import cardnumbers, physical

    return (number.isdigit() and cardnumbers.is_valid_card_number(number)
            and physical.in_virtual_range(number))  # fmt: skip


async def _upgrade(
    conn: Any,
    card: dict[str, Any],
    program: dict[str, Any],
    tier: dict[str, Any],
    threshold: int,
    lifetime_spend: int,
    now: datetime,
) -> dict[str, Any]:
    """memberships.service.ledger.maybe_upgrade: the tier the card is in after the purchase
    (the 12-month spend, the rule version's tiers, the conditional move, its record, the
    customer's tier), the same statements when the lifetime spend reached the next tier."""
    from memberships import rules
    from memberships.service.cards import months_ago
    from memberships.service.programs import snapshot_tiers

    if lifetime_spend < threshold:
        return tier
    rows = await SAME["spend"].all(conn, {"card_ids": [card["id"]],
                                          "since": months_ago(now, 12)})  # fmt: skip
    spend = max(0, int(rows[0][1])) if rows else 0
    if spend < threshold:
        return tier
    names = {"program_id": program["id"]}
    found = await SAME["version"].one(conn, names | {"version": program["rule_version"]})
    if found is not None:
        snapshot = found[0]
        version_tiers = snapshot_tiers(orjson.loads(snapshot) if isinstance(snapshot, str)
                                       else snapshot)  # fmt: skip
    else:  # a programme seeded without its snapshot
        fields = ("code", "name", "rank", "discount_percent", "earn_points_per_unit",
                  "upgrade_min_spend_12m")  # fmt: skip
        version_tiers = [
            rules.TierRule(**{f: t[f] for f in fields})
            for t in (dict(zip(SAME["tier_keys"], r, strict=True))
                      for r in await SAME["tiers"].all(conn, names))
        ]  # fmt: skip
    target = rules.tier_after_spend(version_tiers, tier["rank"], spend)
    if target is None:
        return tier
    moved = await SAME["move_tier"].one(conn, {"card_id": card["id"], "from_tier_id": tier["id"],
                                               "code": target.code})  # fmt: skip
    if moved is None:
        return tier
    new_tier = dict(zip(SAME["tier_keys"], moved[:-1], strict=True))
    await SAME["tier_change"].one(conn, {
        "id": new_id(), "card_id": card["id"], "merchant_id": card["merchant_id"],
        "from_tier": tier["code"], "to_tier": new_tier["code"],
        "direction": "up" if target.rank > tier["rank"] else "down", "reason": "purchase",
        "spend_12m": spend, "currency": card["currency"],
        "rule_version": program["rule_version"]})  # fmt: skip
    if card["user_id"] is not None:
        await SAME["customer_tier"].one(conn, {"p_merchant_id": card["merchant_id"],
                                               "p_user_id": card["user_id"],
                                               "p_tier": new_tier["code"]})  # fmt: skip
    return new_tier


async def card_transaction_same(request: Request) -> Response:
    """A purchase on a typed card number as Corner's route runs it (other kinds and card
    forms: 501, not served): the Redis EXISTS, the key's claim, the card + programme + tier
    + role + shop statement, the currency check, the tier discount and points in Python, the
    conditional totals UPDATE feeding the ledger INSERT (one statement: the ledger
    invariant), the tier upgrade when the spend reached the next tier, the customer-activity
    upsert, the stored answer, commit."""
    from memberships import cardnumbers, rules

    call = await _counter_call(
        request, field="card", normalise=cardnumbers.normalise_card_number,
        valid=_typed_card_number, invalid=(501, "the reference serves typed card numbers"),
    )  # fmt: skip
    if isinstance(call, Response):
        return call
    body = call.body
    if body.get("kind") != "purchase":
        return _problem(501, "the reference serves purchases")
    money = {"amount": body["amount"]["amount"],
             "currency": body["amount"].get("currency", "CNY")}  # fmt: skip
    payload = {"card": body["card"], "shop_id": body["shop_id"], "kind": "purchase",
               "amount": money, "points": None, "pin": None, "note": body.get("note"),
               "pass_id": None, "count_product_id": None}  # fmt: skip
    scope = f"card_tx:{call.user}"
    async with POOLS["write"].acquire() as conn, conn.transaction():
        replay = await _replay_or_claim(conn, scope, call.key, payload)
        if replay is not None:
            return replay  # type: ignore[no-any-return]
        row = await SAME["card"].one(conn, {"p_number": call.code, "p_staff_user_id": call.user,
                                            "p_shop_id": call.shop_id})  # fmt: skip
        program_at = len(SAME["card_keys"])
        tier_at = program_at + len(SAME["program_keys"])
        end = tier_at + len(SAME["tier_keys"])
        if row is None or row[end + 1] is None:  # no such card, or no role at its merchant
            raise _Refused(_problem(404, "card_not_found"))
        if not row[end + 2]:
            raise _Refused(_problem(404, "shop_not_found"))
        card = dict(zip(SAME["card_keys"], row[:program_at], strict=True))
        program = dict(zip(SAME["program_keys"], row[program_at:tier_at], strict=True))
        tier = dict(zip(SAME["tier_keys"], row[tier_at:end], strict=True))
        if money["currency"] != card["currency"]:
            raise _Refused(_problem(422, "currency_mismatch"))
        paid, discount = rules.discounted(money["amount"], tier["discount_percent"])
        earned = rules.points_earned(paid, tier["earn_points_per_unit"])
        values = dict.fromkeys(SAME["ledger_values"]) | {
            "card_id": card["id"], "merchant_id": card["merchant_id"], "kind": "earn",
            "points_delta": earned, "principal_delta": 0, "bonus_delta": 0,
            "currency": card["currency"], "amount": money["amount"], "paid_amount": paid,
            "spend_delta": paid, "shop_id": call.shop_id, "staff_user_id": call.user,
            "uses_delta": 0, "note": body.get("note"), "rule_version": program["rule_version"],
        }  # fmt: skip
        params = {f"p_{name}": value for name, value in values.items()}
        params |= {"p_id": new_id(), "p_points": earned, "p_principal": 0, "p_bonus": 0,
                   "p_spend": paid}  # fmt: skip
        posted = await SAME["post"].one(conn, params)
        if posted is None:
            raise _Refused(_problem(409, "insufficient_balance"))
        entry = dict(zip(SAME["entry_keys"], posted[:-1], strict=True))
        if row[end] is not None:
            tier = await _upgrade(conn, card, program, tier, row[end], posted[-1], call.now)
        await _activity(conn, merchant_id=card["merchant_id"], user_id=card["user_id"],
                        customer_id=card["customer_id"], source="card_transaction", at=call.now,
                        spend=paid, currency=card["currency"], visit=True, tier=tier["code"],
                        reference_id=entry["id"])  # fmt: skip
        answer = orjson.dumps({
            "entry": _entry_view(entry), "card": _card_view(card, tier, entry),
            "discount": _money(discount, card["currency"]), "count_pass": None,
        })  # fmt: skip
        await _store(conn, scope, call.key, answer, 201)
    return Response(answer, status_code=201, media_type="application/json")


def _claim_refusal(campaign: dict[str, Any], now: datetime) -> Response | None:
    """coupons.service.claim's `_refuse_unless_open`: the refusal, or None (open)."""
    if campaign["status"] == "draft":
        return _problem(404, "campaign_not_found")
    if (campaign["status"] != "published" or campaign["claim_until"] <= now
            or campaign["valid_until"] <= now):  # fmt: skip
        return _problem(409, "campaign_not_active")
    total = campaign["total_quantity"]
    if total is not None and campaign["handed_out"] >= total:
        return _problem(409, "campaign_sold_out")
    return None


async def claim_same(request: Request) -> Response:
    """A claim as Corner's route runs it (public and listed-customer audiences; others 501,
    not served): the Redis EXISTS and the claim-rate script, the campaign read and the
    checks in Python, the conditional `handed_out + 1` (a refusal there reads the campaign
    again to say why), the per-user counter upsert, the coupon INSERT (a new code on a
    collision), the customer-activity upsert, commit."""
    from core import ratelimit
    from coupons import codes
    from coupons.service.claim import MAX_CODE_ATTEMPTS
    from coupons.service.throttle import CLAIMS_PER_WINDOW, WINDOW_SECONDS

    user = await _signed_in(request)
    if isinstance(user, Response):
        return user
    campaign_id = uuid.UUID(request.path_params["campaign_id"])
    count, _ = await ratelimit.increment(POOLS["redis"], f"claim:user:{user}", WINDOW_SECONDS)
    if count > CLAIMS_PER_WINDOW:
        return _problem(429, "rate_limited")
    now, keys = datetime.now(UTC), SAME["claim_campaign_keys"]
    async with POOLS["write"].acquire() as conn, conn.transaction():
        row = await SAME["campaign"].one(conn, {"campaign_id": campaign_id})
        if row is None:
            raise _Refused(_problem(404, "campaign_not_found"))
        campaign = dict(zip(keys, row, strict=True))
        refusal = _claim_refusal(campaign, now)
        if refusal is not None:
            raise _Refused(refusal)
        if campaign["audience_kind"] == "customers":
            if user not in (campaign["audience_user_ids"] or []):
                raise _Refused(_problem(403, "not_in_audience"))
        elif campaign["audience_kind"] != "public":  # resolvers run statements of their own
            raise _Refused(_problem(501, "the reference serves public and listed audiences"))
        if await SAME["take"].one(conn, {"campaign_id": campaign_id, "now": now}) is None:
            fresh = await SAME["campaign"].one(conn, {"campaign_id": campaign_id})
            if fresh is None:
                raise _Refused(_problem(404, "campaign_not_found"))
            refusal = _claim_refusal(dict(zip(keys, fresh, strict=True)), now)
            raise _Refused(refusal or _problem(409, "campaign_sold_out"))
        counted = await SAME["count"].one(
            conn,
            {
                "campaign_id": campaign_id,
                "user_id": user,
                "per_user_limit": campaign["per_user_limit"],
            },
        )
        if counted is None:
            raise _Refused(_problem(409, "claim_limit_reached"))
        for _ in range(MAX_CODE_ATTEMPTS):  # a taken code is skipped: try another
            inserted = await SAME["coupons"].all(conn, {
                "ids": [new_id()], "user_ids": [user], "codes": [codes.new_code()],
                "merchant_id": campaign["merchant_id"], "campaign_id": campaign_id,
                "source": "claim", "valid_from": campaign["valid_from"],
                "valid_until": campaign["valid_until"], "issued_at": now})  # fmt: skip
            if inserted:
                break
        coupon = dict(zip(SAME["claim_coupon_keys"], inserted[0], strict=True))
        await _activity(conn, merchant_id=campaign["merchant_id"], user_id=user,
                        source="coupon_claimed", at=now, spend=0, currency="CNY", visit=False,
                        tier=None, reference_id=coupon["id"])  # fmt: skip
    cur, kind = campaign["currency"], campaign["discount_kind"]
    value = (_money(campaign["discount_amount"], cur) if kind == "amount_off"
             else campaign["discount_percent"])  # fmt: skip
    answer = {
        "id": str(coupon["id"]), "campaign_id": str(campaign_id),
        "merchant_id": str(coupon["merchant_id"]), "code": coupon["code"],
        "code_display": codes.display(coupon["code"]), "status": coupon["status"],
        "source": "claim", "valid_from": _iso(coupon["valid_from"]),
        "valid_until": _iso(coupon["valid_until"]), "issued_at": _iso(coupon["issued_at"]),
        "redeemed_at": None,
        "campaign": {"id": str(campaign_id), "merchant_id": str(campaign["merchant_id"]),
                     "name": campaign["name"], "discount": {"kind": kind, "value": value},
                     "min_spend": _money(campaign["min_spend"], cur),
                     "shop_ids": campaign["shop_ids"], "flash": campaign["flash"]},
    }  # fmt: skip
    return Response(orjson.dumps(answer, default=str), status_code=201,
                    media_type="application/json")  # fmt: skip


def _order_view(order: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    from orders import codes

    cur = order["currency"]
    return {
        "kind": "order", "id": str(order["id"]), "merchant_id": str(order["merchant_id"]),
        "shop_id": str(order["shop_id"]), "user_id": str(order["user_id"]),
        "code": order["code"], "code_display": codes.display(order["code"]),
        "name": "", "status": order["status"],
        "items": [{"offering_id": str(i["offering_id"]), "name": i["name"],
                   "unit_price": _money(i["unit_price"], cur), "quantity": i["quantity"],
                   "line_total": _money(i["line_total"], cur)} for i in items],
        "subtotal": _money(order["subtotal"], cur), "coupon": None, "card": None,
        "discount": _money(order["subtotal"] - order["total"], cur),
        "total": _money(order["total"], cur), "payment": None,
        "expires_at": _iso(order["expires_at"]), "paid_at": _iso(order["paid_at"]),
        "consumed_at": _iso(order["consumed_at"]),
        "consumed_shop_id": str(order["consumed_shop_id"]),
        "refunded_at": _iso(order["refunded_at"]), "closed_at": _iso(order["closed_at"]),
        "refund_policy": order["refund_policy"], "usable_until": _iso(order["usable_until"]),
        "created_at": _iso(order["created_at"]),
    }  # fmt: skip


async def consume_same(request: Request) -> Response:
    from orders import codes

    user, keys = _claims(request)
    if await _revoked(keys):
        return _problem(401, "invalid_token")
    body = orjson.loads(await request.body())
    key = request.headers.get("idempotency-key")
    code, shop_id = codes.normalise(body["code"]), uuid.UUID(body["shop_id"])
    if not codes.is_valid(code):
        return _problem(422, "order_code_invalid")
    payload = {"code": body["code"], "qr": None, "shop_id": body["shop_id"]}
    scope, now = f"order_consume:{user}", datetime.now(UTC)
    async with POOLS["write"].acquire() as conn, conn.transaction():
        replay = await _replay_or_claim(conn, scope, key, payload)
        if replay is not None:
            return replay  # type: ignore[no-any-return]
        found = await SAME["order"].one(conn, {"code": code, "staff_user_id": user,
                                               "shop_id": shop_id})  # fmt: skip
        end = len(SAME["order_keys"])
        if found is None or found[end] is None:
            raise _Refused(_problem(404, "order_not_found"))
        if not found[end + 1]:
            raise _Refused(_problem(404, "shop_not_found"))
        row = await SAME["consume"].one(conn, {"p_order_id": found[SAME["order_keys"].index("id")],
                                               "p_now": now, "p_shop_id": shop_id,
                                               "p_staff_user_id": user})  # fmt: skip
        if row is None:
            raise _Refused(_problem(409, "order_already_consumed"))
        order = dict(zip(SAME["order_keys"], row, strict=True))
        if order["card_id"] is not None:  # Corner credits the card through its ORM service
            raise _Refused(_problem(501, "the bench's orders have no card"))
        await _activity(conn, merchant_id=order["merchant_id"], user_id=order["user_id"],
                        source="order_consumed", at=now, spend=order["total"],
                        currency=order["currency"], visit=True, tier=None,
                        reference_id=order["id"])  # fmt: skip
        items = [dict(zip(SAME["item_keys"], item, strict=True))
                 for item in await SAME["items"].all(conn, {"order_id": order["id"]})]  # fmt: skip
        answer = orjson.dumps(_order_view(order, items))
        await _store(conn, scope, key, answer, 200)
    return Response(answer, media_type="application/json")


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


async def _wechatpay_event(request: Request) -> dict[str, Any] | None:
    """The verified, decrypted transaction of a WeChat Pay notification (None: not ours)."""
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
    tx: dict[str, Any] = orjson.loads(plain)
    if tx["mchid"] != POOLS["wechatpay_mchid"] or tx["appid"] != POOLS["wechatpay_appid"]:
        return None
    return tx


async def wechatpay_callback(request: Request) -> Response:
    tx = await _wechatpay_event(request)
    if tx is None:
        return _json({"code": "FAIL", "message": "not ours"}, 400)
    async with POOLS["write"].acquire() as conn, conn.transaction():
        moved = await conn.fetchrow(PAY_SQL, tx["out_trade_no"], tx["transaction_id"],
                                    tx["amount"]["total"], tx["amount"]["currency"])  # fmt: skip
        if moved is not None:
            await conn.execute(PAY_ORDER_SQL, tx["out_trade_no"])
    return Response(status_code=204)


async def wechatpay_callback_same(request: Request) -> Response:
    """Corner's fast path after the same verification: one statement, on a pool connection
    without a transaction block (as Corner's: atomic by itself): the payment locked and moved
    with its `applied` event, the order locked and paid, the customer record
    (orders.repository.orders.pay_order_fast); 204."""
    tx = await _wechatpay_event(request)
    if tx is None:
        return _json({"code": "FAIL", "message": "not ours"}, 400)
    now = datetime.now(UTC)
    params = {
        "p_reference": tx["out_trade_no"], "p_provider": "wechatpay", "p_to": "succeeded",
        "p_from": ["pending", "failed", "closed"], "p_now": now,
        "p_transaction_id": tx["transaction_id"], "p_amount": tx["amount"]["total"],
        "p_currency": tx["amount"]["currency"], "p_event_id": new_id(),
        **SAME["paid_activity"](now),
    }  # fmt: skip
    async with POOLS["write"].acquire() as conn:
        # no row: a replay, which Corner answers through its session path
        await SAME["pay_fast"].one(conn, params)
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


async def _no_reset(connection: Any) -> None:
    return None


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    dsn, size = os.environ["BENCH_DATABASE_URL"], int(os.environ.get("BENCH_POOL_SIZE", "32"))
    # the session settings of Corner's write connections (core.lean.WRITE_OPTIONS)
    # asyncpg resets a connection released to its pool with one more round trip (advisory
    # locks, cursors, LISTEN, session settings), which Corner's psycopg pool does not (it
    # only checks the transaction status, no statement): no reset here either, the same
    # round trips per request (the routes use none of those session features)
    POOLS["write"] = await asyncpg.create_pool(
        dsn, min_size=4, max_size=size, server_settings={"jit": "off", "timezone": "UTC"},
        reset=_no_reset,
    )  # fmt: skip
    if app.state.same_sql:
        from redis.asyncio import BlockingConnectionPool, Redis

        _same_statements()
        # the client and pool Corner's authentication uses (core/redis.py)
        POOLS["redis"] = Redis.from_pool(BlockingConnectionPool.from_url(
            os.environ["REDIS_URL"], max_connections=100, timeout=2))  # fmt: skip
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
        if "redis" in POOLS:
            await POOLS.pop("redis").aclose()
        if "psycopg" in POOLS:
            await POOLS["psycopg"].close()


def create_app(kind: str | None = None) -> Starlette:
    """The reference of `kind` (`floor` or `same-sql`; default: BENCH_REFERENCE, else floor)."""
    same = (kind or os.environ.get("BENCH_REFERENCE", "floor")) == "same-sql"
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/v1/counter/redeem", redeem_same if same else redeem, methods=["POST"]),
            Route(
                "/v1/counter/transactions",
                card_transaction_same if same else card_transaction,
                methods=["POST"],
            ),
            Route(
                "/v1/campaigns/{campaign_id}/claim", claim_same if same else claim, methods=["POST"]
            ),
            Route(
                "/v1/counter/orders/consume", consume_same if same else consume, methods=["POST"]
            ),
            Route("/v1/shops/nearby", nearby),
            Route("/v1/merchants/{merchant_id}/customers", customers_page),
            Route("/v1/merchants/{merchant_id}/segments/{segment_id}", segment_count),
            Route(
                "/v1/payments/wechatpay/callback",
                wechatpay_callback_same if same else wechatpay_callback,
                methods=["POST"],
            ),
            Route("/v1/shops/{shop_id}/page", shop_page),
        ],
        exception_handlers={_Refused: _refusal_handler},
        lifespan=lifespan,
    )
    app.state.same_sql = same
    return app


app = create_app()
