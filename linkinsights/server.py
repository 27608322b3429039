"""Serving the HTTP app: uvicorn on uvloop + httptools, one or more worker processes.

`linkinsights api` (and so `linkinsights serve`) and the benchmarks all start the API here, so
what is measured is what runs. One process is plain `uvicorn.run`; several are gunicorn's
arbiter with the uvicorn worker (uvicorn's documented way to supervise workers): it restarts
a worker that dies and exits with status 3 when a worker cannot start.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.errors import HaltServer
from uvicorn_worker import UvicornWorker

from config import Settings

# The default (API_WORKERS=0) never starts more than this many processes: each holds up to
# 2 x DB_POOL_SIZE PostgreSQL connections (GraphQL and /track pools) and ~115 MB, and with the
# worker's few that stays under PostgreSQL's default max_connections of 100. Set API_WORKERS
# (and DB_POOL_SIZE) explicitly to go further.
MAX_DEFAULT_WORKERS = 2
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # "<quota> <period>" or "max <period>"
# Seconds in-flight requests get after SIGTERM before their connections are closed.
GRACEFUL_SECONDS = 3


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


def forwarded_allow_ips(settings: Settings) -> list[str]:
    """The proxies whose X-Forwarded-For uvicorn believes (only with trust_forwarded_for)."""
    return [ip.strip() for ip in settings.forwarded_allow_ips.split(",") if ip.strip()]


# Collect the youngest generation every 20,000 allocations instead of Python's 700.
GC_THRESHOLDS = (20_000, 10, 10)


def settle_heap() -> None:
    """Tune the cyclic garbage collector for a request-serving process.

    A full (generation 2) collection walks every live object, and the API imports a lot (the
    schema, SQLAlchemy, graphql-core, the crawler patterns): freezing what is loaded keeps
    those pauses out of request latency. With Python's default thresholds a busy process
    also runs hundreds of young collections a second, each walking every in-flight
    request's objects; GC_THRESHOLDS makes them rarer. Garbage cycles live a little longer.
    The README's performance section has the measurements.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def app_for_worker() -> object:
    """What each worker process serves: settings from its environment."""
    from graph.app import create_app
    from graph.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    settle_heap()
    return app


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's Config options, the same for one process and for gunicorn's workers.

    uvicorn rewrites the client address from X-Forwarded-For by default (for connections from
    127.0.0.1): here only when TRUST_FORWARDED_FOR is set, and then only for connections from
    FORWARDED_ALLOW_IPS. The app reads the client from the ASGI scope alone.
    """
    return {
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "proxy_headers": settings.trust_forwarded_for,
        "forwarded_allow_ips": forwarded_allow_ips(settings),
    }


def _worker_class(settings: Settings) -> type[UvicornWorker]:
    # uvicorn-worker's documented way to set uvicorn options: a subclass's CONFIG_KWARGS.
    options = uvicorn_options(settings)
    del options["log_config"]  # the worker hands uvicorn's loggers to gunicorn's
    return type("ApiWorker", (UvicornWorker,), {"CONFIG_KWARGS": options})


class _Arbiter(BaseApplication):  # type: ignore[misc]
    """gunicorn as a library (its "custom application"): options given, app built per worker."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> object:
        return app_for_worker()


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"error: cannot listen on {host}:{port}: {exc.strerror}") from None


def run_api(settings: Settings, *, host: str, port: int) -> None:
    """Serve the API until SIGINT/SIGTERM. `settings` must carry both service URLs."""
    import uvicorn

    assert settings.database_url, "resolve the services first"
    assert settings.redis_url, "resolve the services first"
    workers = worker_count(settings)
    if workers == 1:
        from graph.app import create_app
        from graph.observability import configure_logging

        configure_logging(settings.log_level)
        app = create_app(settings)
        settle_heap()
        uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))
        return
    # gunicorn would retry a taken port for five seconds and then log a traceback-free but
    # terse error; say it at once, as one process does.
    _check_port(host, port)
    # Each worker builds its app from the environment, which must carry these settings (the
    # services this process resolved, embedded ones included), and writes its metrics where
    # /metrics, answered by any of them, adds them up.
    os.environ.update(worker_environment(settings))
    # gunicorn forks the workers from this process, so the metrics must be made after
    # PROMETHEUS_MULTIPROC_DIR is set (prometheus_client reads it when first imported).
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client imported before the API's metrics directory")
    # `serve` gives the API and its worker one directory, so /metrics has the flusher's too.
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    with (
        contextlib.nullcontext(shared)
        if shared
        else tempfile.TemporaryDirectory(prefix="linkinsights-metrics-")
    ) as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        from graph.observability import configure_logging

        configure_logging(settings.log_level)
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        arbiter = _Arbiter(
            {
                "bind": [bind],
                "workers": workers,
                "worker_class": _worker_class(settings),
                # Each worker listens on its own SO_REUSEPORT socket and the kernel spreads
                # new connections over them. On one shared socket, whichever worker woke
                # first accepted a whole burst: ten keep-alive clients ended up on one worker
                # while the other idled.
                "reuse_port": True,
                "graceful_timeout": GRACEFUL_SECONDS,
                "keepalive": 5,  # uvicorn's own default keep-alive timeout
                "loglevel": settings.log_level.lower(),
                "forwarded_allow_ips": ",".join(forwarded_allow_ips(settings)),
            }
        )
        try:
            arbiter.run()
        except HaltServer as exc:
            # When several workers fail to boot, gunicorn halts on the first and, while it
            # stops the others, reaps the next failure and raises again out of its halt (a
            # traceback and exit status 1). The status it meant is the one to exit with.
            raise SystemExit(exc.exit_status) from None
