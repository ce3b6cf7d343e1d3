"""Periodic background jobs run by `corner worker`.

Each package registers its jobs here (outbox delivery, expiries, retention). A job is an async
function taking the sessionmaker and Redis; the worker runs each on its interval, one at a time
per job, and logs failures without stopping the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings

log = structlog.get_logger("corner.worker")


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis


JobFunc = Callable[[JobContext], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: JobFunc


REGISTRY: list[Job] = []


def job(name: str, interval_seconds: float) -> Callable[[JobFunc], JobFunc]:
    def register(func: JobFunc) -> JobFunc:
        REGISTRY.append(Job(name, interval_seconds, func))
        return func

    return register


async def run_job_forever(job_: Job, ctx: JobContext, stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            done = await job_.run(ctx)
            if done:
                log.info(
                    "job_done",
                    job=job_.name,
                    items=done,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )
        except Exception:  # a failing job must not take the worker down; it retries next tick
            log.exception("job_failed", job=job_.name)
        try:
            await asyncio.wait_for(stop.wait(), timeout=job_.interval_seconds)
        except TimeoutError:
            pass


async def run_worker(ctx: JobContext, stop: asyncio.Event, only: set[str] | None = None) -> None:
    jobs = [j for j in REGISTRY if only is None or j.name in only]
    log.info("worker_started", jobs=[j.name for j in jobs])
    await asyncio.gather(*(run_job_forever(j, ctx, stop) for j in jobs))
