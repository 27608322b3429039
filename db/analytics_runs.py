"""Analytics runs and their chunks (migrations 0002, 0003).

A run is planned once (its chunks and their id ranges are stored), so a retried chunk
recomputes exactly the same applications with the same ``as_of``. Counters are recomputed
from the chunk rows under a lock on the run row, never incremented, so a chunk that runs
twice is counted once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.batch import (
    ChunkRange,
    idle_scope,
    mark_clicks_after,
    plan_chunks,
    reset_watermarks,
)


@dataclass(frozen=True, slots=True)
class RunRow:
    id: uuid.UUID
    account_id: uuid.UUID | None
    application_id: uuid.UUID | None
    as_of: datetime
    kind: str
    status: str  # queued, in_progress, complete, failed
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    chunks_total: int
    chunks_done: int
    applications_processed: int
    error: str | None
    incremental: bool


@dataclass(frozen=True, slots=True)
class ChunkWork:
    """What a chunk job computes."""

    run_id: uuid.UUID
    chunk_no: int
    account_id: uuid.UUID | None
    as_of: datetime
    id_from: uuid.UUID
    id_to: uuid.UUID
    incremental: bool
    planned: int = 0  # applications in the range when the run was planned


def _run(row: Any) -> RunRow:
    return RunRow(**{name: getattr(row, name) for name in RunRow.__slots__})


async def create_run(
    session: AsyncSession,
    *,
    kind: str,
    chunk_size: int,
    as_of: datetime | None = None,
    account_id: uuid.UUID | None = None,
    application_id: uuid.UUID | None = None,
    incremental: bool = False,
) -> tuple[RunRow, list[ChunkRange]]:
    """Insert a queued run with its planned chunks. ``as_of`` defaults to now (fixed here).

    ``incremental``: the chunks recompute the dirty applications and refresh the others for the
    clock (db/batch.py); else every application is recomputed. One application is always
    recomputed. Either way the applications in scope with clicks after ``as_of`` are marked
    dirty first (see :func:`db.batch.mark_clicks_after`), and a run over whole accounts restarts
    the clock watermarks that do not cover its ``as_of`` (:func:`db.batch.reset_watermarks`).
    An incremental run with nothing to do (:func:`db.batch.idle_scope`) has no chunks and is
    complete, its applications counted as processed.
    """
    row = (
        await session.execute(
            text(
                """
                INSERT INTO analytics_runs (account_id, application_id, as_of, kind, incremental)
                VALUES (:account_id, :application_id,
                        coalesce(CAST(:as_of AS timestamptz), now()), :kind, :incremental)
                RETURNING *
                """
            ),
            {
                "account_id": account_id,
                "application_id": application_id,
                "as_of": as_of,
                "kind": kind,
                "incremental": incremental and application_id is None,
            },
        )
    ).one()
    await mark_clicks_after(
        session, as_of=row.as_of, account_id=account_id, application_id=application_id
    )
    idle = None
    if application_id is None:
        await reset_watermarks(session, run_id=row.id, as_of=row.as_of, account_id=account_id)
        if row.incremental:
            idle = await idle_scope(session, as_of=row.as_of, account_id=account_id)
    # An incremental run with nothing to do (no mark, every watermark covering as_of) is
    # complete at once: no chunk would read or write a row.
    chunks = (
        []
        if idle is not None
        else await plan_chunks(
            session, chunk_size=chunk_size, account_id=account_id, application_id=application_id
        )
    )
    if chunks:
        await session.execute(
            text(
                """
                INSERT INTO analytics_run_chunks (run_id, chunk_no, id_from, id_to, applications)
                SELECT :run_id, c.no, c.id_from, c.id_to, c.n
                FROM unnest(CAST(:nos AS int[]), CAST(:froms AS uuid[]), CAST(:tos AS uuid[]),
                            CAST(:ns AS int[]))
                  AS c(no, id_from, id_to, n)
                """
            ),
            {
                "run_id": row.id,
                "nos": [c.chunk_no for c in chunks],
                "froms": [c.id_from for c in chunks],
                "tos": [c.id_to for c in chunks],
                # the planned count until the chunk records what it processed (finish_chunk)
                "ns": [c.applications for c in chunks],
            },
        )
    status = "queued" if chunks else "complete"
    row = (
        await session.execute(
            text(
                """
                UPDATE analytics_runs SET chunks_total = :n, status = :status,
                  finished_at = CASE WHEN :status = 'complete' THEN now() END,
                  applications_processed = :idle
                WHERE id = :id RETURNING *
                """
            ),
            {"n": len(chunks), "status": status, "id": row.id, "idle": idle or 0},
        )
    ).one()
    return _run(row), chunks


async def get_run(
    session: AsyncSession, *, run_id: uuid.UUID, account_id: uuid.UUID | None
) -> RunRow | None:
    """A run, scoped to an account (None: any run; for jobs and the CLI only)."""
    row = (
        await session.execute(
            text(
                "SELECT * FROM analytics_runs WHERE id = :id"
                + ("" if account_id is None else " AND account_id = :account_id")
            ),
            {"id": run_id, "account_id": account_id},
        )
    ).one_or_none()
    return None if row is None else _run(row)


async def delete_run(session: AsyncSession, *, run_id: uuid.UUID) -> None:
    await session.execute(text("DELETE FROM analytics_runs WHERE id = :id"), {"id": run_id})


async def start_chunk(
    session: AsyncSession, *, run_id: uuid.UUID, chunk_no: int
) -> ChunkWork | None:
    """Mark a chunk (and its run) started; None when there is nothing to do.

    Nothing to do: the run is gone (a failed enqueue deleted it), failed, or the chunk is done.
    """
    row = (
        await session.execute(
            text(
                """
                UPDATE analytics_run_chunks c
                SET started_at = now(), attempts = c.attempts + 1
                FROM analytics_runs r
                WHERE c.run_id = :run_id AND c.chunk_no = :chunk_no AND r.id = c.run_id
                  AND c.finished_at IS NULL AND r.status IN ('queued', 'in_progress')
                RETURNING r.account_id, r.as_of, c.id_from, c.id_to, r.incremental,
                          c.applications AS planned
                """
            ),
            {"run_id": run_id, "chunk_no": chunk_no},
        )
    ).one_or_none()
    if row is None:
        return None
    await session.execute(
        text(
            """
            UPDATE analytics_runs
            SET status = 'in_progress', started_at = coalesce(started_at, now())
            WHERE id = :run_id AND status = 'queued'
            """
        ),
        {"run_id": run_id},
    )
    return ChunkWork(
        run_id,
        chunk_no,
        row.account_id,
        row.as_of,
        row.id_from,
        row.id_to,
        row.incremental,
        row.planned,
    )


async def finish_chunk(
    session: AsyncSession, *, run_id: uuid.UUID, chunk_no: int, applications: int
) -> RunRow | None:
    """Record a finished chunk in the caller's transaction (with the chunk's writes).

    The run row is locked first, so concurrent chunks recount one after the other and the
    last one sees every other chunk's row. Returns the run as updated.
    """
    locked = (
        await session.execute(
            text("SELECT id FROM analytics_runs WHERE id = :id FOR UPDATE"), {"id": run_id}
        )
    ).one_or_none()
    if locked is None:
        return None
    await session.execute(
        text(
            """
            UPDATE analytics_run_chunks SET applications = :applications, finished_at = now()
            WHERE run_id = :run_id AND chunk_no = :chunk_no AND finished_at IS NULL
            """
        ),
        {"run_id": run_id, "chunk_no": chunk_no, "applications": applications},
    )
    row = (
        await session.execute(
            text(
                """
                WITH done AS (
                  SELECT count(*)::int AS chunks, coalesce(sum(applications), 0)::int AS apps
                  FROM analytics_run_chunks WHERE run_id = :run_id AND finished_at IS NOT NULL
                )
                UPDATE analytics_runs r SET
                  chunks_done = done.chunks,
                  applications_processed = done.apps,
                  status = CASE WHEN r.status = 'failed' THEN 'failed'
                                WHEN done.chunks >= r.chunks_total THEN 'complete'
                                ELSE 'in_progress' END,
                  finished_at = CASE WHEN r.status <> 'failed' AND done.chunks >= r.chunks_total
                                     THEN coalesce(r.finished_at, now()) ELSE r.finished_at END
                FROM done WHERE r.id = :run_id
                RETURNING r.*
                """
            ),
            {"run_id": run_id},
        )
    ).one()
    return _run(row)


async def fail_run(session: AsyncSession, *, run_id: uuid.UUID, error: str) -> None:
    await session.execute(
        text(
            """
            UPDATE analytics_runs SET status = 'failed', error = :error, finished_at = now()
            WHERE id = :id AND status IN ('queued', 'in_progress')
            """
        ),
        {"id": run_id, "error": error[:2000]},
    )


async def fail_open_nightly_runs(session: AsyncSession, *, error: str) -> int:
    """Close nightly runs left open (their lock expired: their workers are gone)."""
    result = await session.execute(
        text(
            """
            UPDATE analytics_runs SET status = 'failed', error = :error, finished_at = now()
            WHERE kind = 'nightly' AND status IN ('queued', 'in_progress')
            """
        ),
        {"error": error},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def chunk_numbers(session: AsyncSession, *, run_id: uuid.UUID) -> list[int]:
    """The chunks of a run not finished yet."""
    rows = await session.execute(
        text(
            "SELECT chunk_no FROM analytics_run_chunks"
            " WHERE run_id = :id AND finished_at IS NULL ORDER BY chunk_no"
        ),
        {"id": run_id},
    )
    return [int(r.chunk_no) for r in rows]
