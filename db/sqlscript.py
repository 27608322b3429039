"""Run a SQL script (several statements) in a migration, as PostgreSQL itself parses it.

SQLAlchemy's asyncpg dialect prepares each statement, and a prepared statement holds one
command. asyncpg's `execute` without arguments sends the whole script in PostgreSQL's simple
query protocol, so semicolons inside string literals, `$tag$` bodies and comments stay where
they are, without any splitting of our own.
"""

from __future__ import annotations

from sqlalchemy.engine import AdaptedConnection, Connection


def run_script(connection: Connection, script: str) -> None:
    """Execute `script` on `connection` (sync, inside Alembic's transaction)."""
    # SQLAlchemy's documented way to await a driver method from the sync (greenlet) side.
    adapted = connection.connection.dbapi_connection
    assert isinstance(adapted, AdaptedConnection), "an asyncio driver (asyncpg) is expected"
    adapted.run_async(lambda driver: driver.execute(script))
