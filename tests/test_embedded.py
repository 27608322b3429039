"""The embedded default (SPEC §10): start, reuse by a second process, stop, restart on the data."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis
from waiting import eventually

from linkinsights.embedded import Services, start_services

pytestmark = pytest.mark.slow


def _answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def _closed_within(port: int, seconds: float) -> bool:
    async def closed() -> bool:
        return not _answers(port)

    return await eventually(closed, within=seconds, what=f"port {port} to close")


def _ports(svc: Services) -> tuple[int, int]:
    assert svc.postgres is not None
    assert svc.redis is not None
    return svc.postgres.port, svc.redis.port


async def _select_one(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        value = await conn.fetchval("SELECT 1")
        assert isinstance(value, int)
        return value
    finally:
        await conn.close()


async def _ping(url: str) -> bool:
    redis = Redis.from_url(url)
    try:
        return bool(await redis.ping())
    finally:
        await redis.aclose()


async def test_start_reuse_stop_restart(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir: Path = tmp_path_factory.mktemp("emb")
    first = start_services(database_url=None, redis_url=None, data_dir=data_dir)
    second: Services | None = None
    try:
        assert first.embedded
        assert first.postgres is not None
        assert first.postgres.started_here
        assert first.redis is not None
        assert first.redis.started_here
        pg_port, redis_port = _ports(first)
        assert first.database_url == f"postgresql://postgres@127.0.0.1:{pg_port}/linkinsights"
        assert first.redis_url == f"redis://127.0.0.1:{redis_port}/0"
        assert await _select_one(first.database_url) == 1
        assert await _ping(first.redis_url)

        conn = await asyncpg.connect(first.database_url)
        try:
            await conn.execute("CREATE TABLE kept (note text)")
            await conn.execute("INSERT INTO kept VALUES ('still here')")
        finally:
            await conn.close()

        # A second process on the same folder finds the running servers and reuses them.
        second = start_services(database_url=None, redis_url=None, data_dir=data_dir)
        assert _ports(second) == (pg_port, redis_port)
        assert second.postgres is not None
        assert not second.postgres.started_here
        assert second.redis is not None
        assert not second.redis.started_here
        assert (second.database_url, second.redis_url) == (first.database_url, first.redis_url)
        # ...and stopping it leaves them running for the first.
        second.stop()
        assert await _select_one(first.database_url) == 1
        assert await _ping(first.redis_url)
    finally:
        first.stop()

    assert await _closed_within(pg_port, 5)
    assert await _closed_within(redis_port, 5)
    assert first.postgres is not None
    assert not first.postgres.started_here
    assert first.redis is not None
    assert not first.redis.started_here

    # A restart starts fresh servers on the same data.
    again = start_services(database_url=None, redis_url=None, data_dir=data_dir)
    try:
        assert again.postgres is not None
        assert again.postgres.started_here
        assert again.redis is not None
        assert again.redis.started_here
        conn = await asyncpg.connect(again.database_url)
        try:
            assert await conn.fetchval("SELECT note FROM kept") == "still here"
        finally:
            await conn.close()
        assert await _ping(again.redis_url)
    finally:
        again.stop()
    assert await _closed_within(_ports(again)[0], 5)
    assert await _closed_within(_ports(again)[1], 5)


def test_configured_urls_start_nothing(tmp_path: Path) -> None:
    svc = start_services(
        database_url="postgresql://u@db.example:5432/x",
        redis_url="redis://cache.example:6379/0",
        data_dir=tmp_path,
    )
    assert not svc.embedded
    assert (svc.postgres, svc.redis) == (None, None)
    assert svc.database_url == "postgresql://u@db.example:5432/x"
    assert svc.redis_url == "redis://cache.example:6379/0"
    assert list(tmp_path.iterdir()) == []
    svc.stop()


async def test_relative_data_dir_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` passes the default `.data`: PostgreSQL runs inside its data directory, so a
    relative path must not leak into anything the server resolves itself."""
    monkeypatch.chdir(tmp_path)
    svc = start_services(database_url=None, redis_url=None, data_dir=Path(".data"))
    try:
        assert await _select_one(svc.database_url) == 1
        assert await _ping(svc.redis_url)
        assert (tmp_path / ".data" / "postgres" / "pgdata" / "PG_VERSION").exists()
    finally:
        svc.stop()
