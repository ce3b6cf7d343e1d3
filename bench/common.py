"""What the HTTP benchmarks share: servers in subprocesses, one load generator, interleaved rounds.

Rules every HTTP bench follows (issue 21):
- **The load generator costs less than the servers.** Requests go out through aiohttp (keep-alive
  connections, bodies serialised with orjson); the generator's own CPU per request
  (`time.process_time` of this process around each round) is printed beside each server's, so
  a reader can see it is not the bottleneck.
- **The raw reference runs in the same run** (bench/reference.py: Starlette + asyncpg doing
  the statements its docstring names), every server stays up and the load alternates between
  them in short rounds (A B, B A, A B, ...): a neighbour's burst hits all alike. Each
  target's figures are the sum of its rounds.
- **Two kinds of reference** (bench/reference.py): `same-sql` runs the statements Corner's
  route runs for the same request (Corner's compiled SQL, the same round trips, the same
  Redis command) without the framework: issue 21's "raw reference doing the same
  statements", what the counter targets are judged against; `floor` runs only the core write
  (no role, shop, idempotency or customer-activity statements, no Redis), a lower yardstick.
  The counter benches run both (`--reference both`, the default) and print both ratios
  (`start_servers`, `verdicts`).
- **Both servers get the same inputs**: the reference serves Corner's paths and takes the same
  request bodies and query strings; where a request consumes something (a coupon, an order)
  each target gets its own items of the same kind, drawn the same way.
- **A ratio only counts when every answer was the expected one** (`Call.expect`, a 2xx): a run
  with any other status or a transport error reports `"valid": false` and no ratio, since
  fast errors would otherwise count as throughput.
- CPU per request of each server is its whole process tree's (uvicorn's workers included).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def service_urls() -> tuple[str, str]:
    """The PostgreSQL and Redis to bench against: DATABASE_URL and REDIS_URL when set, else
    the embedded services (started if they are not running)."""
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (database_url and redis_url):
        from core import embedded

        env = embedded.services_up(ROOT / ".corner")
        database_url = database_url or env["DATABASE_URL"]
        redis_url = redis_url or env["REDIS_URL"]
    return database_url, redis_url


def fresh_database(admin_url: str, name: str) -> str:
    """Database `name` dropped, created anew on `admin_url`'s server and migrated; its URL."""
    import psycopg

    from core.migrate import upgrade
    from core.settings import to_libpq_url

    admin = to_libpq_url(admin_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin.rpartition('/')[0]}/{name}"
    upgrade(url)
    return url


def redis_db(redis_url: str, number: int) -> str:
    """The same Redis server, database `number` (each bench flushes its own)."""
    return f"{redis_url.rpartition('/')[0]}/{number}"


def free_port() -> int:
    from core.embedded import free_port as pick

    return pick()


def emit(bench: str, **values: Any) -> None:
    """One JSON line of results."""
    print(json.dumps({"bench": bench, **values}, ensure_ascii=False, default=str), flush=True)


# -- servers ----------------------------------------------------------------------------------


