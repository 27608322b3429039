"""Schema extensions: per-operation request and latency metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

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
