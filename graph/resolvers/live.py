"""The live feed (issue 12): `clickRecorded`, the account's new human clicks once stored.

The flusher (jobs/flusher.py) publishes the ids of the human clicks of each batch it commits
on the account's channel; a subscription listens on its key's account channel only, reads
those clicks (scoped to the account again) and yields them. Over graphql-transport-ws; a
browser, which cannot set headers on a WebSocket, sends its key in `connection_init` as
`{"Authorization": "Bearer <key>"}`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator

import orjson
import strawberry
from redis.exceptions import RedisError

from db import clicks as clicks_db
from graph.context import Context
from graph.errors import BadUserInput, QueueUnavailable
from graph.types.link import Click
from jobs.flusher import clicks_channel


@strawberry.type
class LiveSubscriptions:
    @strawberry.subscription(
        description="New human clicks of the key's account (of one application if given), "
        "delivered once stored."
    )
    async def click_recorded(
        self, info: strawberry.Info[Context, None], application_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Click, None]:
        ctx = info.context
        viewer = ctx.require("read")
        only: str | None = None
        if application_id is not None:
            try:
                only = str(uuid.UUID(str(application_id)))
            except ValueError as exc:
                raise BadUserInput(
                    "applicationId must be an application id", field="applicationId"
                ) from exc
        pubsub = ctx.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(clicks_channel(viewer.account_id))
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                ids = [
                    uuid.UUID(click_id)
                    for click_id, app_id in orjson.loads(message["data"])
                    if only is None or app_id == only
                ]
                if not ids:
                    continue
                async with ctx.sessionmaker() as session:
                    rows = await clicks_db.clicks_by_ids(
                        session, account_id=viewer.account_id, click_ids=ids
                    )
                for row in rows:
                    yield Click.from_row(row)
        except (RedisError, OSError) as exc:
            raise QueueUnavailable("The live feed lost its connection; subscribe again") from exc
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