def start_server(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start `cmd` (which listens on `port`) and wait until its /healthz answers (several
    workers take a minute to start on a loaded 2-core machine)."""
    import httpx

    process = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server {cmd} exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def server_env(database_url: str, redis_url: str, secret: str, **extra: str) -> dict[str, str]:
    """The environment both servers run with (Corner reads its settings, the reference
    reads BENCH_*)."""
    from core.settings import to_libpq_url

    return os.environ | {
        "DATABASE_URL": database_url,
        "DATABASE_REPLICA_URL": "",
        "REDIS_URL": redis_url,
        "CORNER_SECRET_KEY": secret,
        "CORNER_LOG_LEVEL": "WARNING",
        "CORNER_ENVIRONMENT": "bench",
        "CORNER_ACCESS_TOKEN_TTL_SECONDS": "86400",
        "BENCH_DATABASE_URL": to_libpq_url(database_url),
        **extra,
    }


UVICORN = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--no-access-log",
           "--log-level", "warning", "--timeout-keep-alive", "120"]  # fmt: skip


def corner_command(port: int, workers: int = 1) -> list[str]:
    """Corner's real app: `corner serve` (uvicorn with uvloop and httptools)."""
    cmd = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return [*cmd, "--workers", str(workers)]


def reference_command(port: int, workers: int = 1) -> list[str]:
    """The raw reference (bench/reference.py) under the same uvicorn."""
    return [*UVICORN, "bench.reference:app", "--port", str(port), "--workers", str(workers)]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base: str


def start_pair(
    env: dict[str, str], workers: int = 1, *, names: tuple[str, str] = ("corner", "reference")
) -> dict[str, Server]:
    """Corner and the floor reference (bench/reference.py), each on a free loopback port."""
    return start_servers(env, workers, {names[1]: "floor"}, corner=names[0])


# `--reference`: which references run beside Corner (names of the targets -> BENCH_REFERENCE);
# the target named "reference" is the one the summary's `ratio` and `met` are judged against
REFERENCE_CHOICES: dict[str, dict[str, str]] = {
    "both": {"reference": "same-sql", "floor": "floor"},
    "same-sql": {"reference": "same-sql"},
    "floor": {"reference": "floor"},
}


def add_reference_option(parser: Any) -> None:
    parser.add_argument(
        "--reference",
        choices=list(REFERENCE_CHOICES),
        default="both",
        help="the raw reference(s) run beside Corner: the same statements as Corner's route "
        "(same-sql, what the issue's target is judged against), the core write alone "
        "(floor), or both (default; both ratios printed)",
    )


def start_servers(
    env: dict[str, str],
    workers: int = 1,
    references: Mapping[str, str] | None = None,
    *,
    corner: str = "corner",
) -> dict[str, Server]:
    """Corner and each reference of `references` (target name -> BENCH_REFERENCE: `floor` or
    `same-sql`, see bench/reference.py), each on a free loopback port, all answering."""
    servers: dict[str, Server] = {}
    plan: list[tuple[str, Any, dict[str, str]]] = [(corner, corner_command, env)]
    for name, kind in (references or {"reference": "floor"}).items():
        plan.append((name, reference_command, env | {"BENCH_REFERENCE": kind}))
    try:
        for name, command, environment in plan:
            port = free_port()
            process = start_server(command(port, workers), environment, port)
            servers[name] = Server(name, process, f"http://127.0.0.1:{port}")
    except BaseException:
        stop_all(servers)
        raise
    return servers


def stop_all(servers: Mapping[str, Server]) -> None:
    for server in servers.values():
        stop_server(server.process)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU so far of a process and all its live descendants (uvicorn's worker
    processes are children: a parent's cutime only counts children that already exited)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        # after the command: state(0) ppid(1) ... utime(11) stime(12)
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, family = 0.0, {pid}
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                changed = True
    for member in family:
        total += times.get(member, 0.0)
    return total


def cpu_seconds(pid: int) -> float:
    """CPU of `pid` and its descendants (alias kept for the benches' per-process figures)."""
    return tree_cpu_seconds(pid)


def _postmaster() -> int | None:
    """The pid of the embedded cluster's postmaster (the one the benches use), or None (an
    outside DATABASE_URL: then every PostgreSQL process on the machine counts)."""
    try:
        return int((ROOT / ".corner" / "pg" / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postgres_cpu() -> dict[int, float]:
    """CPU so far of the bench's PostgreSQL processes, by pid (the postmaster of the embedded
    cluster and its children: the backends of both servers' pools; other clusters on a
    shared machine, e.g. other worktrees' test databases, are not counted)."""
    postmaster = _postmaster()
    seen: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    stat = (entry / "stat").read_text().rpartition(")")[2].split()
                    pid, parent = int(entry.name), int(stat[1])
                    if postmaster is None or postmaster in (pid, parent):
                        seen[pid] = (int(stat[11]) + int(stat[12])) / CLOCK_TICKS
            except (OSError, ValueError, IndexError):  # the process ended meanwhile
                pass
    return seen


def postgres_cpu_since(before: dict[int, float]) -> float:
    """PostgreSQL's CPU since the snapshot `before`: processes that ended meanwhile are not
    counted (a backend that exits takes its total with it), new ones count from zero."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())


# -- load -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request: `path` (with its query string in `params`) relative to a server's base,
    an optional JSON body, and the status a correct server answers."""

    method: str
    path: str
    body: Any = None
    headers: Mapping[str, str] | None = None
    params: Mapping[str, str] | None = None
    expect: int = 200
    label: str = ""
    content: bytes | None = None  # a body sent as these bytes (signed bodies), JSON typed


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, int(len(sorted_values) * q) - 1))]


def _latency_summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else 0.0,
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
    }


