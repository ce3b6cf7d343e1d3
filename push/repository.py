"""Every query of the push package.

The targeting, capping and fan-out statements are plain SQL: each is one set-based statement
(a spatial join on GiST, conditional upserts for the caps) that would be unreadable as ORM.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from push.models import (
    ActivityArea,
    AreaRecompute,
    Delivery,
    Device,
    FlashOffer,
    LocationPing,
    MerchantDailyCount,
    OutboxEntry,
    Subscription,
    UserDailyCount,
)

# FCM accepts at most 500 tokens per multicast call; one outbox batch is one such call
BATCH_SIZE = 500


def geography_point(lat: float, lng: float) -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326).cast(LocationPing.location.type)


# ---------------------------------------------------------------- devices


async def upsert_device(
    session: AsyncSession, *, user_id: uuid.UUID, token: str, platform: str
) -> Device:
    stmt = (
        insert(Device)
        .values(id=uuid.uuid4(), user_id=user_id, token=token, platform=platform)
        .on_conflict_do_update(
            index_elements=[Device.token],
            set_={"user_id": user_id, "platform": platform, "updated_at": func.now()},
        )
        .returning(Device)
    )
    return (await session.execute(stmt)).scalar_one()


async def delete_device(session: AsyncSession, *, user_id: uuid.UUID, token: str) -> int:
    stmt = delete(Device).where(Device.user_id == user_id, Device.token == token)
    return (await session.execute(stmt)).rowcount  # type: ignore[attr-defined, no-any-return]


async def delete_devices_by_id(session: AsyncSession, device_ids: list[uuid.UUID]) -> int:
    if not device_ids:
        return 0
    stmt = delete(Device).where(Device.id.in_(device_ids))
    return (await session.execute(stmt)).rowcount  # type: ignore[attr-defined, no-any-return]


# ---------------------------------------------------------------- subscriptions


async def get_subscription(session: AsyncSession, user_id: uuid.UUID) -> Subscription | None:
    return await session.get(Subscription, user_id)


async def put_subscription(session: AsyncSession, values: dict[str, Any]) -> Subscription:
    stmt = (
        insert(Subscription)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[Subscription.user_id],
            set_={k: v for k, v in values.items() if k != "user_id"} | {"updated_at": func.now()},
        )
        .returning(Subscription)
    )
    return (await session.execute(stmt, execution_options={"populate_existing": True})).scalar_one()


async def follow_merchant(
    session: AsyncSession, *, user_id: uuid.UUID, merchant_id: uuid.UUID
) -> bool:
    """Add the merchant to the user's list atomically; True when it was not followed yet."""
    row = await session.execute(
        text("""
            INSERT INTO push_subscriptions AS s (user_id, merchant_ids)
            VALUES (:user_id, ARRAY[CAST(:merchant_id AS uuid)])
            ON CONFLICT (user_id) DO UPDATE
              SET merchant_ids = array_append(s.merchant_ids, CAST(:merchant_id AS uuid)),
                  updated_at = now()
              WHERE NOT (CAST(:merchant_id AS uuid) = ANY(s.merchant_ids))
            RETURNING 1
        """),
        {"user_id": user_id, "merchant_id": merchant_id},
    )
    return row.first() is not None


async def unfollow_merchant(
    session: AsyncSession, *, user_id: uuid.UUID, merchant_id: uuid.UUID
) -> bool:
    stmt = (
        update(Subscription)
        .where(Subscription.user_id == user_id, Subscription.merchant_ids.any_() == merchant_id)
        .values(merchant_ids=func.array_remove(Subscription.merchant_ids, merchant_id))
    )
    return (await session.execute(stmt)).rowcount > 0  # type: ignore[attr-defined, no-any-return]


# ---------------------------------------------------------------- locations and areas


