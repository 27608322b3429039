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

from linkinsights.server import GC_THRESHOLDS, settle_heap, worker_count
from linkinsights.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_worker_count_zero_means_one_per_core() -> None:
    assert worker_count(Settings(api_workers=3)) == 3
    assert worker_count(Settings(api_workers=0)) == max(1, os.cpu_count() or 1)


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


def _children(pid: int) -> set[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return {int(p) for p in out.stdout.split()}


async def test_api_with_two_workers_serves_and_stops(database_url, redis_url, api_key):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "API_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkinsights", "api", "--port", str(port), env=env, cwd=ROOT
    )
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
            assert len(_children(proc.pid)) >= 2  # the supervisor's worker processes
            for _ in range(6):  # several connections, so more than one worker answers
                async with httpx.AsyncClient(base_url=client.base_url, timeout=5) as fresh:
                    r = await fresh.post(
                        "/graphql",
                        json={"query": "{ applications(first: 1) { totalCount } }"},
                        headers={"Authorization": f"Bearer {api_key}"},
                    )
                assert r.status_code == 200
                assert r.json() == {"data": {"applications": {"totalCount": 0}}}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), timeout=20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            pytest.fail("the API did not stop within 20 s of SIGTERM")
    assert code == 0
