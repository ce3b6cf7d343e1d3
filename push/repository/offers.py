"""Flash offers: their audiences, the fan-out into deliveries, and the offers themselves.

The targeting, capping and fan-out statements are plain SQL: each is one set-based statement
(a spatial join on GiST, conditional upserts for the caps) that would be unreadable as ORM.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from push.models import Delivery, FlashOffer, Subscription

# FCM accepts at most 500 tokens per multicast call; one outbox batch is one such call
BATCH_SIZE = 500


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


@dataclass(frozen=True)
class DeliveryCounts:
    queued: int
    sent: int
    failed: int
    opened: int
    next_due: datetime | None


class OfferRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def max_subscription_radius(self) -> int | None:
        return (await self.session.execute(select(func.max(Subscription.radius_m)))).scalar()

    async def fan_out(
        self, *, audience_sql: str, params: dict[str, Any], batch_size: int
    ) -> tuple[int, int]:
        """Write the deliveries and outbox batches of an offer; returns (recipients, deliveries)."""
        sql = FAN_OUT.format(audience=audience_sql, batch_size=min(int(batch_size), BATCH_SIZE))
        # The statement joins CTEs (eligible users, the slots the caps granted), which have no
        # statistics; the planner then picks nested loops comparing every pair (measured: 42 s
        # for 10k recipients). Hash joins keep it linear (1.4 s), so nested loops are off for
        # this one statement.
        previous = (
            await self.session.execute(text("SELECT current_setting('enable_nestloop')"))
        ).scalar()
        await self.session.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
        deliveries = (await self.session.execute(text(sql), params)).rowcount  # type: ignore[attr-defined]
        await self.session.execute(
            text("SELECT set_config('enable_nestloop', :value, true)"), {"value": previous}
        )
        await self.session.execute(
            text("""
                INSERT INTO push_outbox (offer_id, channel, batch_no, due_at)
                SELECT offer_id, channel, batch_no, min(due_at) FROM flash_offer_deliveries
                WHERE offer_id = :offer_id GROUP BY offer_id, channel, batch_no
            """),
            {"offer_id": params["offer_id"]},
        )
        recipients = (
            await self.session.execute(
                select(func.count(func.distinct(Delivery.user_id))).where(
                    Delivery.offer_id == params["offer_id"]
                )
            )
        ).scalar_one()
        return recipients, deliveries

    async def explain(self, *, sql: str, params: dict[str, Any]) -> list[str]:
        rows = await self.session.execute(
            text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql), params
        )
        return [r[0] for r in rows]

    async def add_offer(self, offer: FlashOffer) -> FlashOffer:
        self.session.add(offer)
        await self.session.flush()
        return offer

    async def set_offer_recipients(self, offer_id: uuid.UUID, count: int) -> None:
        await self.session.execute(
            update(FlashOffer).where(FlashOffer.id == offer_id).values(recipients=count)
        )

    async def get_offer(self, offer_id: uuid.UUID) -> FlashOffer | None:
        return await self.session.get(FlashOffer, offer_id)

    async def delivery_counts(self, offer_id: uuid.UUID) -> DeliveryCounts:
        rows = await self.session.execute(
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

    async def mark_opened(self, *, offer_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> int:
        stmt = (
            update(Delivery)
            .where(
                Delivery.offer_id == offer_id,
                Delivery.user_id == user_id,
                Delivery.opened_at.is_(None),
            )
            .values(opened_at=now)
        )
        return (await self.session.execute(stmt)).rowcount  # type: ignore[attr-defined, no-any-return]

    async def is_recipient(self, *, offer_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        stmt = select(Delivery.id).where(Delivery.offer_id == offer_id, Delivery.user_id == user_id)
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def received_by(
        self,
        *,
        user_id: uuid.UUID,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[ReceivedOffer]:
        """Offers that reached the user (one sent delivery is enough, whatever the channel),
        newest first; limit+1 rows. Read = opened on any of the user's deliveries."""
        delivered = func.min(Delivery.sent_at).label("delivered_at")
        read = func.max(Delivery.opened_at).label("read_at")
        mine = (
            select(Delivery.offer_id, delivered, read)
            .where(Delivery.user_id == user_id, Delivery.status == "sent")
            .group_by(Delivery.offer_id)
            .subquery()
        )
        stmt = select(FlashOffer, mine.c.delivered_at, mine.c.read_at).join(
            mine, mine.c.offer_id == FlashOffer.id
        )
        if after is not None:
            stmt = stmt.where(tuple_(FlashOffer.created_at, FlashOffer.id) < tuple_(*after))
        stmt = stmt.order_by(FlashOffer.created_at.desc(), FlashOffer.id.desc()).limit(limit + 1)
        return [ReceivedOffer(o, d, r) for o, d, r in (await self.session.execute(stmt)).all()]


@dataclass(frozen=True)
class ReceivedOffer:
    offer: FlashOffer
    delivered_at: datetime
    read_at: datetime | None
