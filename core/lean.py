"""Lean write routes: the counter at the speed of the database (issue 21).

A counter write (redeem a coupon, a card transaction, consume an order) is a handful of short
statements; FastAPI's per-request dependency solving and SQLAlchemy's ORM unit of work cost
several times the statements' own round trips. This module is the one mechanism the counter
routes use instead; nothing in it weakens a check:

- `LeanRoute` (a `core.query.DirectRoute`): the handler takes the `Request` and returns the
  `Response`. The route is declared with its body model, its response model and whether it
  takes an `Idempotency-Key`, so the OpenAPI document is the one FastAPI would write for the
  same parameters; no dependency is solved per request.
- `read_request(request, Model, idempotent=...)` validates the body in one pydantic call (and
  the Idempotency-Key header) with FastAPI's rules and raises the same
  `RequestValidationError` (locations start with "body" / "header"): the same 422 problem as
  a FastAPI route.
- `transaction(request)`: a connection of the app's write pool (asyncpg: a lean route's
  transaction runs only `Statement`s, so it needs no ORM session and no psycopg; asyncpg does
  a transaction of the counter's statements in about half psycopg's CPU) inside one
  transaction, committed when the block ends, that is before the handler returns its response
  (decision 0001: a client that sees 2xx can read its write); rolled back on any error, so a
  refusal writes nothing; `raise Rollback()` inside the block rolls back without an error.
- `read_path(request, name, type)` / `read_path_params(request, {name: type})`: path
  parameters validated as FastAPI does (one 422, located under "path");
  `json_response(model, status)`: the answer FastAPI would send for a response model
  (aliases, JSON mode), serialised with orjson.
- `Detached(Entity)`: an entity's columns to select and a detached instance built from a
  row (what a repository would load, never flushed).
- `Statement`: a SQLAlchemy Core statement compiled once, to psycopg SQL and to the same text
  with numbered parameters for asyncpg, and run on either driver's connection, rows as tuples.
  The same statement runs on a lean route's asyncpg connection and on an ORM session's psycopg
  one (`connection_of(session)`), so a service has one way to do each thing whichever
  route opened the transaction: a service taking `Db` (either) asks `connection_of(db)` for
  the connection (an ORM route's session: its psycopg connection, same transaction).

Start-up objects are frozen out of the collector by the app (`api.app`, `gc.freeze`).
"""

from __future__ import annotations

import inspect
import json
import re
from collections import namedtuple
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from email.message import Message
from typing import Annotated, Any, TypeAlias, TypeVar

import asyncpg
import orjson
import psycopg
from fastapi import Body, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from psycopg.types.json import Jsonb
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import ColumnElement
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from core.query import DirectRoute
from core.settings import Settings, to_libpq_url

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
# a lean route's transaction (asyncpg, see `transaction`) or an ORM session's (psycopg, see
# `connection_of`): `Statement` runs on both
Connection: TypeAlias = "psycopg.AsyncConnection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Row = tuple[Any, ...]
LeanHandler = Callable[[Request], Awaitable[Response]]
# builders of SQL expressions another package exports for a lean lookup to fold its checks
# in: (merchant id column, bind parameter) -> the caller's role there / whether the shop is
# that merchant's (accounts.service.staff_role_expression, merchants.service.shop_of_merchant_sql)
RoleSql = Callable[[Any, Any], ColumnElement[Any]]
ShopSql = Callable[[Any, Any], ColumnElement[bool]]


# -- the route --------------------------------------------------------------------------------


