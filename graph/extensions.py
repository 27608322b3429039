"""Schema extensions: per-operation metrics, aggregate invalidation, text checked for storage."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

from graphql import ArgumentNode, ObjectFieldNode, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from domain.validation import ValidationError, validate_storable
from graph.aggregate_cache import invalidate_quietly
from graph.errors import BadUserInput
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


class StorableText(SchemaExtension):
    """Refuses, before execution, text PostgreSQL cannot store (`domain.validate_storable`),
    in any variable or string literal, naming the variable or argument that carried it.

    One check for every argument instead of one per resolver: a NUL in `trackedLink(trackingId:)`
    reached asyncpg and came back as an INTERNAL_SERVER_ERROR. A literal can only carry a NUL
    or a surrogate through a `\\u` escape (the lexer refuses the raw characters), so documents
    without one are not walked.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        for name, value in (context.variables or {}).items():
            _check_value(value, f"${name}")
        document = context.graphql_document
        if document is not None and "\\u" in (context.query or ""):
            visit(document, _LiteralText())
        yield


def _check_value(value: object, path: str) -> None:
    if isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_value(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]")


def _check_text(value: str, field: str) -> None:
    try:
        validate_storable(value, field=field)
    except ValidationError as exc:
        raise BadUserInput(exc.message, field=exc.field) from None


class _LiteralText(Visitor):
    """Checks each string literal, named by the argument (and input fields) it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, node: ArgumentNode, *_: object) -> None:
        self.names.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_: object) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, node: ObjectFieldNode, *_: object) -> None:
        self.names.pop()

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        _check_text(node.value, ".".join(self.names) or "query")
