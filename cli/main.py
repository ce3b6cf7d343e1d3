"""The `corner` command."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core import embedded
from core.settings import get_settings, set_in_environment

app = typer.Typer(help="Corner: the backend for neighbourhood merchants.", no_args_is_help=True)
services_app = typer.Typer(help="The embedded PostgreSQL+PostGIS and Redis.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
seed_app = typer.Typer(help="Load data.", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
console = Console(stderr=True)

# Modules whose import registers background jobs (see core/jobs.py)
JOB_MODULES = [
    "accounts.jobs",
    "core.idempotency",
    "core.payment_jobs",
    "memberships.jobs",
    "customers.jobs",
    "push.jobs",
    "orders.jobs",
]


def ensure_services() -> None:
    """Start the embedded services for whatever URL the operator did not configure."""
    settings = get_settings()
    if set_in_environment("DATABASE_URL") and set_in_environment("REDIS_URL"):
        return
    with console.status("Starting embedded PostgreSQL and Redis…"):
        env = embedded.services_up(settings.state_dir)
    console.print(f"[green]services up[/] {env['DATABASE_URL']} {env['REDIS_URL']}")
    get_settings.cache_clear()


@services_app.command("up")
def services_up(
    replica: Annotated[bool, typer.Option(help="Also run a streaming hot standby")] = False,
) -> None:
    """Start (or reuse) the embedded services and write .corner/env."""
    env = embedded.services_up(get_settings().state_dir, replica=replica)
    for key, value in env.items():
        typer.echo(f"{key}={value}")


@services_app.command("down")
def services_down() -> None:
    """Stop the embedded services (their data stays in .corner/)."""
    embedded.services_down(get_settings().state_dir)
    typer.echo("stopped postgresql and redis")


@services_app.command("status")
def services_status() -> None:
    """Show whether each embedded service runs, and its URL."""
    statuses = embedded.services_status(get_settings().state_dir)
    table = Table("service", "state", "url", "data")
    for s in statuses:
        table.add_row(s.name, "running" if s.running else "stopped", s.url or "-", s.detail)
    Console().print(table)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default head)."""
    from core.migrate import upgrade

    ensure_services()
    upgrade(_database_url(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from core.migrate import downgrade

    downgrade(_database_url(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("backup")
def db_backup(file: Annotated[Path, typer.Argument(help="Where to write the dump")]) -> None:
    """Dump the database (pg_dump custom format)."""
    from core.backup import backup

    size = backup(_database_url(), file)
    typer.echo(f"backup written: {file} ({size} bytes)")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A dump made by `corner db backup`")],
) -> None:
    """Restore a dump into the database, replacing what it contains (one transaction)."""
    from core.backup import restore

    restore(_database_url(), file)
    typer.echo(f"restored from {file}")


def _database_url() -> str:
    url = get_settings().database_url
    if not url:
        raise typer.BadParameter("DATABASE_URL is not set and no embedded service is running")
    return url


@seed_app.command("demo")
def seed_demo() -> None:
    """Load idempotent demo data: merchants and people around one Shanghai district."""
    from cli.demo import load_demo

    ensure_services()
    summary = asyncio.run(load_demo(get_settings()))
    for key, value in summary.items():
        typer.echo(f"{key}: {value}")


@contextmanager
def import_progress(file: Path, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over the `total` rows of `file`; yields the callback that advances it.
    The bar is filled when the import ends (a header line is counted but is not a row)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"Importing {file.name}", total=total)
        yield lambda rows: progress.advance(task, rows)
        progress.update(task, completed=total)


@app.command("import-shops")
def import_shops(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    merchant: Annotated[str, typer.Option("--merchant", help="Merchant id the shops belong to")],
    crs: Annotated[str, typer.Option(help="Coordinates in wgs84, gcj02 or bd09")] = "wgs84",
    batch_size: Annotated[int, typer.Option(min=100, help="Rows per COPY batch")] = 10_000,
) -> None:
    """Import shops from CSV (name,lat,lng,category,address[,phone]) or GeoJSON points."""
    import time
    import uuid

    from merchants.importer import ImportFailed, count_rows
    from merchants.importer import import_shops as run_import

    if crs not in ("wgs84", "gcj02", "bd09"):
        raise typer.BadParameter("use wgs84, gcj02 or bd09", param_hint="--crs")
    try:
        merchant_id = uuid.UUID(merchant)
    except ValueError as exc:
        raise typer.BadParameter("not a merchant id (UUID)", param_hint="--merchant") from exc
    ensure_services()
    started = time.perf_counter()
    with import_progress(file, count_rows(file)) as advance:
        try:
            report = run_import(
                _database_url(),
                file,
                merchant_id=merchant_id,
                crs=crs,  # type: ignore[arg-type]
                batch_size=batch_size,
                progress=advance,
            )
        except ImportFailed as exc:
            console.print(f"[red]import failed:[/] {exc}")
            raise typer.Exit(1) from exc
    elapsed = time.perf_counter() - started
    rate = (report.imported + report.rejected_total) / elapsed if elapsed else 0.0
    typer.echo(f"imported: {report.imported}")
    typer.echo(f"rejected: {report.rejected_total}")
    for reason, count in report.rejected.most_common():
        typer.echo(f"  {reason}: {count}")
    for number, reason in report.examples:
        typer.echo(f"  row {number}: {reason}")
    typer.echo(f"rows/s: {rate:.0f}")


@app.command("import-physical-cards")
def import_physical_cards(
    program_id: Annotated[str, typer.Argument(help="Membership program id")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import pre-printed card numbers (CSV, one per row, optional header `number`)."""
    import time
    import uuid

    from memberships.importer import ImportFailed, count_rows, import_file

    try:
        program = uuid.UUID(program_id)
    except ValueError as exc:
        raise typer.BadParameter("not a program id (UUID)", param_hint="PROGRAM_ID") from exc
    ensure_services()
    started = time.perf_counter()
    with import_progress(file, count_rows(file)) as advance:
        try:
            report = asyncio.run(
                import_file(get_settings(), file, program_id=program, progress=advance)
            )
        except ImportFailed as exc:
            console.print(f"[red]import failed:[/] {exc}")
            raise typer.Exit(1) from exc
    elapsed = time.perf_counter() - started
    typer.echo(f"imported: {report.imported}")
    typer.echo(f"rejected: {report.rejected_total}")
    for reason, count in report.rejected_by_reason.items():
        typer.echo(f"  {reason}: {count}")
    for row in report.rejected[:20]:
        typer.echo(f"  row {row.row}: {row.reason} ({row.number})")
    typer.echo(f"rows/s: {report.rows / elapsed if elapsed else 0.0:.0f}")


@app.command("import-members")
def import_members(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    merchant: Annotated[str, typer.Option("--merchant", help="Merchant id the members join")],
    program: Annotated[
        str | None, typer.Option("--program", help="Programme of the book's cards")
    ] = None,
) -> None:
    """Import a paper member book (CSV or XLSX: name,phone,birthday,card_number,balance,points)."""
    import time
    import uuid

    from memberships.member_importer import ImportFailed, count_rows, import_file

    try:
        merchant_id = uuid.UUID(merchant)
        program_id = uuid.UUID(program) if program else None
    except ValueError as exc:
        raise typer.BadParameter("not an id (UUID)") from exc
    ensure_services()
    started = time.perf_counter()
    with import_progress(file, count_rows(file)) as advance:
        try:
            report = asyncio.run(
                import_file(
                    get_settings(),
                    file,
                    merchant_id=merchant_id,
                    program_id=program_id,
                    progress=advance,
                )
            )
        except ImportFailed as exc:
            console.print(f"[red]import failed:[/] {exc}")
            raise typer.Exit(1) from exc
    elapsed = time.perf_counter() - started
    rows = report.imported + report.updated + report.rejected_total
    typer.echo(f"imported: {report.imported}")
    typer.echo(f"updated: {report.updated}")
    typer.echo(f"rejected: {report.rejected_total}")
    for row in report.rejected[:20]:
        typer.echo(f"  row {row.row}: {row.reason}" + (f" ({row.field})" if row.field else ""))
    typer.echo(f"rows/s: {rows / elapsed if elapsed else 0.0:.0f}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: the CPU cores this process may use)"),
    ] = None,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    if workers is None:
        # one event loop per core: the API is CPU-bound per request once the database answers
        workers = len(os.sched_getaffinity(0))

    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # named, not "auto": a missing uvloop or httptools fails at start instead of serving
        # silently on the pure-Python loop and parser (uvicorn[standard] installs both)
        loop="uvloop",
        http="httptools",
        # no per-request access line under load; the app logs failures (api.middleware)
        access_log=False,
        log_level="warning",
        server_header=False,  # no `server: uvicorn` banner telling what to attack
        # with several workers uvicorn's supervisor kills a worker that does not answer its
        # ping in time; its 5 s default is shorter than the app's start-up on a busy machine,
        # which then restarted the workers forever and never served
        timeout_worker_healthcheck=60,
    )


@app.command()
def worker(
    only: Annotated[list[str] | None, typer.Option(help="Run only these jobs")] = None,
) -> None:
    """Run background jobs (outbox delivery, expiries, retention) until interrupted."""
    from api.wiring import wire_packages
    from core.database import create_engine, create_sessionmaker
    from core.jobs import JobContext, run_worker
    from core.logging import configure_logging
    from core.redis import create_redis

    for module in JOB_MODULES:
        importlib.import_module(module)
    wire_packages()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)

    async def main() -> None:
        engine = create_engine(settings, pool_size=5, max_overflow=5)
        redis = create_redis(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            ctx = JobContext(settings, create_sessionmaker(engine), redis)
            await run_worker(ctx, stop, set(only) if only else None)
        finally:
            await redis.aclose()
            await engine.dispose()

    asyncio.run(main())


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Everything for development: services, migrations, demo data, API on 127.0.0.1."""
    from core.migrate import upgrade

    ensure_services()
    with console.status("Migrating…"):
        upgrade(_database_url())
    seed_demo()
    from core.standins.dev import start_dev_standins

    standins = start_dev_standins(get_settings(), port)
    for name, server in standins.servers.items():
        console.print(f"{name} stand-in on {server.base_url}  (pay: /standin/pay/<reference>)")
    console.print(f"[bold green]Corner[/] on http://127.0.0.1:{port}  (docs at /docs)")
    serve(host="127.0.0.1", port=port, workers=1)


if __name__ == "__main__":
    app()
