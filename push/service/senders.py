"""Transports: FCM through firebase-admin, SMS through core.sms, and the push log sink.

Without `CORNER_FCM_CREDENTIALS` push messages go to the log sink (and are still recorded as
deliveries), so `make run` needs no Google account. With credentials, the real firebase-admin
client sends to `{fcm_base_url}/v1/projects/{project_id}/messages:send`; the service account's
`token_uri` is honoured by google-auth, which is how tests point both at local fakes.
"""

from __future__ import annotations

import asyncio
import enum
import json
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import structlog

from core.settings import Settings
from core.sms import FLASH_OFFER, SmsMessage, SmsResult, SmsSender, sms_message, sms_sender

log = structlog.get_logger("corner.push")

FCM_MAX_TOKENS_PER_CALL = 500


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # 429 / 5xx / transport error: try again later
    UNREGISTERED = "unregistered"  # the token is dead: forget the device
    FAILED = "failed"  # permanent for this message


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    error: str | None = None
    retry_after: float | None = None


SENT = SendResult(Outcome.SENT)


@dataclass(frozen=True)
class OfferMessage:
    offer_id: uuid.UUID
    merchant_id: uuid.UUID
    shop_id: uuid.UUID
    campaign_id: uuid.UUID
    title: str
    body: str
    expires_at: datetime


@dataclass(frozen=True)
class ReminderMessage:
    """A personal notification (a booking reminder): no campaign, collapses per booking."""

    reference_id: uuid.UUID
    merchant_id: uuid.UUID
    kind: str
    title: str
    body: str
    expires_at: datetime


PushMessage = OfferMessage | ReminderMessage


def message_data(message: PushMessage) -> tuple[dict[str, str], str]:
    """The FCM data payload and the collapse key of a message."""
    if isinstance(message, ReminderMessage):
        data = {
            "type": message.kind,
            "reference_id": str(message.reference_id),
            "merchant_id": str(message.merchant_id),
            "expires_at": message.expires_at.isoformat(),
        }
        return data, f"{message.kind}-{message.reference_id}"
    data = {
        "type": "flash_offer",
        "offer_id": str(message.offer_id),
        "merchant_id": str(message.merchant_id),
        "shop_id": str(message.shop_id),
        "campaign_id": str(message.campaign_id),
        "expires_at": message.expires_at.isoformat(),
    }
    return data, f"merchant-{message.merchant_id}"


class PushSender(Protocol):
    async def send(
        self,
        message: PushMessage,
        tokens: list[str],
        now: datetime,
        keys: list[str] | None = None,
        dedup_ids: list[str] | None = None,
    ) -> list[SendResult]:
        """One result per token, in order. At most FCM_MAX_TOKENS_PER_CALL tokens.

        `keys` (one per token) identify each (message, device) pair; a resend carries the
        same key and display identity, so the device replaces rather than repeats it.
        `dedup_ids` (one per token) are the provider's own idempotency keys, issued by it
        (`DedupIdIssuer`); providers without one (FCM) ignore them.
        """
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class DedupIdIssuer(Protocol):
    """A provider whose idempotency keys it issues itself (JPush's `cid`): the outbox asks for
    them and stores each on its delivery before the first push (push/jobs/outbox.py)."""

    async def issue_dedup_ids(self, count: int) -> list[str]:
        """`count` fresh keys; raises when the provider issues none."""
        ...


class LogPushSender:
    """The development sink: logs each message; every token counts as delivered."""

    async def send(
        self,
        message: PushMessage,
        tokens: list[str],
        now: datetime,
        keys: list[str] | None = None,
        dedup_ids: list[str] | None = None,
    ) -> list[SendResult]:
        data, _ = message_data(message)
        log.info(
            "push_sink",
            type=data["type"],
            title=message.title,
            tokens=len(tokens),
        )
        return [SENT for _ in tokens]

    async def aclose(self) -> None:
        return None


LOG_SINK = LogPushSender()


def sms_of(message: PushMessage, phone: str, sign_name: str | None = None) -> SmsMessage:
    """The SMS form of a push message (core.sms), of kind `flash_offer` or the reminder's,
    signed `sign_name` (the merchant's signature; None: the platform's)."""
    kind = FLASH_OFFER if isinstance(message, OfferMessage) else message.kind
    return sms_message(phone, kind, {"title": message.title, "body": message.body}, sign_name)


