"""Serving the HTTP app: uvicorn on uvloop + httptools, one or more worker processes.

`linkinsights api` (and so `linkinsights serve`) and the benchmarks all start the API here, so
what is measured is what runs.
"""

from __future__ import annotations

import gc
import json
import math
import os
import socket
import tempfile
from pathlib import Path

from linkinsights.settings import Settings

# The default (API_WORKERS=0) never starts more than this many processes: each holds up to
# 2 x DB_POOL_SIZE PostgreSQL connections (GraphQL and /track pools) and ~115 MB, and with the
# worker's few that stays under PostgreSQL's default max_connections of 100. Set API_WORKERS
# (and DB_POOL_SIZE) explicitly to go further.
MAX_DEFAULT_WORKERS = 2
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # "<quota> <period>" or "max <period>"


def available_cpus() -> int:
    """CPUs this process may use: its affinity, bounded by a cgroup (v2) CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def worker_count(settings: Settings) -> int:
    """`api_workers`, where 0 means one per available CPU (at most MAX_DEFAULT_WORKERS)."""
    if settings.api_workers > 0:
        return settings.api_workers
    return min(available_cpus(), MAX_DEFAULT_WORKERS)


def worker_environment(settings: Settings) -> dict[str, str]:
    """Environment variables from which a worker process's Settings() equals `settings`."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if isinstance(value, list | dict):
            env[name.upper()] = json.dumps(value)
        elif isinstance(value, bool):
            env[name.upper()] = "true" if value else "false"
        else:
            env[name.upper()] = str(value)
    return env


# Collect the youngest generation every 20,000 allocations instead of Python's 700.
GC_THRESHOLDS = (20_000, 10, 10)


def settle_heap() -> None:
    """Tune the cyclic garbage collector for a request-serving process.

    A full (generation 2) collection walks every live object. The API imports enough (the
    schema, SQLAlchemy, graphql-core, the crawler patterns) that each one took ~100 ms, paused
    one request in ~20 and set the p95. Frozen objects are never scanned again; what requests
    allocate is collected as before (a full collection now takes ~7 ms).

    With Python's default thresholds a busy process also ran hundreds of young collections a
    second, each walking every in-flight request's objects: redirects paced at 2,000/s had a
    p50 of 8.8 ms and p99 of 35 ms, 3.4 / 17 ms with the collector off, and 4.2 / 21 ms with
    GC_THRESHOLDS; one application at 10 clients went from 174 to 227 req/s. Garbage cycles
    live a little longer; memory stays flat (~115 MB per API process under load).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def app_for_worker() -> object:
    """The factory each uvicorn worker process calls: settings from its environment."""
    from graph.app import create_app
    from graph.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    settle_heap()
    return app


def _address_family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening."""
    sock = socket.socket(_address_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _listen_in_this_worker(host: str, port: int, backlog: int) -> list[socket.socket]:
    sock = reuseport_socket(host, port)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return [sock]


class WorkerListeners(list[socket.socket]):
    """What the uvicorn supervisor hands each worker instead of a shared listening socket.

    The supervisor pickles its socket list into every worker process it starts (and restarts).
    This list is empty in the supervisor; unpickled in a worker, it becomes that worker's own
    socket listening on the port with SO_REUSEPORT. The kernel then spreads new connections
    over the workers' sockets. With one shared socket, whichever worker woke first accepted a
    whole burst of connections: ten keep-alive clients ended up on one worker while the other
    idled. A worker that dies takes its socket (and only its queued connections) with it.
    """

    def __init__(self, host: str, port: int, backlog: int) -> None:
        super().__init__()
        self.address = (host, port, backlog)

    def __reduce__(self) -> tuple[object, tuple[str, int, int]]:
        return (_listen_in_this_worker, self.address)


def run_api(settings: Settings, *, host: str, port: int) -> None:
    """Serve the API until SIGINT/SIGTERM. `settings` must carry both service URLs."""
    import uvicorn

    assert settings.database_url, "resolve the services first"
    assert settings.redis_url, "resolve the services first"
    options: dict[str, object] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 3,
    }
    workers = worker_count(settings)
    if workers == 1:
        from graph.app import create_app

        app = create_app(settings)
        settle_heap()
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    # Several processes serve the port, each on its own listening socket (WorkerListeners).
    # Each builds its app from the environment, which must
    # carry these settings (the services this process resolved, embedded ones included), and
    # writes its metrics where /metrics, answered by any of them, adds them up.
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    os.environ.update(worker_environment(settings))
    with tempfile.TemporaryDirectory(prefix="linkinsights-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        config = uvicorn.Config(
            "linkinsights.server:app_for_worker",
            factory=True,
            workers=workers,
            **options,  # type: ignore[arg-type]
        )
        # Held (bound, never listening) for as long as the supervisor runs: the port is checked
        # here, once, and stays ours; only listening sockets receive connections.
        try:
            reserved = reuseport_socket(host, port)
        except OSError as exc:
            raise SystemExit(f"error: cannot listen on {host}:{port}: {exc.strerror}") from None
        with reserved:
            port = reserved.getsockname()[1]  # the one chosen, if port 0 was asked for
            config.port = port
            supervisor = Multiprocess(config, sockets=WorkerListeners(host, port, config.backlog))
            supervisor.run()
    # A worker that could not start (no database, say) stops the supervisor; say so, as a
    # single process does, so that whatever restarts the API sees the failure.
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise SystemExit(STARTUP_FAILURE)
