"""SQL that writes jobs."""

from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.applications import JobRow, job_row
from db.tables import jobs


async def create_job(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    title: str,
    company: str | None,
    url: str | None,
    location: str | None,
) -> JobRow:
    row = (
        (
            await session.execute(
                insert(jobs)
                .values(
                    id=uuid.uuid4(),
                    account_id=account_id,
                    title=title,
                    company=company,
                    url=url,
                    location=location,
                )
                .returning(*jobs.c)
            )
        )
        .mappings()
        .one()
    )
    return job_row(row)
