"""The schema: per-area root types merged into Query and Mutation (STYLE 6)."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from graph.extensions import OperationMetrics
from graph.resolvers.analytics import AnalyticsQueries
from graph.resolvers.analytics_jobs import AnalyticsJobMutations, AnalyticsJobQueries
from graph.resolvers.applications import ApplicationQueries
from graph.resolvers.ingestion import IngestionMutations, IngestionQueries
from graph.resolvers.jobs import JobMutations
from graph.resolvers.predictions import PredictionMutations, PredictionQueries
from linkinsights.settings import get_settings

Query = merge_types(
    "Query",
    (
        ApplicationQueries,
        AnalyticsQueries,
        PredictionQueries,
        IngestionQueries,
        AnalyticsJobQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (JobMutations, PredictionMutations, IngestionMutations, AnalyticsJobMutations),
)


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are not server errors: the view logs the unexpected ones, once."""


def build_schema() -> strawberry.Schema:
    settings = get_settings()
    return Schema(
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
