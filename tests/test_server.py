"""`linkinsights api` as it runs in production: several worker processes on one port.

The processes are real (`linkinsights api` in a subprocess, gunicorn with the uvicorn worker),
so this covers what unit tests of the app cannot: every worker builds its app from the
environment the parent resolved, answers authenticated queries, believes X-Forwarded-For only
as configured, and all stop on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import GraphQLClient
from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from waiting import eventually

from config import Settings
from linkinsights.server import (
    GC_THRESHOLDS,
    MAX_DEFAULT_WORKERS,
    available_cpus,
    settle_heap,
    worker_count,
    worker_environment,
)

ROOT = Path(__file__).resolve().parent.parent


def test_available_cpus_follow_affinity_and_the_cgroup_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import linkinsights.server as server

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(server, "CGROUP_CPU_MAX", cpu_max)
    assert available_cpus() == 6  # no cgroup file: the affinity
    cpu_max.write_text("max 100000\n")
    assert available_cpus() == 6  # no quota
    cpu_max.write_text("150000 100000\n")
    assert available_cpus() == 2  # 1.5 CPUs of quota round up to 2
    cpu_max.write_text("50000 100000\n")
    assert available_cpus() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    cpu_max.write_text("400000 100000\n")
    assert available_cpus() == 1  # the affinity is the tighter bound


def test_worker_count_zero_means_one_per_available_cpu_with_a_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import linkinsights.server as server

    assert worker_count(Settings(api_workers=3)) == 3
    for cpus, expected in ((1, 1), (2, 2), (16, MAX_DEFAULT_WORKERS)):
        monkeypatch.setattr(server, "available_cpus", lambda n=cpus: n)
        assert worker_count(Settings(api_workers=0)) == expected
    with pytest.raises(ValidationError):
        Settings(api_workers=-1)


def test_worker_environment_gives_workers_the_same_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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


def _counter(metrics: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


async def _start_api(
    database_url: str,
    redis_url: str,
    port: int,
    log_level: str = "WARNING",
    workers: int = 2,
    stderr: int | None = None,
    settings: dict[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """`linkinsights api` with two worker processes, as a newcomer's shell would start it."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "API_WORKERS": str(workers),
        "LOG_LEVEL": log_level,
        **{name.upper(): value for name, value in (settings or {}).items()},
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "linkinsights",
        "api",
        "--port",
        str(port),
        env=env,
        cwd=ROOT,
        stderr=stderr,
    )


async def _wait_ready(proc: asyncio.subprocess.Process, client: httpx.AsyncClient) -> None:
    async def ready() -> bool:
        assert proc.returncode is None, "the API exited"
        try:
            return (await client.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(ready, within=60, what="the API to be ready")


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), timeout=20)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("the API did not stop within 20 s of SIGTERM")


