"""The embedded PostgreSQL+PostGIS cluster and Redis server used when no URL is configured.

Both live under the state dir (`.corner/pg`, `.corner/redis`), listen on free loopback ports,
and are reused by the next call. `.corner/env` records their URLs for every other process.
initdb refuses to run as root, so as root the cluster runs as the `postgres` system user.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
DB_NAME = "corner"
DB_USER = "corner"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    url: str | None
    detail: str = ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Serialise `services up` between processes (pytest-xdist workers start together)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / ".services.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_env(state_dir: Path) -> dict[str, str]:
    path = state_dir / "env"
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def write_env(state_dir: Path, values: dict[str, str]) -> None:
    path = state_dir / "env"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    tmp.replace(path)


class EmbeddedPostgres:
    def __init__(self, state_dir: Path) -> None:
        self.root = (state_dir / "pg").resolve()
        self.data = self.root / "data"
        self.port_file = self.root / "port"
        self.log = self.root / "postgres.log"

    # -- running as an unprivileged user ---------------------------------------------------
    @staticmethod
    def _run_as() -> list[str]:
        if os.geteuid() != 0:
            return []
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return [runuser, "-u", "postgres", "--"]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
                os.chown(p, user.pw_uid, user.pw_gid)

    def _pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._run_as(), *args], capture_output=True, text=True, check=check, cwd="/"
        )

    @property
    def port(self) -> int | None:
        return int(self.port_file.read_text()) if self.port_file.exists() else None

    def url(self) -> str | None:
        port = self.port
        return f"postgresql://{DB_USER}@127.0.0.1:{port}/{DB_NAME}" if port else None

    def is_running(self) -> bool:
        if not (self.data / "PG_VERSION").exists():
            return False
        result = self._pg(str(PG_BIN / "pg_ctl"), "status", "-D", str(self.data), check=False)
        return result.returncode == 0

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # the unprivileged server user must be able to reach its data dir
        for parent in [self.root, *self.root.parents]:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if os.geteuid() == 0 and not mode & 0o001:
                parent.chmod(mode | 0o001)
        self.data.mkdir(exist_ok=True, mode=0o700)
        self._chown(self.root)

    def _initdb(self) -> None:
        self._prepare_root()
        self._pg(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        conf = self.data / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                "\n# corner embedded defaults\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                # an app holds up to three pools (ORM, lean asyncpg writes, discovery), each
                # db_pool_size + db_max_overflow; two test workers, live servers and benches
                # beside them reached 300 ("too many clients") under the concurrent ledger test
                "max_connections = 600\n"
                "shared_buffers = 256MB\n"
                "jit = off\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "wal_level = replica\n"
                "max_wal_senders = 4\n"
            )

    def start(self) -> str:
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self._initdb()
        if not self.is_running():
            port = self.port
            if port is None or port_is_open(port):
                port = free_port()
            self.port_file.write_text(str(port))
            self._chown(self.port_file)
            self._pg(
                str(PG_BIN / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                f"-p {port}",
            )
        self._ensure_database()
        url = self.url()
        assert url is not None
        return url

    def _psql(self, sql: str, db: str = "postgres") -> str:
        out = self._pg(
            str(PG_BIN / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            db,
            "-tAc",
            sql,
        )
        return out.stdout.strip()

    def _ensure_database(self) -> None:
        if self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'") != "1":
            self._psql(f"CREATE ROLE {DB_USER} LOGIN SUPERUSER")
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") != "1":
            self._psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")

    def stop(self) -> None:
        if self.is_running():
            self._pg(str(PG_BIN / "pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(self.data))

    def status(self) -> ServiceStatus:
        running = self.is_running()
        return ServiceStatus("postgresql", running, self.url() if running else None, str(self.data))


class EmbeddedReplica(EmbeddedPostgres):
    """A hot standby of the embedded primary, by pg_basebackup and streaming replication."""

    def __init__(
        self, state_dir: Path, primary: EmbeddedPostgres, name: str = "pg-replica"
    ) -> None:
        super().__init__(state_dir)
        self.primary = primary
        self.root = (state_dir / name).resolve()
        self.data = self.root / "data"
        self.port_file = self.root / "port"
        self.log = self.root / "postgres.log"

    def url(self) -> str | None:
        port = self.port
        return f"postgresql://{DB_USER}@127.0.0.1:{port}/{DB_NAME}" if port else None

    def _initdb(self) -> None:
        if self.primary.port is None or not self.primary.is_running():
            raise RuntimeError("the primary must run before a replica can be made")
        self._prepare_root()
        self._pg(
            str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
            "-U", "postgres", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as fh:
            fh.write("hot_standby = on\nhot_standby_feedback = on\n")

    def _ensure_database(self) -> None:
        """A standby is read-only: roles and databases come from the primary."""

    def status(self) -> ServiceStatus:
        running = self.is_running()
        return ServiceStatus("replica", running, self.url() if running else None, str(self.data))


class EmbeddedRedis:
    def __init__(self, state_dir: Path) -> None:
        self.root = (state_dir / "redis").resolve()
        self.port_file = self.root / "port"
        self.pid_file = self.root / "redis.pid"

    @property
    def port(self) -> int | None:
        return int(self.port_file.read_text()) if self.port_file.exists() else None

    def url(self) -> str | None:
        return f"redis://127.0.0.1:{self.port}/0" if self.port else None

    def is_running(self) -> bool:
        port = self.port
        if port is None or not self.pid_file.exists():
            return False
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError):
            return False
        return port_is_open(port)

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.is_running():
            port = self.port
            if port is None or port_is_open(port):
                port = free_port()
            self.port_file.write_text(str(port))
            subprocess.run(
                [
                    shutil.which("redis-server") or "/usr/bin/redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--daemonize",
                    "yes",
                    "--dir",
                    str(self.root),
                    "--pidfile",
                    str(self.pid_file),
                    "--logfile",
                    str(self.root / "redis.log"),
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                    "--databases",
                    "64",
                ],
                check=True,
                capture_output=True,
            )
            deadline = time.monotonic() + 30
            while not self.is_running():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start; see {self.root}/redis.log")
                time.sleep(0.05)
        url = self.url()
        assert url is not None
        return url

    def stop(self) -> None:
        if not self.is_running():
            return
        pid = int(self.pid_file.read_text().strip())
        os.kill(pid, 15)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> ServiceStatus:
        running = self.is_running()
        return ServiceStatus("redis", running, self.url() if running else None, str(self.root))


def services_up(state_dir: Path, *, replica: bool = False) -> dict[str, str]:
    """Start (or reuse) the services and record their URLs in `.corner/env`."""
    with state_lock(state_dir):
        env = read_env(state_dir)
        primary = EmbeddedPostgres(state_dir)
        env["DATABASE_URL"] = primary.start()
        env["REDIS_URL"] = EmbeddedRedis(state_dir).start()
        standby = EmbeddedReplica(state_dir, primary)
        # a replica, once asked for, comes back with the others until its data is removed
        if replica or (standby.data / "PG_VERSION").exists():
            env["DATABASE_REPLICA_URL"] = standby.start()
        else:
            env.pop("DATABASE_REPLICA_URL", None)
        write_env(state_dir, env)
        return env


def services_down(state_dir: Path) -> None:
    with state_lock(state_dir):
        primary = EmbeddedPostgres(state_dir)
        EmbeddedReplica(state_dir, primary).stop()
        primary.stop()
        EmbeddedRedis(state_dir).stop()


def services_status(state_dir: Path) -> list[ServiceStatus]:
    primary = EmbeddedPostgres(state_dir)
    statuses = [primary.status(), EmbeddedRedis(state_dir).status()]
    standby = EmbeddedReplica(state_dir, primary)
    if (standby.data / "PG_VERSION").exists():
        statuses.append(standby.status())
    return statuses
