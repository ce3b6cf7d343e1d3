"""`Idempotency-Key` for writes a counter tablet may retry (redeem, card transactions, orders).

The key is claimed by an INSERT in the same transaction as the write it protects, and the
response is stored in that transaction too. A concurrent retry with the same key blocks on the
uncommitted row (PostgreSQL's ON CONFLICT waits), then replays the stored response; if the first
attempt failed and rolled back, the retry simply runs. Same key, different body: 409.

Routes use the `Idempotent` dependency, the one way to honour the header: the route names the
scope (whose retry of what) and the service call, the helper does the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header
from psycopg.types.json import Jsonb
from pydantic import BaseModel
from sqlalchemy import (
    DateTime,
    LargeBinary,
    SmallInteger,
    String,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.responses import Response

from core.database import SessionDep
from core.errors import IdempotencyKeyReused
from core.jobs import JobContext, job
from core.lean import Connection, Statement, connection_of
from core.models import Base
from core.timezones import utcnow

RETENTION = timedelta(hours=48)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retry-safe key: the same key and body returns the first result",
    ),
]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


def request_fingerprint(payload: Any) -> bytes:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)).digest()


@cache
def _statements() -> tuple[Statement, Statement, Statement]:
    """Claim the key, read an earlier attempt's record, store the response (built once)."""
    c = IdempotencyRecord.__table__.c
    same = (c.scope == bindparam("p_scope"), c.key == bindparam("p_key"))
    claim = (
        insert(IdempotencyRecord.__table__)  # type: ignore[arg-type]
        .values(
            scope=bindparam("p_scope"), key=bindparam("p_key"), request_hash=bindparam("p_hash")
        )  # fmt: skip
        .on_conflict_do_nothing()
        .returning(c.key)
    )
    record = select(c.request_hash, c.status_code, c.response_body).where(*same)
    store = (
        update(IdempotencyRecord.__table__)  # type: ignore[arg-type]
        .where(*same)
        .values(status_code=bindparam("p_status"), response_body=bindparam("p_body"))
    )
    return Statement(claim), Statement(record), Statement(store)


async def idempotent(
    connection: Connection,
    *,
    key: str | None,
    scope: str,
    payload: Any,
    status_code: int,
    run: Callable[[], Awaitable[BaseModel]],
) -> Response:
    """Run `run` once per (scope, key) in the transaction of `connection`; later calls with
    the same key replay its response, the same key with another payload is refused (409)."""
    claim, record, store = _statements()
    names = {"p_scope": scope, "p_key": key}
    if key is not None:
        fingerprint = request_fingerprint(payload)
        if await claim.one(connection, {**names, "p_hash": fingerprint}) is None:
            # an earlier attempt committed (a concurrent one made the INSERT wait for it)
            found = await record.one(connection, names)
            assert found is not None
            if bytes(found[0]) != fingerprint:
                raise IdempotencyKeyReused()
            return _json(found[2], found[1] or status_code, replayed=True)
    body = (await run()).model_dump(mode="json")
    if key is not None:
        stored = {**names, "p_status": status_code, "p_body": Jsonb(body, dumps=_dumps)}
        await store.run(connection, stored)
    return _json(body, status_code, replayed=False)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def run_idempotent(
    session: AsyncSession,
    *,
    key: str | None,
    scope: str,
    payload: Any,
    status_code: int,
    run: Callable[[], Awaitable[BaseModel]],
) -> Response:
    """`idempotent` in the transaction of a route's SQLAlchemy session."""
    return await idempotent(
        await connection_of(session),
        key=key,
        scope=scope,
        payload=payload,
        status_code=status_code,
        run=run,
    )


class IdempotentWrite:
    """The request's `Idempotency-Key` bound to its session (see `Idempotent`)."""

    def __init__(self, session: AsyncSession, key: str | None) -> None:
        self.session = session
        self.key = key

    async def __call__(
        self,
        scope: str,
        payload: BaseModel | dict[str, Any],
        call: Callable[[], Awaitable[BaseModel]],
        *,
        status_code: int = 200,
    ) -> Response:
        """Run `call` once per (scope, key) and answer its result with `status_code`; a retry
        with the same key and payload gets the stored answer (`Idempotent-Replayed: true`)."""
        return await run_idempotent(
            self.session,
            key=self.key,
            scope=scope,
            payload=payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload,
            status_code=status_code,
            run=call,
        )


async def idempotent_write(
    session: SessionDep, idempotency_key: IdempotencyKey = None
) -> IdempotentWrite:
    return IdempotentWrite(session, idempotency_key)


# `idempotent: Idempotent` in a route, then
# `return await idempotent(f"redeem:{user}", data, lambda: service.redeem(...))`
Idempotent = Annotated[IdempotentWrite, Depends(idempotent_write)]


def _json(body: Any, status_code: int, *, replayed: bool) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers
    )


@job("purge_idempotency_keys", interval_seconds=3600)
async def purge_idempotency_keys(ctx: JobContext) -> int:
    async with ctx.sessionmaker.begin() as session:
        result = await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - RETENTION)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
