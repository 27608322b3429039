"""Schema extensions: per-operation request and latency metrics; aggregate invalidation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from graph.aggregate_cache import invalidate_quietly
from graph.observability import GRAPHQL_LATENCY, GRAPHQL_REQUESTS


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        name = self.execution_context.operation_name or "anonymous"
        # Bound the label set: names are client-chosen.
        name = name[:64]
        GRAPHQL_REQUESTS.labels(operation=name).inc()
        GRAPHQL_LATENCY.labels(operation=name).observe(time.perf_counter() - start)


class AggregateCacheInvalidation(SchemaExtension):
    """After a mutation, the viewer's cached aggregates are stale (graph.aggregate_cache).

    Every mutation writes inside its resolver and commits there, so when the operation is
    done its writes are visible and the next read must see them. Bumping the account's
    generation is one INCR; doing it for every mutation (not only the ones known to move a
    figure today) keeps a new mutation from forgetting it.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        if execution.operation_type is not OperationType.MUTATION:
            return
        context = execution.context
        viewer = getattr(context, "viewer", None)
        redis = getattr(context, "redis", None)
        if viewer is not None and redis is not None:
            await invalidate_quietly(redis, [viewer.account_id])
