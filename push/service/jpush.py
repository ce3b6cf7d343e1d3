"""JPush (极光推送) through its `jpush` SDK, beside FCM: it reaches mainland Android phones,
which have no Google Play services. A device registered with `provider: "jpush"` gives its
JPush registration id as the token; the outbox routes it here with the same caps, leases,
requeue, dedup and pruning as FCM (push/service/outbox.py).

- One push per registration id, so each device gets its own answer: JPush answers 400 with
  error code 1011 when the audience matches no device (an unknown or long-inactive
  registration id): the device is forgotten, as FCM's UNREGISTERED.
- A resend after a crash carries the same `cid` (JPush's guard against a caller's retries
  pushing twice), derived from the delivery's key, and the same `delivery_id` extra.
- The SDK is synchronous (requests): calls run in threads, at most `max_in_flight` at once.
  Its endpoints are a module-level table (`jpush.common.ZONES`); our base URL
  (`CORNER_JPUSH_BASE_URL`) is added there as a zone of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog

from push.service.senders import (
    SENT,
    OfferMessage,
    Outcome,
    PushMessage,
    SendResult,
    message_data,
)

log = structlog.get_logger("corner.push")

UNKNOWN_AUDIENCE = 1011  # "cannot find user by this audience"
RETRYABLE_CODES = {1000, 1030, 2002}  # server error, internal timeout, rate limited
MAX_TTL_SECONDS = 10 * 24 * 3600


def zone_for(base_url: str) -> str:
    """Register `base_url` as a JPush SDK zone and name it."""
    from jpush import common

    base = base_url.rstrip("/")
    name = "CORNER_" + hashlib.sha256(base.encode()).hexdigest()[:10].upper()
    common.ZONES[name] = {
        "PUSH": f"{base}/v3/",
        "REPORT": f"{base}/v3/report/",
        "DEVICE": f"{base}/v3/devices/",
        "ALIAS": f"{base}/v3/aliases/",
        "TAG": f"{base}/v3/tags/",
        "SCHEDULE": f"{base}/v3/schedules/",
        "ADMIN": f"{base}/v1/",
    }
    return name


class JPushSender:
    def __init__(
        self,
        app_key: str,
        master_secret: str,
        base_url: str,
        timeout: float,
        max_in_flight: int = 20,
        apns_production: bool = False,
    ) -> None:
        import jpush

        self.app_key = app_key
        self._jpush = jpush.JPush(app_key, master_secret, timeout=timeout, zone=zone_for(base_url))
        self._slots = asyncio.Semaphore(max(1, max_in_flight))
        self._apns_production = apns_production

    def cid(self, message: PushMessage, key: str) -> str:
        """JPush's de-duplication id (`{appKey}-{uuid}`): the same for every resend of one
        delivery of one message, different for any other. The key alone (a delivery id, a
        per-database sequence) is not enough: a test database, a restored backup or a staging
        server on the same JPush app repeats it, and JPush answers a cid it saw in the last
        day with the first push's result without pushing (a silently lost notification)."""
        subject = (
            f"offer:{message.offer_id}"
            if isinstance(message, OfferMessage)
            else f"{message.kind}:{message.reference_id}"
        )
        return f"{self.app_key}-{uuid.uuid5(uuid.NAMESPACE_URL, f'corner:{subject}:{key}')}"

    async def send(
        self,
        message: PushMessage,
        tokens: list[str],
        now: datetime,
        keys: list[str] | None = None,
    ) -> list[SendResult]:
        if keys is not None and len(keys) != len(tokens):
            raise ValueError("one key per token")
        ttl = max(timedelta(seconds=1), message.expires_at - now)
        payloads = [self._payload(message, token, ttl, keys[i] if keys else None)
                    for i, token in enumerate(tokens)]  # fmt: skip
        return list(await asyncio.gather(*(self._send_one(p) for p in payloads)))

    def _payload(
        self, message: PushMessage, token: str, ttl: timedelta, key: str | None
    ) -> dict[str, Any]:
        import jpush

        data, collapse = message_data(message)
        extras = data | ({"delivery_id": key} if key else {})
        payload: dict[str, Any] = {
            "platform": jpush.all_,
            "audience": jpush.audience(jpush.registration_id(token)),
            "notification": jpush.notification(
                alert=message.body,
                android=jpush.android(alert=message.body, title=message.title, extras=extras),
                ios=jpush.ios(
                    alert={"title": message.title, "body": message.body},
                    extras=extras,
                    thread_id=collapse,
                ),  # fmt: skip
            ),
            "options": {
                "time_to_live": min(MAX_TTL_SECONDS, int(ttl.total_seconds())),
                "apns_production": self._apns_production,
                "apns_collapse_id": collapse[:64],
            },
        }
        if key:
            payload["cid"] = self.cid(message, key)
        return payload

    async def _send_one(self, payload: dict[str, Any]) -> SendResult:
        async with self._slots:
            return await asyncio.to_thread(self._push, payload)

    def _push(self, payload: dict[str, Any]) -> SendResult:
        from jpush import common

        push = self._jpush.create_push()
        push.platform, push.audience = payload["platform"], payload["audience"]
        push.notification, push.options = payload["notification"], payload["options"]
        push.cid = payload.get("cid")
        try:
            push.send()
            return SENT
        except common.Unauthorized:
            log.error("jpush_unauthorized")  # wrong app key or master secret: fix and resend
            return SendResult(Outcome.RETRY, "unauthorized")
        except common.JPushFailure as exc:
            return classify(exc.error_code, getattr(exc.response, "status_code", None))
        except common.APIConnectionException:
            return SendResult(Outcome.RETRY, "not_sent:connect_timeout")
        except common.APIRequestException:
            # it may have reached JPush: sent again with the same cid, which JPush drops
            return SendResult(Outcome.RETRY, "outcome_unknown")

    async def aclose(self) -> None:
        await asyncio.to_thread(self._jpush.session.close)


def classify(code: int | None, status: int | None) -> SendResult:
    """What the outbox does with a JPush error answer."""
    if code == UNKNOWN_AUDIENCE:
        return SendResult(Outcome.UNREGISTERED, "unregistered")
    if code in RETRYABLE_CODES or status == 429 or (status is not None and status >= 500):
        return SendResult(Outcome.RETRY, f"transient:{code or status}")
    return SendResult(Outcome.FAILED, f"jpush:{code or status}")
