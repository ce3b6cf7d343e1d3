"""What the HTTP benchmarks share: servers in subprocesses, a bounded load, interleaved rounds.

These machines are shared and noisy: a neighbour's burst during one target's run skews a
ratio measured target after target. So both servers stay up and the load alternates between
them in short rounds (A B, B A, A B, ...); each target's figures are the sum of its rounds, and
the CPU each server process burnt per request is reported too (less sensitive to the
neighbours than throughput).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
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


def start_server(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start `cmd` (which listens on `port`) and wait until it answers."""
    import httpx

    process = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far (uvicorn workers included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # after the command: state ppid ... utime(12) stime(13) cutime(14) cstime(15), 0-based at 1
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, int(len(sorted_values) * q) - 1))]


@dataclass
class Tally:
    """What one target did over all its rounds."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        count = len(ordered)
        return {
            "requests": count,
            "statuses": dict(self.statuses),
            "seconds": round(self.seconds, 3),
            "throughput_rps": round(count / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else 0.0,
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
            "server_cpu_ms_per_request": round(self.cpu / count * 1000, 3) if count else 0.0,
        }


async def post_all(
    url: str,
    bodies: Sequence[dict[str, Any]],
    headers: dict[str, str],
    connections: int,
    tally: Tally,
) -> None:
    """POST every body once over `connections` keep-alive connections, into `tally`. aiohttp:
    its CPU per request is a tenth of httpx's, and it shares the two cores with the servers."""
    import aiohttp

    pending = iter(bodies)
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            for body in pending:
                started = time.perf_counter()
                try:
                    async with client.post(url, json=body, headers=headers) as response:
                        await response.read()
                except (aiohttp.ClientError, TimeoutError):  # counted as status 0, not fatal
                    tally.statuses[0] += 1
                    continue
                tally.latencies.append(time.perf_counter() - started)
                tally.statuses[response.status] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        tally.seconds += time.perf_counter() - started


# one round of load on one target: (round number, the tally to add to) -> done
Round = Callable[[int, Tally], Awaitable[None]]


async def interleaved(
    targets: dict[str, tuple[int, Round]], rounds: int
) -> dict[str, dict[str, Any]]:
    """Run `rounds` rounds on every target (pid, round), alternating which goes first."""
    tallies = {name: Tally() for name in targets}
    names = list(targets)
    for number in range(rounds):
        order = names if number % 2 == 0 else names[::-1]
        for name in order:
            pid, run_round = targets[name]
            before = cpu_seconds(pid)
            await run_round(number, tallies[name])
            tallies[name].cpu += cpu_seconds(pid) - before
    return {name: tally.summary() for name, tally in tallies.items()}


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