@dataclass
class Tally:
    """What one target did over all its rounds."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    by_label: dict[str, list[float]] = field(default_factory=dict)
    label_statuses: dict[str, Counter[int]] = field(default_factory=dict)
    seconds: float = 0.0
    cpu: float = 0.0
    postgres_cpu: float = 0.0
    client_cpu: float = 0.0

    def record(self, call: Call, status: int, seconds: float) -> None:
        self.statuses[status] += 1
        if status != call.expect:
            self.unexpected[f"{call.label or call.path}:{status}"] += 1
        if status:
            self.latencies.append(seconds)
        if call.label:
            self.by_label.setdefault(call.label, []).append(seconds)
            self.label_statuses.setdefault(call.label, Counter())[status] += 1

    def summary(self) -> dict[str, Any]:
        count = sum(self.statuses.values())

        def per_request(seconds: float) -> float:
            return round(seconds / count * 1000, 3) if count else 0.0

        out: dict[str, Any] = {
            "requests": count,
            "statuses": dict(self.statuses),
            "unexpected": sum(self.unexpected.values()),
            "seconds": round(self.seconds, 3),
            "throughput_rps": round(count / self.seconds, 1) if self.seconds else 0.0,
            **_latency_summary(self.latencies),
            "server_cpu_ms_per_request": per_request(self.cpu),
            "postgres_cpu_ms_per_request": per_request(self.postgres_cpu),
            "load_generator_cpu_ms_per_request": per_request(self.client_cpu),
        }
        if self.unexpected:
            out["unexpected_by_route"] = dict(self.unexpected.most_common(10))
        if len(self.by_label) > 1:
            out["routes"] = {
                label: {
                    "requests": len(values),
                    "statuses": dict(self.label_statuses[label]),
                    **_latency_summary(values),
                }
                for label, values in sorted(self.by_label.items())
            }
        return out


async def drive(
    base: str,
    calls: Sequence[Call],
    connections: int,
    tally: Tally,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Send every call once over `connections` keep-alive connections, into `tally`.

    aiohttp with orjson bodies: ~0.15 ms of CPU per request, a fraction of either server's, on
    the same two cores. A transport error counts as status 0 (unexpected), not fatal."""
    import aiohttp
    import orjson

    pending = iter(calls)
    json_headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        base_url=base, connector=connector, timeout=timeout, headers=headers
    ) as client:

        async def worker() -> None:
            for call in pending:
                data = call.content
                if data is None and call.body is not None:
                    data = orjson.dumps(call.body)
                extra = dict(call.headers or {})
                if data is not None:
                    extra |= json_headers
                started = time.perf_counter()
                try:
                    async with client.request(
                        call.method, call.path, data=data, headers=extra, params=call.params
                    ) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                tally.record(call, status, time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        tally.seconds += time.perf_counter() - started


# one round of load on one target: (round number, the tally to add to) -> done
Round = Callable[[int, Tally], Awaitable[None]]


async def interleaved(
    targets: dict[str, tuple[int, Round]], rounds: int
) -> dict[str, dict[str, Any]]:
    """Run `rounds` rounds on every target (pid, round), alternating which goes first; each
    round's CPU of the server's process tree, of PostgreSQL and of this load generator is
    added to the target's tally."""
    tallies = {name: Tally() for name in targets}
    names = list(targets)
    # the generator's own full collections would show as the servers' latency
    gc.collect()
    gc.freeze()
    for number in range(rounds):
        order = names if number % 2 == 0 else names[::-1]
        for name in order:
            pid, run_round = targets[name]
            server, database, client = tree_cpu_seconds(pid), postgres_cpu(), time.process_time()
            await run_round(number, tallies[name])
            tally = tallies[name]
            tally.cpu += tree_cpu_seconds(pid) - server
            tally.postgres_cpu += postgres_cpu_since(database)
            tally.client_cpu += time.process_time() - client
    return {name: tally.summary() for name, tally in tallies.items()}


async def compare(
    servers: Mapping[str, Server],
    calls: Mapping[str, Sequence[Call]],
    *,
    rounds: int,
    connections: int,
    warmup: Mapping[str, Sequence[Call]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each server's calls, warm-up first (not counted), then cut into `rounds` slices sent in
    alternating rounds (see `interleaved`)."""
    for name, server in servers.items():
        if warmup and warmup.get(name):
            await drive(server.base, warmup[name], connections, Tally(), headers)

    def round_of(server: Server, slices: list[Sequence[Call]]) -> Round:
        async def run_round(number: int, tally: Tally) -> None:
            await drive(server.base, slices[number], connections, tally, headers)

        return run_round

    targets = {
        name: (server.process.pid, round_of(server, chunks(calls[name], rounds)))
        for name, server in servers.items()
    }
    return await interleaved(targets, rounds)


def verdict(
    corner: dict[str, Any],
    reference: dict[str, Any],
    *,
    target_ratio: float | None,
    p99_factor: float | None = None,
) -> dict[str, Any]:
    """Corner over the reference, only when every answer of both was the expected one (and
    whether the targets are met, when there are targets)."""
    valid = corner["unexpected"] == 0 and reference["unexpected"] == 0 and corner["requests"] > 0
    out: dict[str, Any] = {
        "valid": valid,
        "corner_rps": corner["throughput_rps"],
        "reference_rps": reference["throughput_rps"],
        "cpu_ms_per_request": {
            "corner": corner["server_cpu_ms_per_request"],
            "reference": reference["server_cpu_ms_per_request"],
            "load_generator": max(
                corner["load_generator_cpu_ms_per_request"],
                reference["load_generator_cpu_ms_per_request"],
            ),
        },
        "p99_ms": {"corner": corner["p99_ms"], "reference": reference["p99_ms"]},
        "target_ratio": target_ratio,
        "load_average": os.getloadavg()[0],
    }
    if not valid:
        out["why"] = "unexpected statuses: no ratio (see the targets' unexpected_by_route)"
        return out
    ratio = corner["throughput_rps"] / reference["throughput_rps"]
    out["ratio"] = round(ratio, 3)
    p99 = corner["p99_ms"] / max(reference["p99_ms"], 0.001)
    out["p99_ratio"] = round(p99, 2)
    if target_ratio is not None:
        met = ratio >= target_ratio
        if p99_factor is not None:
            out["target_p99_ratio"] = p99_factor
            met = met and p99 <= p99_factor
        out["met"] = met
    return out


def reference_kind(references: Mapping[str, str], name: str) -> dict[str, str]:
    """`{"reference_kind": kind}` for a reference target's JSON line, nothing for Corner's."""
    return {"reference_kind": references[name]} if name in references else {}


def verdicts(
    results: Mapping[str, dict[str, Any]],
    references: Mapping[str, str],
    *,
    target_ratio: float | None,
    p99_factor: float | None = None,
) -> dict[str, Any]:
    """`verdict` of Corner against the target named "reference" (its kind in
    `reference_kind`: the ratio the target is judged on), and against each other reference
    (under its name: e.g. `floor`, the core write alone) for comparison."""
    summary = verdict(results["corner"], results["reference"], target_ratio=target_ratio,
                      p99_factor=p99_factor)  # fmt: skip
    summary["reference_kind"] = references["reference"]
    for name, kind in references.items():
        if name != "reference":
            other = verdict(results["corner"], results[name], target_ratio=None)
            summary[name] = {"kind": kind, **{key: other[key] for key in (
                "valid", "reference_rps", "ratio", "p99_ratio", "cpu_ms_per_request", "p99_ms",
            ) if key in other}}  # fmt: skip
    return summary


def chunks(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    """`items` cut into `parts` consecutive slices of (nearly) equal size."""
    size, extra = divmod(len(items), parts)
    out: list[Sequence[T]] = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        out.append(items[start:end])
        start = end
    return out


async def seed_merchant(session: Any, *, phone: str, name: str) -> tuple[Any, Any]:
    """An owner account and their merchant, in the caller's transaction: (user, merchant)."""
    from accounts import schemas as account_schemas
    from accounts import service as accounts

    owner = await accounts.create_user(
        session, phone=phone, email=None, password_hash="x", display_name="店主"
    )
    merchant = await accounts.create_merchant(
        session, owner_id=owner.id, data=account_schemas.MerchantCreate(name=name)
    )
    return owner, merchant


# -- seeds ------------------------------------------------------------------------------------


def bearer(secret: str, user_id: Any) -> dict[str, str]:
    """An Authorization header for `user_id`, valid for a day."""
    from datetime import UTC, datetime

    from accounts.security import create_access_token

    token = create_access_token(_token_settings(secret), user_id, datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


@functools.cache
def _token_settings(secret: str) -> Any:
    """Settings built once per secret (building them reads the environment and .env: a
    claim bench signing a token for each of thousands of users spent minutes there)."""
    from core.settings import Settings

    return Settings(secret_key=secret, access_token_ttl_seconds=86400)  # type: ignore[arg-type]


def seed_counter(conn: Any, users: int = 0) -> dict[str, Any]:
    """One merchant with its owner (the clerk of the benches), one shop, and `users` consumers
    (phones 14xxxxxxxxx): inserted directly, on a psycopg connection (committed by the caller)."""
    from core.ids import new_id

    owner, merchant, shop = new_id(), new_id(), new_id()
    user_ids = [new_id() for _ in range(users)]
    conn.execute(
        "INSERT INTO users (id, phone, password_hash, display_name)"
        " VALUES (%s, '13000000000', 'x', 'bench owner')",
        (owner,),
    )
    if user_ids:
        conn.execute(
            "INSERT INTO users (id, phone, password_hash, display_name)"
            " SELECT u, '14' || lpad(n::text, 9, '0'), 'x', 'member'"
            " FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(u, n)",
            (user_ids,),
        )
    conn.execute(
        "INSERT INTO merchants (id, name, timezone) VALUES (%s, 'bench', 'Asia/Shanghai')",
        (merchant,),
    )
    conn.execute(
        "INSERT INTO merchant_staff (merchant_id, user_id, role) VALUES (%s, %s, 'owner')",
        (merchant, owner),
    )
    conn.execute(
        "INSERT INTO shops (id, merchant_id, name, category, location, address, opening_hours,"
        " discovery_only) VALUES (%s, %s, 'bench shop', 'noodles',"
        " ST_SetSRID(ST_MakePoint(121.47, 31.23), 4326)::geography, 'addr', '[]', false)",
        (shop, merchant),
    )
    return {"owner": owner, "merchant": merchant, "shop": shop, "users": user_ids}


def seed_campaign(conn: Any, base: dict[str, Any], *, per_user_limit: int = 100) -> Any:
    """A published 10-off campaign of `base`'s merchant (see `seed_counter`), claimable for a
    day, no quantity limit; its id."""
    from datetime import UTC, datetime, timedelta

    from core.ids import new_id

    campaign, now = new_id(), datetime.now(UTC)
    conn.execute(
        "INSERT INTO coupon_campaigns (id, merchant_id, name, status, discount_kind,"
        " discount_amount, currency, valid_from, valid_until, claim_until, per_user_limit,"
        " created_by, published_at)"
        " VALUES (%s, %s, 'bench', 'published', 'amount_off', 1000, 'CNY', %s, %s, %s, %s,"
        " %s, %s)",
        (campaign, base["merchant"], now - timedelta(hours=1), now + timedelta(days=1),
         now + timedelta(days=1), per_user_limit, base["owner"], now),
    )  # fmt: skip
    return campaign


# -- where the CPU goes (issue 21: a bench that misses its target says why) -------------------


def _frame_name(frame: str) -> str:
    """`function (package/module.py:12)` -> `package/module.py:function` (py-spy's raw
    frames)."""
    function, _, place = frame.rpartition(" (")
    return f"{place.rstrip(')').rpartition(':')[0]}:{function or frame}"


def summarise_profile(raw: str, top: int = 15) -> dict[str, Any]:
    """py-spy's collapsed stacks (`a;b;c count` lines, GIL holders only) as the functions with
    the most samples on top of the stack (self) and anywhere in the event loop's callback
    (inclusive, the frames below the event loop's callback left out, and those in more than 60 %
    of the samples: the ASGI chain), in percent of the samples, and the self share of each
    top-level package."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        own[frames[-1]] += count
        path = frames[-1].partition(":")[0]
        packages[path.partition("/")[0] if "/" in path else path] += count
        # below the event loop's callback (asyncio's Handle._run; under uvloop, whose loop
        # is native, the coroutine's frames come right after asyncio's Runner.run)
        runs = [i for i, name in enumerate(frames) if name.endswith(("Handle._run", "Runner.run"))]
        for name in set(frames[runs[-1] + 1 :] if runs else frames):
            inclusive[name] += count

    def share(counter: Counter[str], limit: int = top) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(limit)]

    # the ASGI chain every request runs through (server, middleware, router) is in nearly
    # every sample and says nothing: inclusive shares start below 60 %
    inner = Counter({name: n for name, n in inclusive.items() if n < 0.6 * total})
    return {
        "samples": total,
        "self_percent": share(own),
        "inclusive_percent": share(inner, 2 * top),
        "self_by_package_percent": share(packages),
    }


async def profiled(pid: int, work: Awaitable[T], *, rate: int = 250) -> tuple[T, dict[str, Any]]:
    """Run `work` (load on the server `pid`) while py-spy samples that server's process tree
    (only stacks holding the GIL: where its CPU goes, not where it waits); `work`'s result and
    `summarise_profile` of the samples (or why there are none)."""
    import signal
    import tempfile

    spy = Path(sys.executable).with_name("py-spy")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "profile.txt"
        command = ["record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking",
                   "--function", "--format", "raw", "--rate", str(rate),
                   "--output", str(out)]  # fmt: skip
        try:
            process = await asyncio.create_subprocess_exec(
                str(spy), *command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            return await work, {"error": f"py-spy did not start: {exc}"}
        await asyncio.sleep(0.5)  # attached before the load starts
        try:
            result = await work
        finally:
            process.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
            _, errors = await asyncio.wait_for(process.communicate(), timeout=60)
        text = await asyncio.to_thread(out.read_text) if out.exists() else ""
        if not text.strip():
            return result, {"error": (errors or b"").decode(errors="replace")[-500:]}
        return result, summarise_profile(text)


async def profile_round(
    bench: str,
    server: Server,
    calls: Sequence[Call],
    connections: int,
    headers: Mapping[str, str] | None = None,
) -> None:
    """One extra, unmeasured round of `calls` on `server` under py-spy; prints the profile
    (`kind: profile`) — what a bench shows when its target is not met."""
    tally = Tally()
    _, profile = await profiled(
        server.process.pid, drive(server.base, calls, connections, tally, headers)
    )
    emit(bench, kind="profile", target=server.name, requests=sum(tally.statuses.values()),
         statuses=dict(tally.statuses), **profile)  # fmt: skip


def add_profile_options(parser: Any, requests: int = 1000) -> None:
    """`--profile auto|always|never` (auto: when the target is not met) and the size of the
    profiled round."""
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="profile Corner in an extra round (auto: when the target is missed)",
    )
    parser.add_argument("--profile-requests", type=int, default=requests,
                        help="requests of the profiled round")  # fmt: skip


def wants_profile(args: Any, summary: Mapping[str, Any]) -> bool:
    return args.profile == "always" or (args.profile == "auto" and not summary.get("met", False))
