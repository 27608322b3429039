"""The schema: per-area root types merged into Query and Mutation (STYLE 6)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types

from graph.extensions import OperationMetrics
from graph.resolvers.applications import ApplicationQueries
from graph.resolvers.jobs import JobMutations
from linkinsights.settings import get_settings

Query = merge_types("Query", (ApplicationQueries,))
Mutation = merge_types("Mutation", (JobMutations,))


def build_schema() -> strawberry.Schema:
    settings = get_settings()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            # Factories, so each request gets fresh extension state.
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            OperationMetrics,
        ],
    )


schema = build_schema()