def _worker_pids(pid: int) -> list[int]:
    """The worker processes gunicorn forked under `pid`."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(line) for line in out.stdout.split()]


def _tcp_sockets(port: int) -> dict[int, tuple[str, str]]:
    """inode -> (state, remote address) of this machine's IPv4 sockets whose local port is
    `port` (/proc/net/tcp; state 0A is LISTEN, 01 ESTABLISHED)."""
    found = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port:
                found[int(fields[9])] = (fields[3], fields[2])
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


async def test_api_workers_listen_each_and_share_a_burst_of_connections(
    database_url: str, redis_url: str
) -> None:
    """Each worker accepts on its own SO_REUSEPORT socket. With one shared socket, the worker
    that woke first took a whole burst of keep-alive connections and the other idled."""
    port = _free_port()
    proc = await _start_api(database_url, redis_url, port)
    streams = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await _wait_ready(proc, client)
        workers = _worker_pids(proc.pid)
        assert len(workers) == 2
        sockets = _tcp_sockets(port)
        listening = {inode for inode, (state, _) in sockets.items() if state == "0A"}
        owned = {pid: _socket_inodes(pid) for pid in workers}
        for pid in workers:
            assert len(owned[pid] & listening) == 1, f"worker {pid} has no listening socket"
        assert owned[workers[0]] & owned[workers[1]] & listening == set()

        # 24 connections opened at once, kept open: each worker serves some of them.
        streams = await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", port) for _ in range(24))
        )
        for _reader, writer in streams:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        for reader, _writer in streams:
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        sockets = _tcp_sockets(port)
        established = {inode for inode, (state, _) in sockets.items() if state == "01"}
        served = {pid: len(_socket_inodes(pid) & established) for pid in workers}
        assert sum(served.values()) == 24
        # Spread by a hash of the client's address: one worker with none of 24 would happen
        # by chance about once in eight million runs.
        assert all(n > 0 for n in served.values()), served
    finally:
        for _reader, writer in streams:
            writer.close()
        code = await _stop(proc)
    assert code == 0


async def test_api_refuses_a_port_in_use(database_url: str, redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        env["API_WORKERS"] = "2"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "linkinsights",
            "api",
            "--port",
            str(port),
            env=env,
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}" in err.decode()
    assert "Traceback" not in err.decode()


async def test_api_with_two_workers_serves_and_stops(
    database_url: str, redis_url: str, api_key: str
) -> None:
    port = _free_port()
    proc = await _start_api(database_url, redis_url, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await _wait_ready(proc, client)
            assert len(_worker_pids(proc.pid)) == 2
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
        code = await _stop(proc)
    assert code == 0


async def test_api_workers_that_cannot_start_make_the_command_fail(
    database_url: str, redis_url: str
) -> None:
    missing = database_url.rsplit("/", 1)[0] + "/li_no_such_database"
    proc = await _start_api(
        missing, redis_url, _free_port(), log_level="CRITICAL", stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("the API kept running without a database")
    assert proc.returncode == 3  # a worker failed to boot; uvicorn's startup failure is 3 too
    assert b"Traceback" not in err


CREATE_APP = "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }"
CREATE_LINK = """mutation($i: CreateTrackedLinkInput!) {
  createTrackedLink(input: $i) { trackingId } }"""


async def _new_link(gql: Any, key: str) -> str:
    app_id = (await gql(CREATE_APP, {"i": {}}, key=key))["data"]["createApplication"]["id"]
    link = {
        "applicationId": app_id,
        "linkFunction": "LinkedIn",
        "linkType": "profile",
        "originalUrl": "https://example.com/me",
    }
    body = await gql(CREATE_LINK, {"i": link}, key=key)
    return str(body["data"]["createTrackedLink"]["trackingId"])


async def _stored_ip(sessionmaker: Any, tracking_id: str) -> str:
    """The IP address of the link's one click, once the API has flushed it."""

    async def stored() -> list[Any]:
        async with sessionmaker() as session:
            return list(
                await session.execute(
                    text("SELECT host(ip_address) AS ip FROM link_clicks WHERE tracking_id = :t"),
                    {"t": tracking_id},
                )
            )

    rows = await eventually(stored, what="the click to be stored")
    assert len(rows) == 1
    return str(rows[0].ip)


@pytest.mark.parametrize(
    ("workers", "env", "believed"),
    [
        (2, {}, False),  # uvicorn's own default would believe a loopback peer
        (1, {}, False),
        (2, {"trust_forwarded_for": "true"}, True),  # FORWARDED_ALLOW_IPS: 127.0.0.1
        (1, {"trust_forwarded_for": "true", "forwarded_allow_ips": "10.9.8.7"}, False),
    ],
)
async def test_client_ip_from_forwarded_for_only_from_configured_proxies(
    settings: Settings,
    database_url: str,
    redis_url: str,
    gql: GraphQLClient,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    workers: int,
    env: dict[str, str],
    believed: bool,
) -> None:
    """A peer on 127.0.0.1 claims another address in X-Forwarded-For: the rate limiter (and
    /track) use it only with TRUST_FORWARDED_FOR and from a FORWARDED_ALLOW_IPS address."""
    claimed = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    tracking_id = await _new_link(gql, api_key)
    port = _free_port()
    # The clicks go to the test session's stream, which its flusher writes to PostgreSQL.
    proc = await _start_api(
        database_url,
        redis_url,
        port,
        workers=workers,
        settings={**env, "click_stream": settings.click_stream},
    )
    redis = Redis.from_url(redis_url)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await _wait_ready(proc, client)
            spoofed = {"x-forwarded-for": claimed}
            # Unauthenticated introspection counts against the client's IP.
            r = await client.post("/graphql", json={"query": "{ __typename }"}, headers=spoofed)
            assert r.status_code == 200
            track = await client.get(f"/track/{tracking_id}", headers=spoofed)
            assert track.status_code == 302
        # Stopped first: a process adds its last rate-limit counts to Redis as it stops.
        # One process is plain uvicorn, which ends by re-raising the SIGTERM it handled.
        assert await _stop(proc) in (0, -signal.SIGTERM)
        buckets = [k async for k in redis.scan_iter(match=f"linkinsights:rl:ip:{claimed}:*")]
        assert bool(buckets) is believed
        assert await _stored_ip(sessionmaker, tracking_id) == (claimed if believed else "127.0.0.1")
    finally:
        await redis.aclose()
        if proc.returncode is None:
            await _stop(proc)
