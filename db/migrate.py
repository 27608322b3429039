"""Run the Alembic migrations programmatically (used by the CLI and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from db.engine import async_url, make_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    await _run(url, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(url: str, revision: str = "base") -> None:
    await _run(url, lambda cfg: command.downgrade(cfg, revision))


async def _run(url: str, action: object) -> None:
    engine = make_engine(async_url(url), pool_size=1)

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        action(config)  # type: ignore[operator]

    try:
        async with engine.begin() as conn:
            # One migration at a time across processes (serve and a CLI command may race).
            await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7715561)")
            await conn.run_sync(run)
    finally:
        await engine.dispose()