async def add_ping(
    session: AsyncSession, *, user_id: uuid.UUID, lat: float, lng: float, at: datetime
) -> None:
    """Store the ping, move the user's last-known point forward, and ask for a recompute."""
    params = {"user_id": user_id, "lat": lat, "lng": lng, "at": at}
    await session.execute(
        text("""
            INSERT INTO push_location_pings (user_id, location, observed_at)
            VALUES (:user_id, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography, :at)
        """),
        params,
    )
    await session.execute(
        text("""
            INSERT INTO push_activity_areas AS a
              (user_id, kind, centre, radius_m, share, pings, observed_at)
            VALUES (:user_id, 'last_known',
                    ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography, 0, NULL, 1, :at)
            ON CONFLICT (user_id) WHERE kind = 'last_known' DO UPDATE
              SET centre = EXCLUDED.centre, observed_at = EXCLUDED.observed_at
              WHERE a.observed_at <= EXCLUDED.observed_at
        """),
        params,
    )
    await request_recompute(session, [user_id])


async def request_recompute(session: AsyncSession, user_ids: list[uuid.UUID]) -> None:
    if not user_ids:
        return
    stmt = (
        insert(AreaRecompute)
        .values([{"user_id": u} for u in user_ids])
        .on_conflict_do_nothing(index_elements=[AreaRecompute.user_id])
    )
    await session.execute(stmt)


async def forget_locations(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, int]:
    pings = await session.execute(delete(LocationPing).where(LocationPing.user_id == user_id))
    areas = await session.execute(delete(ActivityArea).where(ActivityArea.user_id == user_id))
    await session.execute(delete(AreaRecompute).where(AreaRecompute.user_id == user_id))
    return pings.rowcount, areas.rowcount  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AreaRow:
    kind: str
    lat: float
    lng: float
    radius_m: int
    share: float | None
    pings: int
    observed_at: datetime


async def list_areas(session: AsyncSession, user_id: uuid.UUID) -> list[AreaRow]:
    rows = await session.execute(
        text("""
            SELECT kind, ST_Y(centre::geometry), ST_X(centre::geometry), radius_m, share, pings,
                   observed_at
            FROM push_activity_areas WHERE user_id = :user_id
            ORDER BY kind DESC, share DESC NULLS LAST, id
        """),
        {"user_id": user_id},
    )
    return [AreaRow(*row) for row in rows]


