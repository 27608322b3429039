"""Single-statement reads straight on an asyncpg pool: the API's hot read path.

Why: a loader batch, the key lookup of every request and the page of applications are each
one statement, read in autocommit mode (a statement is its own snapshot). Through an
SQLAlchemy session such a read cost ~220 µs of CPU on this machine (session, ORM execute,
connection checkout and result wrapping), through SQLAlchemy Core on a connection ~180 µs,
on an asyncpg pool ~85 µs (3,000 runs of the jobs loader's statement each, same database,
same process); bench/api.py's "one application" issued seven such reads (four since its
job and metrics are read with it).

The statements are still SQLAlchemy Core objects, built once in the db modules beside their
SQLAlchemy callers; a `Reader` compiles each with the asyncpg dialect on first use (the SQL
text with $n placeholders and the order of its parameters) and runs it with
`asyncpg.Pool.fetch`. Bind processors are applied as SQLAlchemy would; results come back as
asyncpg Records, read by position, which every db function here does for both kinds of
source (`rows`), so one function serves a session inside a transaction and the Reader alike.
JSON and JSONB decode as SQLAlchemy's asyncpg dialect decodes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from db.engine import async_url

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
_MAX_COMPILED = 1000


@dataclass(frozen=True, slots=True)
class CompiledRead:
    """A statement as asyncpg runs it: the SQL, its parameters in placeholder order, their
    default values (literals SQLAlchemy bound, such as a coalesce's 0) and bind processors."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name in self.names:
            value = values[name] if name in values else self.defaults[name]
            process = self.processors.get(name)
            out.append(value if process is None or value is None else process(value))
        return out


def compile_read(statement: ClauseElement) -> CompiledRead:
    compiled = statement.compile(dialect=_DIALECT)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    expanding = [n for n in names if compiled.binds[n].expanding]
    if expanding:  # IN (...) renders per call; these statements use = ANY(:array)
        raise ValueError(f"expanding parameters are not supported: {expanding}")
    computed = [n for n in names if compiled.binds[n].callable is not None]
    if computed:  # a value computed per execution would be taken here as a constant None
        raise ValueError(f"callable parameters are not supported: {computed}")
    defaults = {
        name: bind.value
        for name, bind in ((n, compiled.binds[n]) for n in set(names))
        if bind.value is not None or not bind.required
    }
    processors: dict[str, Callable[[Any], Any]] = {}
    for name, process in compiled._bind_processors.items():
        if name not in names or process is None:
            continue
        if not callable(process):  # a tuple-typed parameter: one processor per element
            raise ValueError(f"tuple-typed parameters are not supported: {name}")
        processors[name] = process
    return CompiledRead(compiled.string, names, defaults, processors)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own (a transaction left open is
    rolled back). The default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;`, a second round trip for every statement; these pools never take advisory
    locks, open cursors, LISTEN or SET anything. Measured: `pool.fetchval` 165 -> 80 µs wall,
    85 -> 46 µs CPU."""


async def open_pool(
    database_url: str,
    *,
    size: int,
    application_name: str,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> Any:
    """A pool of raw asyncpg connections for one-statement work (reads, /track writes)."""
    dsn = async_url(database_url).replace("postgresql+asyncpg://", "postgresql://", 1)
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        init=init,
        reset=_keep_session,
        server_settings={"application_name": application_name},
    )


async def _init_connection(conn: asyncpg.Connection) -> None:
    # As SQLAlchemy's asyncpg dialect: json/jsonb values arrive decoded (orjson is faster
    # than the json module it uses, and gives the same values). A parameter arrives as text
    # already, serialized by its type's bind processor (CompiledRead.args), and goes as is.
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=_json_text,
            decoder=orjson.loads,
            schema="pg_catalog",
        )


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


class Reader:
    """One-statement reads in autocommit mode on a pool of asyncpg connections.

    `listeners` are called with each statement's SQL before it is sent (the tests count the
    statements of a request with them, as with SQLAlchemy's `before_cursor_execute`).
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.listeners: list[Callable[[str], None]] = []
        self._compiled: dict[ClauseElement, CompiledRead] = {}

    @classmethod
    async def open(cls, database_url: str, *, size: int, application_name: str) -> Reader:
        pool = await open_pool(
            database_url, size=size, application_name=application_name, init=_init_connection
        )
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    def compiled(self, statement: ClauseElement) -> CompiledRead:
        # Keyed by the statement object (hashed by identity): they are module-level or
        # functools.cache'd, built once. The bound only keeps a caller that builds a new
        # statement per call from growing the cache without end.
        found = self._compiled.get(statement)
        if found is None:
            if len(self._compiled) >= _MAX_COMPILED:
                self._compiled.clear()
            found = self._compiled[statement] = compile_read(statement)
        return found

    async def fetch(
        self, statement: ClauseElement, values: Mapping[str, Any]
    ) -> list[asyncpg.Record]:
        read = self.compiled(statement)
        for listener in self.listeners:
            listener(read.sql)
        rows: list[asyncpg.Record] = await self.pool.fetch(read.sql, *read.args(values))
        return rows


Source = AsyncSession | Reader
"""Where a read runs: a session (inside the caller's transaction) or the Reader."""


async def rows(
    source: Source, statement: ClauseElement, values: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The statement's rows, each indexable by position, from either kind of source."""
    if isinstance(source, Reader):
        return await source.fetch(statement, values)
    assert isinstance(statement, Executable)
    result = await source.execute(statement, dict(values))
    return result.all()