async def read_request(
    request: Request, model: type[M], *, idempotent: bool = False
) -> tuple[M, str | None]:
    """The body as `model` and (when `idempotent`) the Idempotency-Key header, validated as
    FastAPI validates a body parameter and that header: JSON when the content type is JSON,
    lax pydantic rules, every error in one 422 (the header's first, located
    under "header", the body's under "body")."""
    errors: list[dict[str, Any]] = []
    key = request.headers.get("Idempotency-Key") if idempotent else None
    if key is not None:
        try:
            _IDEMPOTENCY_KEY.validate_python(key)
        except ValidationError as exc:
            errors += [{**e, "loc": ("header", "Idempotency-Key")} for e in _errors(exc)]
    raw = await request.body()
    value: Any = raw
    if not raw:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required",
                       "input": None})  # fmt: skip
        raise RequestValidationError(errors)
    # FastAPI's strict content type: only a JSON content type makes the body JSON
    content_type = request.headers.get("content-type")
    if content_type is not None and _is_json(content_type):
        value = _json_of(raw)
    try:
        data = model.model_validate(value, from_attributes=True)  # as FastAPI validates
    except ValidationError as exc:
        errors += [{**e, "loc": ("body", *e["loc"])} for e in _errors(exc)]
        raise RequestValidationError(errors, body=value) from None
    if errors:
        raise RequestValidationError(errors, body=value)
    return data, key


_IDEMPOTENCY_KEY: TypeAdapter[str] = TypeAdapter(
    Annotated[str, StringConstraints(min_length=1, max_length=255)]
)


_PATH_TYPES: dict[Any, TypeAdapter[Any]] = {}


def read_path(request: Request, name: str, kind: type[T]) -> T:
    """Path parameter `name` as `kind`, validated as FastAPI validates a path parameter (the
    same 422: located under "path")."""
    return read_path_params(request, {name: kind})[name]  # type: ignore[no-any-return]


def read_path_params(request: Request, kinds: Mapping[str, Any]) -> dict[str, Any]:
    """Several path parameters (name: type), every error in one 422 as FastAPI reports them."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name, kind in kinds.items():
        adapter = _PATH_TYPES.get(kind)
        if adapter is None:
            adapter = _PATH_TYPES[kind] = TypeAdapter(kind)
        try:
            values[name] = adapter.validate_python(request.path_params[name])
        except ValidationError as exc:
            errors += [{**e, "loc": ("path", name)} for e in _errors(exc)]
    if errors:
        raise RequestValidationError(errors)
    return values


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """`model` answered as FastAPI answers a response model: its JSON-mode dump by alias."""
    return Response(
        orjson.dumps(model.model_dump(mode="json", by_alias=True)),
        status_code=status_code,
        media_type="application/json",
    )


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return exc.errors(include_url=False)  # type: ignore[return-value]


def _json_of(raw: bytes) -> Any:
    """The body decoded as FastAPI decodes it: the stdlib's json (orjson would read integers
    past 64 bits as floats; a counter body is small, the difference is microseconds), its
    position and message when it fails (alone: FastAPI reports a body it cannot decode before
    it validates anything else)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error: dict[str, Any] = {"type": "json_invalid", "loc": ("body", exc.pos)}
        error |= {"msg": "JSON decode error", "input": {}, "ctx": {"error": exc.msg}}
        raise RequestValidationError([error], body=exc.doc) from None
    except ValueError as exc:  # not UTF-8
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def _is_json(content_type: str) -> bool:
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _documented(
    handler: LeanHandler,
    body: type[BaseModel] | None,
    idempotent: bool,
    path: Mapping[str, Any] | None = None,
) -> Any:
    """A stand-in endpoint whose signature is what the route takes, for FastAPI to describe
    (path parameters, request body, Idempotency-Key header); it is never called."""
    from core.idempotency import IdempotencyKey  # it runs its statements through this module

    parameters = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[kind, Path()])
        for name, kind in (path or {}).items()
    ]
    if body is not None:
        parameters.append(
            inspect.Parameter(
                "data", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[body, Body()]
            )
        )
    if idempotent:
        parameters.append(
            inspect.Parameter(
                "idempotency_key",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=IdempotencyKey,
                default=None,
            )
        )

    async def documented(**_: Any) -> Any:
        raise RuntimeError("a LeanRoute serves its requests through LeanRoute.handle")

    documented.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    documented.__name__ = handler.__name__
    documented.__doc__ = handler.__doc__
    return documented