def sms_outcome(result: SmsResult) -> SendResult:
    """What the outbox does with a provider's answer."""
    if result.ok:
        return SENT
    outcome = Outcome.RETRY if result.retryable else Outcome.FAILED
    return SendResult(outcome, (result.error or "sms_failed")[:60])


class FcmPushSender:
    """firebase-admin's `send_each_for_multicast_async` with our endpoint and no SDK retries.

    firebase-admin (7.x) has no public option for the FCM endpoint (the Go and Java SDKs do);
    its messaging service keeps the URL in `_fcm_url`, which we set once here. Retries are
    ours (durable, jittered, honouring Retry-After), so the SDK's in-process retry of 500/503
    is switched off rather than multiplied with them.
    """

    # firebase-admin sends each message of a call at once (asyncio.gather) over a pool of 100
    # connections; more in flight only queue for the pool and time out, so calls are cut into
    # chunks and a semaphore keeps at most `max_in_flight` requests going per process.
    CHUNK = 25

    def __init__(
        self, credentials_path: Path, base_url: str, timeout: float, max_in_flight: int = 100
    ) -> None:
        import firebase_admin
        from firebase_admin import _http_client, credentials, messaging
        from firebase_admin._retry import HttpxRetry

        info = json.loads(credentials_path.read_text())
        self.project_id: str = info["project_id"]
        self._app = firebase_admin.initialize_app(
            credentials.Certificate(info),
            {"httpTimeout": timeout, "projectId": self.project_id},
            name=f"corner-push-{uuid.uuid4()}",
        )
        service = messaging._get_messaging_service(self._app)
        if not hasattr(service, "_fcm_url") or not hasattr(service, "_async_client"):
            raise RuntimeError("this firebase-admin version does not expose _fcm_url")
        service._fcm_url = f"{base_url.rstrip('/')}/v1/projects/{self.project_id}/messages:send"
        service._async_client = _http_client.HttpxAsyncClient(
            credential=service._credential,
            timeout=timeout,  # type: ignore[arg-type]
            retry_config=HttpxRetry(max_retries=0),
        )
        self._service = service
        self._credential = self._app.credential.get_credential()
        self._slots = asyncio.Semaphore(max(1, max_in_flight // self.CHUNK))

    async def _fresh_token(self) -> None:
        """Refresh the OAuth token off the event loop (google-auth refreshes synchronously)."""
        from google.auth.transport.requests import Request

        # `valid` is False a few minutes before expiry, so a token is never used stale
        if not self._credential.valid:
            await asyncio.to_thread(self._credential.refresh, Request())

    async def send(
        self,
        message: PushMessage,
        tokens: list[str],
        now: datetime,
        keys: list[str] | None = None,
        dedup_ids: list[str] | None = None,  # FCM's HTTP v1 API has no idempotency key
    ) -> list[SendResult]:
        if not tokens:
            return []
        if len(tokens) > FCM_MAX_TOKENS_PER_CALL:
            raise ValueError("at most 500 tokens per FCM call")
        if keys is not None and len(keys) != len(tokens):
            raise ValueError("one key per token")
        try:
            await self._fresh_token()
        except Exception as exc:  # token endpoint down: the whole batch is retried later
            log.warning("fcm_token_refresh_failed", error=str(exc))
            return [SendResult(Outcome.RETRY, "token_refresh_failed") for _ in tokens]
        ttl = max(timedelta(seconds=1), message.expires_at - now)
        with warnings.catch_warnings():
            # firebase-admin 7.7 deprecates registration tokens in favour of installation ids
            # (`fids`); the apps register FCM registration tokens, which FCM still accepts
            warnings.simplefilter("ignore", DeprecationWarning)
            messages = self._messages(message, tokens, ttl, keys)
        # what send_each_for_multicast_async does, with the messages built here (see above)
        return [
            result
            for start in range(0, len(messages), self.CHUNK)
            for result in await self._send_chunk(messages[start : start + self.CHUNK])
        ]

    async def _send_chunk(self, messages: list[Any]) -> list[SendResult]:
        from firebase_admin import messaging

        async with self._slots:
            batch = await messaging.send_each_async(messages, app=self._app)
        return [_classify(r.exception) for r in batch.responses]

    @staticmethod
    def _messages(
        message: PushMessage, tokens: list[str], ttl: timedelta, keys: list[str] | None = None
    ) -> list[Any]:
        """One FCM message per token. Its display identity is stable: the same offer sent to
        the same device again (a resend after a crash) carries the same Android `tag`, APNs
        `apns-collapse-id` and web notification `tag`, so the system replaces the shown
        notification instead of adding a second one; `data.delivery_id` lets the app drop a
        repeated data message. (FCM's `collapse_key` only collapses messages still waiting
        for an offline device.) A later offer of the same merchant replaces it too."""
        from firebase_admin import messaging

        data, collapse = message_data(message)
        return [
            messaging.Message(
                token=token,
                notification=messaging.Notification(title=message.title, body=message.body),
                data=data if keys is None else data | {"delivery_id": keys[i]},
                android=messaging.AndroidConfig(
                    ttl=ttl,
                    collapse_key=collapse,
                    priority="high",
                    notification=messaging.AndroidNotification(tag=collapse),
                ),
                apns=messaging.APNSConfig(
                    headers={
                        "apns-expiration": str(int(message.expires_at.timestamp())),
                        "apns-collapse-id": collapse,
                    }
                ),
                webpush=messaging.WebpushConfig(
                    headers={"TTL": str(int(ttl.total_seconds())), "Topic": collapse[:32]},
                    notification=messaging.WebpushNotification(
                        title=message.title, body=message.body, tag=collapse
                    ),
                ),
            )
            for i, token in enumerate(tokens)
        ]

    async def aclose(self) -> None:
        import firebase_admin

        await self._service._async_client.aclose()
        # delete_app closes the messaging service with asyncio.run(), which needs a thread
        # without a running loop
        await asyncio.to_thread(firebase_admin.delete_app, self._app)


def _classify(error: Any) -> SendResult:
    """Map a firebase-admin error to what the outbox does next."""
    if error is None:
        return SENT
    from firebase_admin import exceptions, messaging

    cause = getattr(error, "cause", None)
    if isinstance(cause, httpx.PoolTimeout | httpx.ConnectTimeout | httpx.ConnectError):
        # the request never left: safe to send again
        return SendResult(Outcome.RETRY, f"not_sent:{type(cause).__name__}")
    if isinstance(cause, httpx.TransportError):
        # it may have reached FCM (read timeout, connection dropped mid-answer): sent again,
        # with the same display identity, so at worst the device replaces it by itself
        return SendResult(Outcome.RETRY, f"outcome_unknown:{type(cause).__name__}")
    response = getattr(error, "http_response", None)
    status = getattr(response, "status_code", None)
    retry_after = _retry_after(response)
    code = getattr(error, "code", None) or type(error).__name__
    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return SendResult(Outcome.UNREGISTERED, "unregistered")
    if isinstance(error, exceptions.InvalidArgumentError) and "token" in str(error).lower():
        return SendResult(Outcome.UNREGISTERED, "invalid_token")
    if status == 429 or isinstance(error, exceptions.ResourceExhaustedError):
        return SendResult(Outcome.RETRY, "rate_limited", retry_after)
    if (status is not None and status >= 500) or isinstance(
        error,
        exceptions.UnavailableError
        | exceptions.InternalError
        | exceptions.DeadlineExceededError
        | exceptions.UnknownError,
    ):
        return SendResult(Outcome.RETRY, f"transient:{status or code}", retry_after)
    return SendResult(Outcome.FAILED, str(code)[:60])


def _retry_after(response: httpx.Response | Any) -> float | None:
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class Senders:
    push: PushSender  # FCM (devices registered with provider "fcm")
    sms: SmsSender
    jpush: PushSender | None = None  # JPush; None: the log sink

    def for_provider(self, provider: str | None) -> PushSender:
        if provider == "jpush":
            return self.jpush or LOG_SINK
        return self.push

    async def aclose(self) -> None:
        await self.push.aclose()
        await self.sms.aclose()
        if self.jpush is not None:
            await self.jpush.aclose()


def build_senders(settings: Settings) -> Senders:
    push: PushSender
    if settings.fcm_credentials is not None:
        push = FcmPushSender(
            settings.fcm_credentials,
            settings.fcm_base_url,
            settings.fcm_http_timeout_seconds,
            settings.fcm_max_in_flight,
        )
    else:
        push = LogPushSender()
    jpush: PushSender = LOG_SINK
    if settings.jpush_app_key and settings.jpush_master_secret:
        from push.service.jpush import JPushSender

        jpush = JPushSender(
            settings.jpush_app_key,
            settings.jpush_master_secret.get_secret_value(),
            settings.jpush_base_url,
            settings.fcm_http_timeout_seconds,
        )
    return Senders(push=push, sms=sms_sender(settings), jpush=jpush)