async def take_recompute_batch(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    rows = await session.execute(
        text("""
            DELETE FROM push_area_recompute WHERE user_id IN (
              SELECT user_id FROM push_area_recompute ORDER BY requested_at
              LIMIT :limit FOR UPDATE SKIP LOCKED)
            RETURNING user_id
        """),
        {"limit": limit},
    )
    return [r[0] for r in rows]


async def learn_areas(
    session: AsyncSession,
    *,
    user_ids: list[uuid.UUID],
    since: datetime,
    now: datetime,
    eps_m: float,
    min_points: int,
    min_share: float,
    max_areas: int,
) -> int:
    """Replace the users' usual areas with DBSCAN clusters of their recent pings.

    Pings are clustered per user in Web Mercator; its scale grows with 1/cos(latitude), so
    the tolerance is scaled by the user's mean latitude to mean `eps_m` metres on the ground.
    An area is the cluster's centroid, the 90th-percentile distance of its pings from it
    (at least 50 m) and its share of the user's pings.
    """
    await session.execute(
        delete(ActivityArea).where(ActivityArea.user_id.in_(user_ids), ActivityArea.kind == "usual")
    )
    result = await session.execute(
        text("""
            WITH recent AS (
              SELECT user_id, location, ST_Transform(location::geometry, 3857) AS merc,
                     count(*) OVER w AS total,
                     avg(ST_Y(location::geometry)) OVER w AS mean_lat
              FROM push_location_pings
              WHERE user_id = ANY(:user_ids) AND observed_at >= :since
              WINDOW w AS (PARTITION BY user_id)
            ), clustered AS (
              SELECT user_id, location, total,
                     ST_ClusterDBSCAN(merc, eps => :eps_m / cos(radians(mean_lat)),
                                      minpoints => :min_points)
                       OVER (PARTITION BY user_id) AS cid
              FROM recent
            ), centred AS (
              SELECT user_id, cid, location, total,
                     ST_Centroid(ST_Collect(location::geometry)
                       OVER (PARTITION BY user_id, cid))::geography AS centre
              FROM clustered WHERE cid IS NOT NULL
            ), areas AS (
              SELECT user_id, centre,
                     greatest(50, percentile_cont(0.9) WITHIN GROUP
                       (ORDER BY ST_Distance(location, centre)))::int AS radius_m,
                     count(*)::float8 / max(total) AS share,
                     count(*)::int AS pings
              FROM centred GROUP BY user_id, cid, centre
            ), ranked AS (
              SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY share DESC) AS rank
              FROM areas WHERE share >= :min_share
            )
            INSERT INTO push_activity_areas
              (user_id, kind, centre, radius_m, share, pings, observed_at)
            SELECT user_id, 'usual', centre, radius_m, share, pings, :now
            FROM ranked WHERE rank <= :max_areas
        """),
        {
            "user_ids": user_ids,
            "since": since,
            "now": now,
            "eps_m": eps_m,
            "min_points": min_points,
            "min_share": min_share,
            "max_areas": max_areas,
        },
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


async def purge_old_locations(session: AsyncSession, *, before: datetime) -> int:
    """Delete pings (and last-known points) past retention; their users get recomputed."""
    result = await session.execute(
        text("""
            WITH gone AS (
              DELETE FROM push_location_pings WHERE observed_at < :before RETURNING user_id
            ), stale AS (
              DELETE FROM push_activity_areas
              WHERE kind = 'last_known' AND observed_at < :before RETURNING user_id
            )
            INSERT INTO push_area_recompute (user_id)
            SELECT DISTINCT user_id FROM gone
            ON CONFLICT (user_id) DO NOTHING
        """),
        {"before": before},
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


async def purge_old_counts(session: AsyncSession, *, before: datetime) -> int:
    day = before.date()
    a = await session.execute(delete(MerchantDailyCount).where(MerchantDailyCount.day < day))
    b = await session.execute(delete(UserDailyCount).where(UserDailyCount.day < day))
    return a.rowcount + b.rowcount  # type: ignore[attr-defined, no-any-return]


# ---------------------------------------------------------------- audiences

# Users whose subscription matches the shop and one of whose areas lies within their own
# radius of it. The areas near the shop come first, from the GiST index with a constant bound
# (the largest radius anyone chose); the per-user radius and the subscription are checked on
# those rows. The CTE is MATERIALIZED because otherwise the planner, misjudging how selective
# the spatial condition is, may run one index scan per subscription (measured: 8 s at 5k
# users instead of milliseconds). A last-known point counts when it is recent (where the user
# is now) or when the user has no learned areas yet.
NEARBY_AUDIENCE = """
    WITH near AS MATERIALIZED (
      SELECT user_id, kind, centre, observed_at FROM push_activity_areas
      WHERE ST_DWithin(centre, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography, :bound)
    )
    SELECT DISTINCT ON (s.user_id) s.user_id, s.timezone, s.quiet_from, s.quiet_to, s.channels
    FROM near a
    JOIN push_subscriptions s ON s.user_id = a.user_id
    WHERE ST_DWithin(a.centre, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography,
                     least(s.radius_m, :radius_cap))
      AND NOT s.opted_out
      AND (s.categories && CAST(:categories AS varchar[])
           OR CAST(:merchant_id AS uuid) = ANY(s.merchant_ids))
      AND (a.kind = 'usual' OR a.observed_at >= :current_since
           OR NOT EXISTS (SELECT 1 FROM push_activity_areas u
                          WHERE u.user_id = a.user_id AND u.kind = 'usual'))
"""

# The merchant's customers; people without a subscription row get the defaults (push only).
# Merge point: reads the customers table of customers/ directly until customers.service
# exposes its audience as a statement (see push/service/offers.py).
CUSTOMER_AUDIENCE = """
    SELECT c.user_id,
           coalesce(s.timezone, 'Asia/Shanghai') AS timezone,
           s.quiet_from, s.quiet_to,
           coalesce(s.channels, ARRAY['push']::varchar[]) AS channels
    FROM customers c
    LEFT JOIN push_subscriptions s ON s.user_id = c.user_id
    WHERE c.merchant_id = :merchant_id AND NOT coalesce(s.opted_out, false)
"""

# The members of a segment or of membership tiers: a SELECT of distinct user_id built by the
# package that owns them (customers.service, memberships.service through api.wiring).
MEMBERS_AUDIENCE = """
    SELECT m.user_id,
           coalesce(s.timezone, 'Asia/Shanghai') AS timezone,
           s.quiet_from, s.quiet_to,
           coalesce(s.channels, ARRAY['push']::varchar[]) AS channels
    FROM ({members}) AS m
    LEFT JOIN push_subscriptions s ON s.user_id = m.user_id
    WHERE NOT coalesce(s.opted_out, false)
"""

# From an audience (user_id, timezone, quiet_from, quiet_to, channels): when each user may
# be messaged (the end of their quiet hours in their own timezone, else now), drop those
# whose window opens after the offer expires or who cannot be reached, take one frequency
# slot for the merchant and one of the global daily cap per user (conditional upserts, so
# concurrent offers cannot both pass a cap), and write one delivery per device (push) or
# per user (SMS), grouped into batches of at most 500 with the same channel and due time.
FAN_OUT = """
    WITH audience AS ({audience}),
    localised AS (
      SELECT user_id, channels, timezone, quiet_from, quiet_to,
             (CAST(:now AS timestamptz) AT TIME ZONE timezone) AS local_now
      FROM audience
    ),
    timed AS (
      SELECT user_id, channels, local_now::date AS day,
        CASE
          WHEN quiet_from IS NULL OR quiet_to IS NULL OR quiet_from = quiet_to
            THEN CAST(:now AS timestamptz)
          WHEN quiet_from < quiet_to THEN
            CASE WHEN local_now::time >= quiet_from AND local_now::time < quiet_to
                 THEN (local_now::date + quiet_to) AT TIME ZONE timezone
                 ELSE CAST(:now AS timestamptz) END
          ELSE
            CASE WHEN local_now::time >= quiet_from
                   THEN (local_now::date + 1 + quiet_to) AT TIME ZONE timezone
                 WHEN local_now::time < quiet_to
                   THEN (local_now::date + quiet_to) AT TIME ZONE timezone
                 ELSE CAST(:now AS timestamptz) END
        END AS due_at
      FROM localised
    ),
    eligible AS (
      SELECT t.* FROM timed t
      WHERE t.due_at < :expires_at
        AND ('sms' = ANY(t.channels)
             OR ('push' = ANY(t.channels)
                 AND EXISTS (SELECT 1 FROM push_devices d WHERE d.user_id = t.user_id)))
    ),
    merchant_slot AS (
      INSERT INTO push_merchant_daily_counts AS c (merchant_id, user_id, day, sent)
      SELECT :merchant_id, user_id, day, 1 FROM eligible
      ON CONFLICT (merchant_id, user_id, day) DO UPDATE SET sent = c.sent + 1
        WHERE c.sent < :merchant_cap
      RETURNING user_id
    ),
    global_slot AS (
      INSERT INTO push_user_daily_counts AS g (user_id, day, sent)
      SELECT e.user_id, e.day, 1 FROM eligible e JOIN merchant_slot m USING (user_id)
      ON CONFLICT (user_id, day) DO UPDATE SET sent = g.sent + 1 WHERE g.sent < :global_cap
      RETURNING user_id
    ),
    targets AS (SELECT e.* FROM eligible e JOIN global_slot USING (user_id)),
    rows AS (
      SELECT t.user_id, 'push' AS channel, d.id AS device_id, t.due_at
      FROM targets t JOIN push_devices d ON d.user_id = t.user_id
      WHERE 'push' = ANY(t.channels)
      UNION ALL
      SELECT t.user_id, 'sms', NULL, t.due_at FROM targets t WHERE 'sms' = ANY(t.channels)
    )
    INSERT INTO flash_offer_deliveries
      (offer_id, merchant_id, user_id, channel, device_id, batch_no, status, due_at,
       next_attempt_at)
    SELECT :offer_id, :merchant_id, user_id, channel, device_id,
           dense_rank() OVER (ORDER BY channel, due_at) * 1000000
             + (row_number() OVER (PARTITION BY channel, due_at ORDER BY user_id, device_id)
                - 1) / {batch_size},
           'queued', due_at, due_at
    FROM rows
"""


async def max_subscription_radius(session: AsyncSession) -> int | None:
    return (await session.execute(select(func.max(Subscription.radius_m)))).scalar()


async def fan_out(
    session: AsyncSession, *, audience_sql: str, params: dict[str, Any], batch_size: int
) -> tuple[int, int]:
    """Write the deliveries and outbox batches of an offer; returns (recipients, deliveries)."""
    sql = FAN_OUT.format(audience=audience_sql, batch_size=min(int(batch_size), BATCH_SIZE))
    # The statement joins CTEs (eligible users, the slots the caps granted), which have no
    # statistics; the planner then picks nested loops comparing every pair (measured: 42 s
    # for 10k recipients). Hash joins keep it linear (1.4 s), so nested loops are off for
    # this one statement.
    previous = (await session.execute(text("SELECT current_setting('enable_nestloop')"))).scalar()
    await session.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
    deliveries = (await session.execute(text(sql), params)).rowcount  # type: ignore[attr-defined]
    await session.execute(
        text("SELECT set_config('enable_nestloop', :value, true)"), {"value": previous}
    )
    await session.execute(
        text("""
            INSERT INTO push_outbox (offer_id, channel, batch_no, due_at)
            SELECT offer_id, channel, batch_no, min(due_at) FROM flash_offer_deliveries
            WHERE offer_id = :offer_id GROUP BY offer_id, channel, batch_no
        """),
        {"offer_id": params["offer_id"]},
    )
    recipients = (
        await session.execute(
            select(func.count(func.distinct(Delivery.user_id))).where(
                Delivery.offer_id == params["offer_id"]
            )
        )
    ).scalar_one()
    return recipients, deliveries


async def explain(session: AsyncSession, *, sql: str, params: dict[str, Any]) -> list[str]:
    rows = await session.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql), params)
    return [r[0] for r in rows]


# ---------------------------------------------------------------- offers


async def add_offer(session: AsyncSession, offer: FlashOffer) -> FlashOffer:
    session.add(offer)
    await session.flush()
    return offer


async def set_offer_recipients(session: AsyncSession, offer_id: uuid.UUID, count: int) -> None:
    await session.execute(
        update(FlashOffer).where(FlashOffer.id == offer_id).values(recipients=count)
    )


async def get_offer(session: AsyncSession, offer_id: uuid.UUID) -> FlashOffer | None:
    return await session.get(FlashOffer, offer_id)


@dataclass(frozen=True)
class DeliveryCounts:
    queued: int
    sent: int
    failed: int
    opened: int
    next_due: datetime | None


async def delivery_counts(session: AsyncSession, offer_id: uuid.UUID) -> DeliveryCounts:
    rows = await session.execute(
        text("""
            SELECT count(*) FILTER (WHERE status IN ('queued', 'sending', 'retry')) AS queued,
                   count(*) FILTER (WHERE status = 'sent') AS sent,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   count(DISTINCT user_id) FILTER (WHERE opened_at IS NOT NULL) AS opened,
                   min(due_at) FILTER (WHERE status IN ('queued', 'retry')) AS next_due
            FROM flash_offer_deliveries WHERE offer_id = :offer_id
        """),
        {"offer_id": offer_id},
    )
    return DeliveryCounts(*rows.one())


async def mark_opened(
    session: AsyncSession, *, offer_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> int:
    stmt = (
        update(Delivery)
        .where(
            Delivery.offer_id == offer_id,
            Delivery.user_id == user_id,
            Delivery.opened_at.is_(None),
        )
        .values(opened_at=now)
    )
    return (await session.execute(stmt)).rowcount  # type: ignore[attr-defined, no-any-return]


async def is_recipient(session: AsyncSession, *, offer_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    stmt = select(Delivery.id).where(Delivery.offer_id == offer_id, Delivery.user_id == user_id)
    return (await session.execute(stmt.limit(1))).first() is not None


# ---------------------------------------------------------------- outbox and delivery


async def take_due_outbox(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    """Mark due batches dispatched and return them (the caller enqueues, then commits)."""
    rows = await session.execute(
        text("""
            UPDATE push_outbox SET status = 'dispatched', dispatched_at = :now
            WHERE id IN (SELECT id FROM push_outbox
                         WHERE status = 'pending' AND due_at <= :now
                         ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED)
            RETURNING id
        """),
        {"now": now, "limit": limit},
    )
    return [r[0] for r in rows]


async def reschedule_batch(
    session: AsyncSession, *, offer_id: uuid.UUID, channel: str, batch_no: int
) -> None:
    """Put the batch back in the outbox for its earliest unfinished delivery (retries), unless
    a pending entry already covers it."""
    await session.execute(
        text("""
            INSERT INTO push_outbox (offer_id, channel, batch_no, due_at)
            SELECT :offer_id, :channel, :batch_no, min(next_attempt_at)
            FROM flash_offer_deliveries
            WHERE offer_id = :offer_id AND batch_no = :batch_no AND status IN ('queued', 'retry')
            HAVING count(*) > 0 AND NOT EXISTS (
              SELECT 1 FROM push_outbox o WHERE o.offer_id = :offer_id
                AND o.batch_no = :batch_no AND o.status = 'pending')
        """),
        {"offer_id": offer_id, "channel": channel, "batch_no": batch_no},
    )


async def get_outbox(session: AsyncSession, outbox_id: int) -> OutboxEntry | None:
    return await session.get(OutboxEntry, outbox_id)


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    user_id: uuid.UUID
    device_id: uuid.UUID | None
    token: str | None
    platform: str | None
    attempts: int


async def claim_batch(
    session: AsyncSession,
    *,
    offer_id: uuid.UUID,
    batch_no: int,
    now: datetime,
    lease_until: datetime,
) -> list[ClaimedDelivery]:
    """Move the batch's due deliveries to `sending` (committed by the caller before sending).

    The conditional UPDATE is the exactly-once guard: a duplicate queue entry, a reclaimed
    one or a second worker finds nothing left to claim.
    """
    rows = await session.execute(
        text("""
            WITH claimed AS (
              UPDATE flash_offer_deliveries
              SET status = 'sending', attempts = attempts + 1, lease_until = :lease_until
              WHERE offer_id = :offer_id AND batch_no = :batch_no
                AND status IN ('queued', 'retry') AND next_attempt_at <= :now
              RETURNING id, user_id, device_id, attempts
            )
            SELECT c.id, c.user_id, c.device_id, d.token, d.platform, c.attempts
            FROM claimed c LEFT JOIN push_devices d ON d.id = c.device_id
            ORDER BY c.id
        """),
        {"offer_id": offer_id, "batch_no": batch_no, "now": now, "lease_until": lease_until},
    )
    return [ClaimedDelivery(*r) for r in rows]


# A claim is (delivery id, attempts after claiming it): `attempts` grows with every claim, so
# it fences a worker's writes to the deliveries it claimed. A worker whose lease expired and
# whose deliveries another worker claimed again can no longer renew or record them.
Claim = tuple[int, int]

_CLAIMS = "unnest(CAST(:ids AS bigint[]), CAST(:attempts AS smallint[]))"


def _claim_params(claims: list[Claim]) -> dict[str, list[int]]:
    return {"ids": [c[0] for c in claims], "attempts": [c[1] for c in claims]}


async def renew_leases(session: AsyncSession, *, claims: list[Claim], lease_until: datetime) -> int:
    """Extend the lease of the deliveries this worker still holds (it is alive and sending)."""
    if not claims:
        return 0
    result = await session.execute(
        text(f"""
            UPDATE flash_offer_deliveries d SET lease_until = :lease_until
            FROM {_CLAIMS} AS c(id, attempts)
            WHERE d.id = c.id AND d.attempts = c.attempts AND d.status = 'sending'
        """),
        _claim_params(claims) | {"lease_until": lease_until},
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


async def finish_deliveries(
    session: AsyncSession,
    *,
    claims: list[Claim],
    status: str,
    now: datetime,
    error: str | None = None,
) -> int:
    """Record the transport's answer for deliveries this worker claimed.

    Also when their lease expired and they were put back to `retry` meanwhile (a stalled
    worker): the answer is newer than that guess, and recording it spares the resend. Not
    once another worker claimed them again (`attempts` moved on): that worker records.
    """
    if not claims:
        return 0
    result = await session.execute(
        text(f"""
            UPDATE flash_offer_deliveries d
            SET status = CAST(:status AS varchar), lease_until = NULL,
                error = CAST(:error AS text),
                sent_at = CASE WHEN CAST(:status AS varchar) = 'sent'
                               THEN CAST(:now AS timestamptz) ELSE d.sent_at END
            FROM {_CLAIMS} AS c(id, attempts)
            WHERE d.id = c.id AND d.attempts = c.attempts AND d.status IN ('sending', 'retry')
        """),
        _claim_params(claims) | {"status": status, "now": now, "error": error},
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


async def schedule_retries(
    session: AsyncSession, *, retry_at: dict[Claim, datetime], error: str
) -> None:
    if not retry_at:
        return
    claims = list(retry_at)
    await session.execute(
        text("""
            UPDATE flash_offer_deliveries d
            SET status = 'retry', next_attempt_at = r.at, lease_until = NULL, error = :error
            FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS smallint[]),
                        CAST(:ats AS timestamptz[])) AS r(id, attempts, at)
            WHERE d.id = r.id AND d.attempts = r.attempts AND d.status IN ('sending', 'retry')
        """),
        _claim_params(claims) | {"ats": list(retry_at.values()), "error": error},
    )


async def expire_undelivered(session: AsyncSession, *, offer_id: uuid.UUID, batch_no: int) -> int:
    stmt = (
        update(Delivery)
        .where(
            Delivery.offer_id == offer_id,
            Delivery.batch_no == batch_no,
            Delivery.status.in_(("queued", "retry")),
        )
        .values(status="failed", error="expired", lease_until=None)
    )
    return (await session.execute(stmt)).rowcount  # type: ignore[attr-defined, no-any-return]


@dataclass(frozen=True)
class StaleBatch:
    offer_id: uuid.UUID
    channel: str
    batch_no: int


async def requeue_stale_sending(
    session: AsyncSession, *, now: datetime, max_attempts: int
) -> tuple[int, list[StaleBatch]]:
    """Deliveries whose worker died while sending them (lease expired, not renewed): push
    ones go back to `retry` now, to be sent again with the same identity (FCM accepts it
    twice; the device replaces the first by the second, see push/service/outbox.py). SMS
    has no such identity, so an SMS in doubt is failed `outcome_unknown` rather than
    possibly sent twice; so is a push delivery out of attempts. Returns (rows, batches to
    put back in the outbox)."""
    rows = await session.execute(
        text("""
            WITH stale AS (
              SELECT id FROM flash_offer_deliveries
              WHERE status = 'sending' AND lease_until < :now
              FOR UPDATE SKIP LOCKED
            )
            UPDATE flash_offer_deliveries d
            SET status = CASE WHEN d.channel = 'push' AND d.attempts < :max_attempts
                              THEN 'retry' ELSE 'failed' END,
                error = CASE WHEN d.channel = 'push' AND d.attempts < :max_attempts
                             THEN 'lease_expired' ELSE 'outcome_unknown' END,
                next_attempt_at = :now, lease_until = NULL
            FROM stale WHERE d.id = stale.id
            RETURNING d.offer_id, d.channel, d.batch_no, d.status
        """),
        {"now": now, "max_attempts": max_attempts},
    )
    found = rows.all()
    batches = {StaleBatch(o, c, b) for o, c, b, status in found if status == "retry"}
    return len(found), sorted(batches, key=lambda b: (str(b.offer_id), b.batch_no))


async def devices_of_users(
    session: AsyncSession, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """(device id, token) of each user's registered devices."""
    rows = await session.execute(
        select(Device.user_id, Device.id, Device.token)
        .where(Device.user_id.in_(user_ids))
        .order_by(Device.user_id, Device.id)
    )
    found: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    for user_id, device_id, token in rows.all():
        found.setdefault(user_id, []).append((device_id, token))
    return found
