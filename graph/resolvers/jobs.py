"""Mutations over jobs."""

from __future__ import annotations

import strawberry

from db import jobs as jobs_db
from domain.validation import ValidationError, validate_text, validate_url
from graph.context import Context
from graph.errors import BadUserInput
from graph.types.application import Job


@strawberry.input
class CreateJobInput:
    title: str
    company: str | None = None
    url: str | None = None
    location: str | None = None


@strawberry.type
class JobMutations:
    @strawberry.mutation(description="Record a job you are applying to.")
    async def create_job(self, info: strawberry.Info[Context, None], input: CreateJobInput) -> Job:
        ctx = info.context
        viewer = ctx.require("write")
        try:
            title = validate_text(input.title, field="title", max_length=300, required=True)
            company = validate_text(input.company, field="company", max_length=300, required=False)
            location = validate_text(
                input.location, field="location", max_length=300, required=False
            )
            url = None if input.url is None else validate_url(input.url, field="url")
        except ValidationError as exc:
            raise BadUserInput(exc.message, field=exc.field) from exc
        async with ctx.sessionmaker() as session, session.begin():
            row = await jobs_db.create_job(
                session,
                account_id=viewer.account_id,
                title=title or "",
                company=company,
                url=url,
                location=location,
            )
        return Job.from_row(row)
