"""The schema: per-area root types merged into Query and Mutation (STYLE 6)."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from config import get_settings
from graph.extensions import AggregateCacheInvalidation, OperationMetrics, StorableText
from graph.resolvers.accounts import AccountQueries
from graph.resolvers.analytics import AnalyticsQueries
from graph.resolvers.analytics_jobs import AnalyticsJobMutations, AnalyticsJobQueries
from graph.resolvers.application_analytics import ApplicationAnalyticsQueries
from graph.resolvers.applications import ApplicationQueries
from graph.resolvers.email import EmailQueries
from graph.resolvers.ingestion import IngestionMutations, IngestionQueries
from graph.resolvers.jobs import JobMutations
from graph.resolvers.live import LiveSubscriptions
from graph.resolvers.predictions import PredictionMutations, PredictionQueries
from graph.scalars import SCALAR_OVERRIDES

Query = merge_types(
    "Query",
    (
        ApplicationQueries,
        AnalyticsQueries,
        ApplicationAnalyticsQueries,
        PredictionQueries,
        IngestionQueries,
        AnalyticsJobQueries,
        AccountQueries,
        EmailQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (JobMutations, PredictionMutations, IngestionMutations, AnalyticsJobMutations),
)

Subscription = merge_types("Subscription", (LiveSubscriptions,))


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are not server errors: the view logs the unexpected ones, once."""


def build_schema() -> strawberry.Schema:
    settings = get_settings()
    # The depth and alias limits are validation rules. Their rule classes are made once, so
    # the validation cache below can key on them: a limiter made per request would bring a
    # new rule class each time and the cache would never hit.
    limit_rules = (
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    )
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=[
            # Factories, so each request gets fresh extension state.
            lambda: AddValidationRules(list(limit_rules)),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            OperationMetrics,
            AggregateCacheInvalidation,
            StorableText,
            # Clients send the same few documents again and again: parsing and validating
            # one costs several milliseconds, a cache hit almost nothing.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
        ],
    )


schema = build_schema()
