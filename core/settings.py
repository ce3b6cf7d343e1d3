"""Configuration, read only here (DESIGN: no os.environ reads elsewhere).

Values come from `CORNER_*` variables, `DATABASE_URL`/`REDIS_URL`, and `.corner/env`, which
`corner services up` writes for the embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR = Path(".corner")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CORNER_",
        env_file=(str(STATE_DIR / "env"),),
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CORNER_DATABASE_URL")
    )
    database_replica_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_REPLICA_URL", "CORNER_DATABASE_REPLICA_URL"),
        description="A streaming replica for discovery reads; falls back to the primary",
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "CORNER_REDIS_URL")
    )
    state_dir: Path = STATE_DIR
    environment: str = "development"

    secret_key: SecretStr | None = None
    qr_signing_keys: str | None = Field(
        default=None,
        description="Comma-separated `kid:secret` pairs; the first one signs, all verify.",
    )
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    jwt_algorithm: str = "HS256"

    # Argon2id parameters (OWASP minimum by default); tests lower them to stay fast
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1

    login_max_failures_per_account: int = 5
    login_max_attempts_per_ip: int = 30
    login_window_seconds: int = 15 * 60
    # password sign-ups per client IP per hour (429 past it)
    register_max_per_ip_per_hour: int = Field(default=20, ge=1)

    replica_retry_seconds: float = 5.0
    db_pool_size: int = 20
    db_max_overflow: int = 20
    log_level: str = "INFO"
    log_json: bool = True

    media_root: Path = STATE_DIR / "media"

    # `/metrics` answers only with `Authorization: Bearer <token>` when this is set; without a
    # token it answers 404 unless `metrics_public` (a private network, a scraper on loopback)
    metrics_token: SecretStr | None = None
    metrics_public: bool = False

    # orders: an unpaid order expires (its coupon and points come back) after this long
    order_payment_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # the platform's fee on consumed orders, in basis points (600 = 6.00%)
    platform_fee_bps: int = Field(default=600, ge=0, le=10_000)
    booking_default_slot_minutes: int = Field(default=60, ge=5, le=24 * 60)
    booking_reminder_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)

    fcm_credentials: Path | None = None
    fcm_base_url: str = "https://fcm.googleapis.com"
    fcm_http_timeout_seconds: float = 10.0
    fcm_max_in_flight: int = 100  # FCM requests at once per worker (firebase-admin's pool: 100)
    # SMS (core/sms.py): `log` appends JSON lines to sms_log_file; providers register their name
    sms_provider: str = "log"
    sms_log_file: Path | None = Field(default=None, description="default <state_dir>/sms.jsonl")
    sms_access_key_id: str | None = None
    sms_access_key_secret: SecretStr | None = None
    sms_sign_name: str | None = None
    sms_templates: str | None = Field(
        default=None, description="`kind:template,…` (e.g. login_code:SMS_123456)"
    )
    sms_endpoint: str | None = None
    # sign-in by SMS code (accounts): per phone 1 code per interval and a daily cap; per client
    # address a budget sized for carrier NAT, where thousands of phones share one address
    sms_code_ttl_seconds: int = Field(default=5 * 60, ge=30, le=3600)
    sms_code_max_attempts: int = Field(default=5, ge=1, le=20)
    sms_code_interval_seconds: int = Field(default=60, ge=1, le=3600)
    sms_code_max_per_phone_per_day: int = Field(default=10, ge=1, le=1000)
    sms_code_max_per_ip_per_hour: int = Field(default=600, ge=1)
    # reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDRs)
    trusted_proxies: str = ""
    # push and flash offers (push/)
    push_location_retention_days: int = 30
    push_merchant_daily_cap: int = 1
    push_global_daily_cap: int = 5
    push_queue_stream: str = "corner:push:batches"
    push_batch_size: int = 500  # tokens per FCM call (FCM's maximum is 500)
    push_consumer_concurrency: int = 4  # batches a worker sends at once
    push_reclaim_idle_seconds: int = 60  # queue entries of a dead worker are taken over after
    # deliveries a worker claimed are leased to it; a live worker renews the lease while it
    # sends, a dead one's expire and are sent again (same identity: the device shows one)
    push_send_lease_seconds: float = Field(default=30.0, gt=0)

    # payments (SPEC §13): the fake provider is always there; the others when configured
    public_base_url: str = "http://127.0.0.1:8000"  # where providers post their callbacks
    payment_query_minutes: int = Field(default=5, ge=1, le=24 * 60)  # a callback is late after
    payment_call_lease_seconds: float = Field(default=30.0, gt=0)  # refund/close sender lease
    payment_callback_max_skew_seconds: int = Field(default=300, ge=1)  # signed timestamp age
    payment_http_timeout_seconds: float = Field(default=10.0, gt=0)
    wechatpay_mchid: str | None = None
    wechatpay_appid: str | None = None
    wechatpay_private_key_file: Path | None = None  # the merchant API key (PEM)
    wechatpay_cert_serial_no: str | None = None  # the merchant API certificate's serial
    wechatpay_apiv3_key: SecretStr | None = None
    wechatpay_public_key_file: Path | None = None  # WeChat Pay public-key mode
    wechatpay_public_key_id: str | None = None
    wechatpay_base_url: str = "https://api.mch.weixin.qq.com"
    jpush_app_key: str | None = None  # JPush (mainland Android) beside FCM
    jpush_master_secret: SecretStr | None = None
    jpush_base_url: str = "https://api.jpush.cn"
    alipay_app_id: str | None = None
    alipay_private_key_file: Path | None = None  # the application's private key (RSA2)
    alipay_public_key_file: Path | None = None  # Alipay's public key (verifies answers, notify)
    alipay_gateway: str = "https://openapi.alipay.com/gateway.do"

    @property
    def async_database_url(self) -> str:
        return to_sqlalchemy_url(require(self.database_url, "DATABASE_URL"))

    def model_post_init(self, __context: object) -> None:
        # `.corner/env` records the embedded primary's replica: when the operator points
        # DATABASE_URL elsewhere without naming a replica, that replica is not of this database
        if set_in_environment("DATABASE_URL") and not set_in_environment("DATABASE_REPLICA_URL"):
            if not set_in_environment("CORNER_DATABASE_REPLICA_URL"):
                self.database_replica_url = None

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        from core.clientip import parse_trusted

        parse_trusted(value)  # a typo fails at start-up, not on the first request
        return value

    @property
    def sms_log_path(self) -> Path:
        return self.sms_log_file or self.state_dir / "sms.jsonl"

    def sms_template_map(self) -> dict[str, str]:
        """CORNER_SMS_TEMPLATES parsed: message kind -> the provider's template id."""
        pairs = [p.split(":", 1) for p in (self.sms_templates or "").split(",") if ":" in p]
        return {kind.strip(): template.strip() for kind, template in pairs}

    @property
    def async_replica_url(self) -> str | None:
        return to_sqlalchemy_url(self.database_replica_url) if self.database_replica_url else None

    def jwt_secret(self) -> str:
        return self._secret("jwt")

    def signing_keys(self) -> list[tuple[str, bytes]]:
        """QR signing keys, newest first; rotation = prepend a new `kid:secret` pair."""
        if self.qr_signing_keys:
            pairs = [p.split(":", 1) for p in self.qr_signing_keys.split(",") if p.strip()]
            return [(kid.strip(), secret.strip().encode()) for kid, secret in pairs]
        return [("k1", self._secret("qr").encode())]

    def derived_secret(self, purpose: str) -> str:
        """A secret of its own for `purpose`, derived from the one server secret (keys never
        shared by two purposes)."""
        return self._secret(purpose)

    def _secret(self, purpose: str) -> str:
        if self.secret_key is not None:
            return f"{self.secret_key.get_secret_value()}:{purpose}"
        return f"{dev_secret(self.state_dir)}:{purpose}"


def set_in_environment(name: str) -> bool:
    """True when the operator configured this variable themselves (not via .corner/env)."""
    return bool(os.environ.get(name))


def require(value: str | None, name: str) -> str:
    if not value:
        raise RuntimeError(f"{name} is not set; run `corner services up` or set it")
    return value


def to_sqlalchemy_url(url: str) -> str:
    """Accept the libpq form operators know and give SQLAlchemy the psycopg 3 dialect."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def to_libpq_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


@lru_cache
def dev_secret(state_dir: Path) -> str:
    """A development secret generated once into the state dir; never committed. Read once per
    process: every request's token check and QR signature asks for it."""
    path = state_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".secret_key.{os.getpid()}"
    tmp.write_text(secrets.token_urlsafe(48))
    tmp.chmod(0o600)
    # link() fails if another process won the race, so every process ends up reading one value
    with contextlib.suppress(FileExistsError):
        os.link(tmp, path)
    tmp.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()


# `async def` although it never awaits: FastAPI runs a plain `def` dependency in the thread
# pool, a hop that costs more than the work on every request.
async def get_app_settings(request: Request) -> Settings:
    """The app's settings (`create_app(settings)` stores them), else the environment's."""
    return getattr(request.app.state, "settings", None) or get_settings()


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
