"""`linkinsights api` as it runs in production: several worker processes on one port.

The processes are real (`linkinsights api` in a subprocess, uvicorn's worker supervisor), so
this covers what unit tests of the app cannot: every worker builds its app from the
environment the parent resolved, answers authenticated queries, and all stop on SIGTERM.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from linkinsights.server import (
    GC_THRESHOLDS,
    MAX_DEFAULT_WORKERS,
    available_cpus,
    settle_heap,
    worker_count,
    worker_environment,
)
from linkinsights.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_available_cpus_follow_affinity_and_the_cgroup_quota(monkeypatch, tmp_path) -> None:
    import linkinsights.server as server

    monkeypatch.setattr(server.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(server, "CGROUP_CPU_MAX", cpu_max)
    assert available_cpus() == 6  # no cgroup file: the affinity
    cpu_max.write_text("max 100000\n")
    assert available_cpus() == 6  # no quota
    cpu_max.write_text("150000 100000\n")
    assert available_cpus() == 2  # 1.5 CPUs of quota round up to 2
    cpu_max.write_text("50000 100000\n")
    assert available_cpus() == 1
    monkeypatch.setattr(server.os, "sched_getaffinity", lambda pid: {0})
    cpu_max.write_text("400000 100000\n")
    assert available_cpus() == 1  # the affinity is the tighter bound


def test_worker_count_zero_means_one_per_available_cpu_with_a_cap(monkeypatch) -> None:
    import linkinsights.server as server

    assert worker_count(Settings(api_workers=3)) == 3
    for cpus, expected in ((1, 1), (2, 2), (16, MAX_DEFAULT_WORKERS)):
        monkeypatch.setattr(server, "available_cpus", lambda n=cpus: n)
        assert worker_count(Settings(api_workers=0)) == expected
    with pytest.raises(ValidationError):
        Settings(api_workers=-1)


def test_worker_environment_gives_workers_the_same_settings(monkeypatch) -> None:
    settings = Settings(
        database_url="postgresql://u@db.example:5432/x",
        redis_url="redis://cache.example:6379/2",
        log_level="WARNING",
        dashboard_hosts=["app.example.com", "dash.example.com"],
        trust_forwarded_for=True,
        db_pool_size=7,
        data_dir=Path("/tmp/somewhere"),
    )
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in worker_environment(settings).items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None) == settings  # type: ignore[call-arg]


def test_settle_heap_freezes_what_is_loaded_and_collects_less_often() -> None:
    thresholds = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 1000
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workers(pid: int) -> list[str]:
    """The command lines of the uvicorn worker processes under `pid` (not the resource
    tracker that multiprocessing also starts)."""
    out = subprocess.run(
        ["ps", "-ww", "-o", "args=", "--ppid", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in out.stdout.splitlines() if "spawn_main" in line]


def _counter(metrics: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


async def _start_api(
    database_url: str, redis_url: str, port: int, log_level: str = "WARNING"
) -> asyncio.subprocess.Process:
    """`linkinsights api` with two worker processes, as a newcomer's shell would start it."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "API_WORKERS": "2",
        "LOG_LEVEL": log_level,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkinsights", "api", "--port", str(port), env=env, cwd=ROOT
    )


async def test_api_with_two_workers_serves_and_stops(database_url, redis_url, api_key):
    port = _free_port()
    proc = await _start_api(database_url, redis_url, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 60
            while True:
                assert proc.returncode is None, "the API exited"
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the API did not become ready"
                await asyncio.sleep(0.2)
            assert len(_workers(proc.pid)) == 2
            before = _counter(
                (await client.get("/metrics")).text, "linkinsights_graphql_requests_total"
            )
            for _ in range(6):  # several connections, so more than one worker answers
                async with httpx.AsyncClient(base_url=client.base_url, timeout=5) as fresh:
                    r = await fresh.post(
                        "/graphql",
                        json={"query": "{ applications(first: 1) { totalCount } }"},
                        headers={"Authorization": f"Bearer {api_key}"},
                    )
                assert r.status_code == 200
                assert r.json() == {"data": {"applications": {"totalCount": 0}}}
            # Every worker's requests are counted, whichever worker answers the scrape.
            for _ in range(4):
                async with httpx.AsyncClient(base_url=client.base_url, timeout=5) as fresh:
                    text = (await fresh.get("/metrics")).text
                assert _counter(text, "linkinsights_graphql_requests_total") == before + 6
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), timeout=20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            pytest.fail("the API did not stop within 20 s of SIGTERM")
    assert code == 0


async def test_api_workers_that_cannot_start_make_the_command_fail(database_url, redis_url):
    missing = database_url.rsplit("/", 1)[0] + "/li_no_such_database"
    proc = await _start_api(missing, redis_url, _free_port(), log_level="CRITICAL")
    try:
        code = await asyncio.wait_for(proc.wait(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("the API kept running without a database")
    assert code == 3  # uvicorn's startup failure, as with a single process
