"""JPush (极光推送) through its `jpush` SDK, beside FCM: it reaches mainland Android phones,
which have no Google Play services. A device registered with `provider: "jpush"` gives its
JPush registration id as the token; the outbox routes it here with the same caps, leases,
requeue, dedup and pruning as FCM (push/jobs/outbox.py).

- One push per registration id, so each device gets its own answer: JPush answers 400 with
  error code 1011 when the audience matches no device (an unknown or long-inactive
  registration id): the device is forgotten, as FCM's UNREGISTERED.
- `cid`, JPush's guard against a caller's retries pushing twice, must be one JPush issued
  (`GET /v3/push/cid`, the SDK's `Push.get_cid`; at most 10 per call for an ordinary app,
  1000 for a VIP one; valid a day): `issue_dedup_ids` fetches them in batches, the outbox
  stores each on its delivery (committed) before the push, and every resend of that delivery
  carries it (`send(..., dedup_ids=...)`). Flash offers live at most a day, so a stored cid
  never outlives JPush's memory of it while its delivery can still be sent.
- The SDK is synchronous (requests): calls run in threads, at most `max_in_flight` at once.
  Its endpoints are a module-level table (`jpush.common.ZONES`); our base URL
  (`CORNER_JPUSH_BASE_URL`) is added there as a zone of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta
from typing import Any

import structlog

from push.service.senders import (
    SENT,
    Outcome,
    PushMessage,
    SendResult,
    message_data,
)

log = structlog.get_logger("corner.push")

UNKNOWN_AUDIENCE = 1011  # "cannot find user by this audience"
RETRYABLE_CODES = {1000, 1030, 2002}  # server error, internal timeout, rate limited
MAX_TTL_SECONDS = 10 * 24 * 3600
CID_BATCH = 1000  # JPush's most per call (VIP apps; others get 10 whatever they ask)


class CidUnavailable(Exception):
    """JPush issued no cid (unreachable, refused, or an answer without a cidlist)."""


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

    async def issue_dedup_ids(self, count: int) -> list[str]:
        """`count` cids issued by JPush for this app (several calls when JPush gives fewer
        per call than asked). Raises `CidUnavailable` when JPush gives none."""
        cids: list[str] = []
        while len(cids) < count:
            async with self._slots:
                more = await asyncio.to_thread(self._fetch_cids, min(CID_BATCH, count - len(cids)))
            if not more:
                raise CidUnavailable("JPush issued no cid")
            cids += more
        return cids[:count]

    def _fetch_cids(self, count: int) -> list[str]:
        from jpush import common

        try:
            answer = self._jpush.create_push().get_cid(count, "push")
        except (common.Unauthorized, common.JPushFailure) as exc:
            raise CidUnavailable(f"refused: {exc}") from exc
        except (common.APIConnectionException, common.APIRequestException) as exc:
            raise CidUnavailable(f"unreachable: {exc}") from exc
        cidlist = answer.payload.get("cidlist") if isinstance(answer.payload, dict) else None
        if not isinstance(cidlist, list) or not all(isinstance(c, str) for c in cidlist):
            raise CidUnavailable("no cidlist in JPush's answer")
        return cidlist

    async def send(
        self,
        message: PushMessage,
        tokens: list[str],
        now: datetime,
        keys: list[str] | None = None,
        dedup_ids: list[str] | None = None,
    ) -> list[SendResult]:
        if keys is not None and len(keys) != len(tokens):
            raise ValueError("one key per token")
        if dedup_ids is not None and len(dedup_ids) != len(tokens):
            raise ValueError("one cid per token")
        ttl = max(timedelta(seconds=1), message.expires_at - now)
        payloads = [
            self._payload(
                message,
                token,
                ttl,
                keys[i] if keys else None,
                dedup_ids[i] if dedup_ids else None,
            )
            for i, token in enumerate(tokens)
        ]
        return list(await asyncio.gather(*(self._send_one(p) for p in payloads)))

    def _payload(
        self, message: PushMessage, token: str, ttl: timedelta, key: str | None, cid: str | None
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
        if cid:
            payload["cid"] = cid
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
