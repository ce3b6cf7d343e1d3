"""Flash-offer fan-out: audience selection over N subscribers, then delivery to a local fake FCM.

Sets up `corner_bench_fanout` on the embedded cluster (migrated), generates N subscribed users
with devices, pings and activity areas around Shanghai in SQL, creates one flash offer through
the real service (audience selection + deliveries + outbox in one transaction), then starts a
real `corner worker` (dispatcher + stream consumer, firebase-admin client) against a fake FCM
running in a subprocess and times until every message reached it. In the same run a bare
httpx client pushes the same messages straight at the same fake, for comparison.

    uv run python bench/fanout.py                 # 20,000 users (a few minutes at most)
    uv run python bench/fanout.py --users 100000  # the issue's size

Prints JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, redis_db, service_urls  # noqa: E402
from core.database import create_engine, create_sessionmaker  # noqa: E402
from core.embedded import free_port  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.timezones import utcnow  # noqa: E402
from push import repository, schemas  # noqa: E402
from push.service import offers  # noqa: E402
from tests.push.fake_fcm import service_account  # noqa: E402

DB_NAME = "corner_bench_fanout"
REDIS_DB = 15
CENTRE = (31.2304, 121.4737)


def emit(**fields: Any) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def generate(url: str, users: int) -> dict[str, Any]:
    """Users within ±2.5 km of a district centre, 80% subscribed to dining, radii 1.5-3 km,
    one device each, 4 pings and a learned area near home, a last-known point for everyone."""
    lat, lng = CENTRE
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            INSERT INTO users (id, phone, password_hash, display_name)
            SELECT gen_random_uuid(), '150' || lpad(g::text, 8, '0'), 'x', 'bench'
            FROM generate_series(1, %(n)s) g
            """,
            {"n": users},
        )
        conn.execute(
            """
            CREATE TEMP TABLE homes AS
            SELECT id AS user_id,
                   %(lat)s + (random() - 0.5) * 0.045 AS lat,
                   %(lng)s + (random() - 0.5) * 0.052 AS lng
            FROM users
            """,
            {"lat": lat, "lng": lng},
        )
        conn.execute("""
            INSERT INTO push_subscriptions (user_id, categories, radius_m, channels)
            SELECT user_id,
                   CASE WHEN random() < 0.8 THEN ARRAY['dining']
                        ELSE ARRAY['laundry', 'retail'] END::varchar[],
                   1500 + (random() * 1500)::int, ARRAY['push']::varchar[]
            FROM homes
        """)
        conn.execute("""
            INSERT INTO push_devices (id, user_id, token, platform)
            SELECT gen_random_uuid(), user_id, 'bench-' || user_id, 'android' FROM homes
        """)
        conn.execute("""
            INSERT INTO push_location_pings (user_id, location, observed_at)
            SELECT user_id,
                   ST_SetSRID(ST_MakePoint(lng + (random() - 0.5) * 0.002,
                                           lat + (random() - 0.5) * 0.002), 4326)::geography,
                   now() - (random() * interval '20 days')
            FROM homes, generate_series(1, 4)
        """)
        conn.execute("""
            INSERT INTO push_activity_areas (user_id, kind, centre, radius_m, share, pings,
                                             observed_at)
            SELECT user_id, 'usual', ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography,
                   120, 0.8, 4, now() FROM homes
            UNION ALL
            SELECT user_id, 'last_known',
                   ST_SetSRID(ST_MakePoint(lng + (random() - 0.5) * 0.05,
                                           lat + (random() - 0.5) * 0.05), 4326)::geography,
                   0, NULL, 1, now() - (random() * interval '6 hours') FROM homes
        """)
        merchant_id, shop_id = uuid.uuid4(), uuid.uuid4()
        conn.execute(
            "INSERT INTO merchants (id, name, timezone) VALUES (%s, '老王面馆', 'Asia/Shanghai')",
            (merchant_id,),
        )
        conn.execute(
            """
            INSERT INTO shops (id, merchant_id, name, category, location, address,
                               opening_hours, discovery_only)
            VALUES (%s, %s, '静安店', 'noodles',
                    ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, '南京西路1号', '[]', false)
            """,
            (shop_id, merchant_id, lng, lat),
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {
        "merchant_id": merchant_id,
        "shop_id": shop_id,
        "seconds": round(time.perf_counter() - started, 1),
    }


async def flash_campaign(session: Any, settings: Settings, merchant_id: uuid.UUID) -> uuid.UUID:
    """The published flash coupon campaign the offer promotes (made by a bench owner)."""
    from accounts import service as accounts_service
    from accounts.schemas import UserCreate
    from coupons import schemas as coupon_schemas
    from coupons import service as coupons_service

    owner = await accounts_service.register_user(
        session,
        settings=settings,
        data=UserCreate(
            email=f"bench-{uuid.uuid4().hex}@example.com",
            password="bench-password",
            display_name="bench",
        ),
    )
    now = utcnow()
    campaign = await coupons_service.create_campaign(
        session,
        merchant_id=merchant_id,
        created_by=owner.id,
        data=coupon_schemas.CampaignCreate.model_validate(
            {
                "name": "限时特惠",
                "discount": {"kind": "percent_off", "value": 50},
                "valid_from": (now - timedelta(minutes=5)).isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat(),
                "flash": True,
            }
        ),
        now=now,
    )
    await coupons_service.change_status(session, campaign_id=campaign.id, to="published", now=now)
    return campaign.id


async def select_and_create(
    settings: Settings, merchant_id: uuid.UUID, shop_id: uuid.UUID
) -> tuple[dict[str, Any], float]:
    engine = create_engine(settings, pool_size=2, max_overflow=0)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker.begin() as session:
        campaign_id = await flash_campaign(session, settings, merchant_id)
    data = schemas.FlashOfferCreate.model_validate(
        {
            "campaign_id": str(campaign_id),
            "shop_id": str(shop_id),
            "audience": {"kind": "nearby"},
            "expires_in_minutes": 60,
            "message": {"title": "限时特惠", "body": "牛肉面半价，仅限今天下午"},
        }
    )
    from merchants import service as merchants_service

    async with sessionmaker() as session:
        shop = await merchants_service.get_shop(session, shop_id=shop_id)
        now = utcnow()
        sql, params = await offers.audience_sql(  # type: ignore[misc]
            session, merchant_id=merchant_id, shop=shop, audience=data.audience, now=now
        )
        params["merchant_id"] = merchant_id
        plan = await repository.OfferRepository(session).explain(sql=sql, params=params)
        from sqlalchemy import text

        started = time.perf_counter()
        selected = (
            await session.execute(text(f"SELECT count(*) FROM ({sql}) a"), params)
        ).scalar_one()
        select_ms = (time.perf_counter() - started) * 1000
        await session.rollback()
    started = time.perf_counter()
    async with sessionmaker.begin() as session:
        accepted = await offers.create_flash_offer(
            session,
            merchant_id=merchant_id,
            created_by=None,
            data=data,
            now=utcnow(),
            settings=settings,
        )
    committed = time.perf_counter()
    create_ms = (committed - started) * 1000
    await engine.dispose()
    return {
        "audience": selected,
        "select_ms": round(select_ms, 1),
        "create_offer_ms": round(create_ms, 1),
        "recipients_estimate": accepted.recipients_estimate,
        "plan": plan,
    }, committed


async def wait_delivered(fake: str, expected: int, limit_seconds: float) -> float:
    async with httpx.AsyncClient() as client:
        deadline = time.perf_counter() + limit_seconds
        while time.perf_counter() < deadline:
            stats = (await client.get(f"{fake}/stats")).json()
            if stats["delivered"] >= expected:
                return time.perf_counter()
            await asyncio.sleep(0.1)
    raise TimeoutError(f"only {stats['delivered']} of {expected} delivered")


def wait_for_consumers(redis_url: str, workers: int) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    stream = Settings().push_queue_stream
    for _ in range(600):
        try:
            groups = client.xinfo_groups(stream)
            if groups and groups[0]["consumers"] >= workers:
                return
        except redis.ResponseError:
            pass
        time.sleep(0.1)
    raise TimeoutError("workers did not start")


def bodies(url: str, merchant_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        tokens = [
            r[0]
            for r in conn.execute(
                "SELECT v.token FROM flash_offer_deliveries d"
                " JOIN push_devices v ON v.id = d.device_id"
            )
        ]
    collapse = f"merchant-{merchant_id}"
    return [
        {
            "message": {
                "token": t,
                "notification": {"title": "限时特惠", "body": "牛肉面半价"},
                "android": {"ttl": "3600s", "collapse_key": collapse, "priority": "high"},
                "data": {"type": "flash_offer"},
            }
        }
        for t in tokens
    ]


async def bare_client(
    fake: str, key: dict[str, Any], messages: list[dict[str, Any]], connections: int
) -> float:
    """Straight httpx: one OAuth token, `connections` keep-alive connections, all at once."""
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": key["client_email"],
            "aud": key["token_uri"],
            "iat": now,
            "exp": now + 3600,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
        },
        key["private_key"],
        algorithm="RS256",
    )
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        token = (
            await client.post(
                key["token_uri"],
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                },
            )
        ).json()["access_token"]
        url = f"{fake}/v1/projects/{key['project_id']}/messages:send"
        headers = {"Authorization": f"Bearer {token}"}
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for m in messages:
            queue.put_nowait(m)

        async def pump() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                r = await client.post(url, json=body, headers=headers)
                r.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(pump() for _ in range(connections)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1, help="corner worker processes")
    parser.add_argument("--connections", type=int, default=100, help="bare client connections")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    admin_url, redis_base = service_urls()
    url = fresh_database(admin_url, DB_NAME)
    redis_url = redis_db(redis_base, REDIS_DB)
    subprocess.run(
        [sys.executable, "-c", f"import redis; redis.Redis.from_url('{redis_url}').flushdb()"],
        check=True,
    )
    data = generate(url, args.users)
    emit(bench="fanout", step="setup", users=args.users, seconds=data["seconds"])

    workdir = Path(tempfile.mkdtemp(prefix="corner-fanout-"))
    port = free_port()
    fake = f"http://127.0.0.1:{port}"
    creds = workdir / "service-account.json"
    public = workdir / "public.pem"
    public.write_bytes(service_account(creds, fake, project_id="corner-bench"))
    fake_proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.push.fake_fcm",
            "--port",
            str(port),
            "--public-key",
            str(public),
        ],
        cwd=ROOT,
    )
    worker_env = os.environ | {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "CORNER_FCM_CREDENTIALS": str(creds),
        "CORNER_FCM_BASE_URL": fake,
        "CORNER_LOG_LEVEL": "WARNING",
    }
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(50):
            try:
                httpx.get(f"{fake}/stats")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        # workers first (their start-up is not part of the delivery time): ready once the
        # stream's consumer group exists
        for _ in range(args.workers):
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "cli.main",
                        "worker",
                        "--only",
                        "push_dispatch_outbox",
                        "--only",
                        "push_send",
                    ],
                    cwd=ROOT,
                    env=worker_env,
                )
            )
        wait_for_consumers(redis_url, args.workers)
        settings = Settings(database_url=url, redis_url=redis_url)
        result, started = asyncio.run(
            select_and_create(settings, data["merchant_id"], data["shop_id"])
        )
        plan = result.pop("plan")
        emit(bench="fanout", step="audience", users=args.users, **result)
        emit(bench="fanout", step="explain", plan=plan)
        expected = result["recipients_estimate"]
        done = asyncio.run(wait_delivered(fake, expected, args.timeout))
        corner_s = done - started
        stats = httpx.get(f"{fake}/stats").json()
        emit(
            bench="fanout",
            step="delivery",
            transport="corner worker (firebase-admin)",
            messages=expected,
            seconds=round(corner_s, 2),
            per_second=round(expected / corner_s),
            duplicates=stats["delivered"] - stats["distinct"],
            requests=stats["requests"],
        )
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)

        messages = bodies(url, str(data["merchant_id"]))
        httpx.post(f"{fake}/reset")
        key = json.loads(creds.read_text())
        bare_s = asyncio.run(bare_client(fake, key, messages, args.connections))
        emit(
            bench="fanout",
            step="delivery",
            transport="bare httpx client",
            messages=len(messages),
            seconds=round(bare_s, 2),
            per_second=round(len(messages) / bare_s),
        )
        emit(
            bench="fanout",
            step="summary",
            users=args.users,
            audience=expected,
            select_ms=result["select_ms"],
            create_offer_ms=result["create_offer_ms"],
            corner_per_second=round(expected / corner_s),
            bare_per_second=round(len(messages) / bare_s),
            ratio=round((expected / corner_s) / (len(messages) / bare_s), 2),
        )
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
        fake_proc.terminate()
        fake_proc.wait(timeout=10)


if __name__ == "__main__":
    main()