class LeanRoute(DirectRoute):
    """A POST route served by `handler(request)`; `path_params` (name: type), `body` and
    `idempotent` say what it takes (for the OpenAPI document; the handler validates with
    `read_path` and `read_request`). Route-level `dependencies` (e.g. the bearer scheme) are
    documented, never solved: the handler authenticates itself."""

    def __init__(
        self,
        path: str,
        handler: LeanHandler,
        *,
        body: type[BaseModel] | None = None,
        idempotent: bool = False,
        path_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(path, _documented(handler, body, idempotent, path_params), **kwargs)
        self.serve = handler


def lean_post(
    router: Any,
    path: str,
    handler: LeanHandler,
    *,
    body: type[BaseModel] | None = None,
    idempotent: bool = False,
    path_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Add `handler` to `router` (the app's own router: `include_router` would rebuild the
    route as a plain APIRoute) as a POST LeanRoute."""
    # the router's operation-id rule, as `router.post` would apply it (readable, unique ids)
    if hasattr(router, "generate_unique_id_function"):
        kwargs.setdefault("generate_unique_id_function", router.generate_unique_id_function)
    route = LeanRoute(
        router.prefix + path if hasattr(router, "prefix") else path,
        handler,
        body=body,
        idempotent=idempotent,
        path_params=path_params,
        methods=["POST"],
        **kwargs,
    )
    router.routes.append(route)


# -- the transaction --------------------------------------------------------------------------


class WritePool:
    """The lean routes' pool of transactional asyncpg connections to the primary, as large as
    the SQLAlchemy engine's, with its session settings (`open` it in the lifespan)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.database_url, "DATABASE_URL is required"
        self.dsn = to_libpq_url(settings.database_url)
        self.size = settings.db_pool_size + settings.db_max_overflow
        self.pool: asyncpg.Pool[Any] | None = None

    async def open(self, wait: bool = True) -> None:
        self.pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1 if wait else 0,
            max_size=self.size,
            timeout=30.0,
            command_timeout=None,
            server_settings=WRITE_SETTINGS,
            init=_json_codecs,
            # asyncpg resets a released connection with one more round trip (advisory locks,
            # cursors, LISTEN, session settings); a lean transaction uses none of them
            reset=_no_reset,
        )

    def acquire(self) -> Any:
        assert self.pool is not None, "the write pool is not open"
        return self.pool.acquire(timeout=30.0)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None


# the same session settings as the SQLAlchemy engine's connections (core.database)
WRITE_SETTINGS = {"jit": "off", "timezone": "UTC"}


async def _json_codecs(connection: Any) -> None:
    """json/jsonb as Python values both ways (psycopg's defaults): orjson."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, schema="pg_catalog", encoder=_json_text, decoder=orjson.loads
        )


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _no_reset(connection: Any) -> None:
    return None


def write_pool(settings: Settings) -> WritePool:
    """A closed `WritePool` (open it in the lifespan)."""
    return WritePool(settings)


class Rollback(Exception):  # noqa: N818 (psycopg's name for the same thing)
    """Raised inside `transaction(request)`: roll back, and go on after the block."""


@asynccontextmanager
async def transaction(request: Request) -> AsyncIterator[Connection]:
    """A write-pool connection in one transaction: committed when the block ends normally,
    rolled back when it raises (`Rollback`: silently)."""
    pool: WritePool = request.app.state.writes
    try:
        async with pool.acquire() as connection, connection.transaction():
            yield connection
    except Rollback:
        pass


async def _driver_connection(session: AsyncSession) -> Connection:
    """The psycopg connection under `session`'s transaction (begun if it was not): a
    `Statement` run on it is part of the session's unit of work's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection  # type: ignore[return-value]


# A service's transaction, whichever route opened it: a lean route's connection or an ORM
# route's session. A service that runs `Statement`s takes `Db` and asks `connection_of` once,
# so the lean route and every ORM caller run the same code.
Db: TypeAlias = "AsyncSession | Connection"


async def connection_of(db: Db) -> Connection:
    """The driver connection `Statement`s run on for `db`: the connection itself, or the one
    under the session's transaction, after flushing what the session holds pending (a
    `Statement` does not autoflush as a session's query does, and must see those rows)."""
    if isinstance(db, AsyncSession):
        if db.new or db.dirty or db.deleted:
            await db.flush()
        return await _driver_connection(db)
    return db


# -- statements -------------------------------------------------------------------------------

_DIALECT = PGDialect_psycopg()


_NUMBERED = re.compile(r"%\((\w+)\)s|%%")


def numbered(sql: str) -> tuple[str, list[str]]:
    """psycopg's `%(name)s` SQL as asyncpg takes it: `$1…` in order of first use (a name used
    twice is one parameter), `%%` back to `%`; and the names in parameter order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NUMBERED.sub(number, sql), names


class Statement:
    """A Core statement compiled once for psycopg (`%(name)s` parameters) and asyncpg (the
    same text, numbered `$n`), the anonymous parameters' values (literals such as `'active'`)
    kept, and the selected column names in order. Runs on either driver's connection."""

    def __init__(self, statement: Any) -> None:
        compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
        self.sql = str(compiled)
        self.defaults = {
            name: value for name, value in compiled.params.items() if value is not None
        }
        self.columns = [column[0] for column in compiled._result_columns]  # noqa: SLF001
        self.numbered_sql, self.names = numbered(self.sql)

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **params}

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The values of `params` (and the defaults) in asyncpg's parameter order."""
        merged = {**self.defaults, **params}
        values = [merged.get(name) for name in self.names]
        # psycopg's JSON wrapper: asyncpg's codec (see `WritePool`) takes the value itself
        return [v.obj if isinstance(v, Jsonb) else v for v in values]

    async def one(
        self, connection: Connection, params: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """The first row (or None)."""
        if isinstance(connection, psycopg.AsyncConnection):
            async with connection.cursor() as cursor:
                await cursor.execute(self.sql, self._params(params))  # type: ignore[arg-type]
                return await cursor.fetchone()
        row = await connection.fetchrow(self.numbered_sql, *self.args(params))
        return tuple(row) if row is not None else None

    async def all(self, connection: Connection, params: Mapping[str, Any]) -> list[Row]:
        if isinstance(connection, psycopg.AsyncConnection):
            async with connection.cursor() as cursor:
                await cursor.execute(self.sql, self._params(params))  # type: ignore[arg-type]
                return await cursor.fetchall()
        return [tuple(row) for row in await connection.fetch(self.numbered_sql, *self.args(params))]

    async def run(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Execute; the number of rows it touched."""
        if isinstance(connection, psycopg.AsyncConnection):
            async with connection.cursor() as cursor:
                await cursor.execute(self.sql, self._params(params))  # type: ignore[arg-type]
                return cursor.rowcount
        status = await connection.execute(self.numbered_sql, *self.args(params))
        # "UPDATE 3", "INSERT 0 3", "DELETE 0": the count is the last word
        last = status.rpartition(" ")[2]
        return int(last) if last.isdigit() else -1


class Detached:
    """An ORM entity's columns, to select (`columns`) and to build a detached instance from a
    row slice (`build`): the object a repository would load, but never in a session, so never
    flushed (a lean path writes with statements of its own). A read that only looks at the
    values takes a `view` instead: a named tuple with the entity's attribute names, several
    times cheaper to build than an instrumented instance."""

    def __init__(self, entity: Any) -> None:
        self.entity = entity
        self.columns = list(entity.__table__.c)
        mapper = entity.__mapper__
        self.keys = [mapper.get_property_by_column(column).key for column in self.columns]
        self._view: Any = namedtuple(f"{entity.__name__}View", self.keys)  # type: ignore[misc]

    def build(self, values: Any) -> Any:
        return self.entity(**dict(zip(self.keys, values, strict=True)))

    def view(self, values: Any) -> Any:
        return self._view._make(values)
