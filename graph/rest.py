"""The REST paths of seed 000 (`/api/analytics/...`), answered by the GraphQL resolvers.

Each endpoint is a fixed GraphQL document executed through the schema with the request's API
key, exactly as a POST to /graphql would be: the same authentication, scopes, loaders, cache
and errors. Query parameters (seed names, snake_case) become the document's variables; the
field's data is returned with snake_case keys, as the seed's response examples have them.
Errors are JSON `{"error": {"code", "message", ...}}` with the HTTP status of their code.

The documents select every argument-free field of the returned type (to a bounded depth), and
`/api/openapi.json` is generated from the same walk of the same schema, so the document
describes what the server does (tests/test_rest.py checks that with schemathesis). Each
endpoint counts requests per API key and hour (seed 000: 100/h for the summary and the
link-function effectiveness, 200/h for application health; configurable).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from config import Settings
from graph.errors import (
    AppError,
    BadUserInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    service_unavailable,
    unavailable_service,
)
from graph.observability import REST_REQUESTS

log = logging.getLogger("linkinsights.rest")

T = TypeVar("T")

PREFIX = "/api/analytics"

HTTP_STATUS = {
    "BAD_USER_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
    "QUEUE_UNAVAILABLE": 503,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL_SERVER_ERROR": 500,
}

_FILTER_PARAMS = ("start_date", "end_date", "status")
_STATUSES = ("applied", "interview", "offer", "rejected", "withdrawn")


@dataclass(frozen=True)
class Endpoint:
    name: str  # the path after /api/analytics/
    summary: str
    root_field: str
    limit_setting: str
    method: str = "GET"
    filters: bool = False
    path_param: str | None = None  # {application_id}
    query_ints: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # default, lo, hi
    query_strings: tuple[str, ...] = ()
    body_input: str | None = None  # the GraphQL input type of a POST body
    # Fields of object types left out of the selection ("Type.field").
    exclude: frozenset[str] = frozenset()
    depth: int = 4  # levels of object fields selected

    @property
    def path(self) -> str:
        return f"{PREFIX}/{self.name}" + (f"/{{{self.path_param}}}" if self.path_param else "")


_NO_NESTED_APPLICATION = frozenset(
    {
        "Prediction.application",
        "Application.prediction",
        "Application.links",
        "Application.contacts",
        "Application.statusHistory",
        "Application.job",
    }
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "engagement-summary",
        "Overall engagement metrics across all applications",
        "engagementSummary",
        "rest_rate_limit_summary_per_hour",
        filters=True,
    ),
    Endpoint(
        "engagement-to-outcome",
        "Correlation between clicks and outcomes: outcomes by engagement level",
        "engagementSummary",
        "rest_rate_limit_summary_per_hour",
        filters=True,
        exclude=frozenset({"EngagementSummary.linkEffectiveness"}),
    ),
    Endpoint(
        "link-function-effectiveness",
        "Performance ranking of link types",
        "linkFunctionEffectiveness",
        "rest_rate_limit_effectiveness_per_hour",
        filters=True,
    ),
    Endpoint(
        "application-engagement",
        "Engagement of a single application",
        "application",
        "rest_rate_limit_default_per_hour",
        path_param="application_id",
        exclude=_NO_NESTED_APPLICATION,
    ),
    Endpoint(
        "behavioral-patterns",
        "Aggregate behavioural insights",
        "behavioralPatterns",
        "rest_rate_limit_default_per_hour",
        filters=True,
    ),
    Endpoint(
        "click-sequences",
        "Common click sequences and their interview rates",
        "clickSequences",
        "rest_rate_limit_default_per_hour",
        filters=True,
        query_ints={"first": (10, 1, 200)},
        query_strings=("after",),
    ),
    Endpoint(
        "timing-analysis",
        "Time-to-engagement analysis",
        "timingAnalysis",
        "rest_rate_limit_default_per_hour",
        filters=True,
    ),
    Endpoint(
        "application-health",
        "Health score and prediction for one application",
        "applicationHealth",
        "rest_rate_limit_health_per_hour",
        path_param="application_id",
        exclude=_NO_NESTED_APPLICATION - {"Prediction.application"},
    ),
    Endpoint(
        "predict-outcome",
        "Predict the outcome of engagement data",
        "predictOutcome",
        "rest_rate_limit_health_per_hour",
        method="POST",
        body_input="EngagementInput",
        exclude=frozenset({"Prediction.application"}),
    ),
    Endpoint(
        "high-priority-applications",
        "Applications needing immediate follow-up",
        "highPriorityApplications",
        "rest_rate_limit_default_per_hour",
        query_ints={"threshold": (70, 0, 100), "first": (20, 1, 200)},
        exclude=_NO_NESTED_APPLICATION,
    ),
)

# The GraphQL argument each REST input maps to, per root field.
_PATH_ARGUMENT = {"application": "id", "applicationHealth": "applicationId"}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake(k): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(v) for v in value]
    return value


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel(str(k)): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


# --- the documents and their JSON schemas, from one walk of the schema ------------------------


def _unwrap(kind: Any) -> tuple[Any, bool]:
    """The named type and whether the outer type is non-null."""
    if isinstance(kind, GraphQLNonNull):
        return kind.of_type, True
    return kind, False


_SCALARS: dict[str, dict[str, Any]] = {
    "Int": {"type": "integer"},
    "Float": {"type": "number"},
    "String": {"type": "string"},
    "Boolean": {"type": "boolean"},
    "ID": {"type": "string"},
    "DateTime": {"type": "string", "format": "date-time"},
    "Date": {"type": "string", "format": "date"},
    "JSON": {},
}


def _nullable(schema: dict[str, Any], non_null: bool) -> dict[str, Any]:
    return schema if non_null else {"anyOf": [schema, {"type": "null"}]}


def _output(kind: GraphQLOutputType, endpoint: Endpoint, depth: int) -> tuple[str, dict[str, Any]]:
    """(selection set text, JSON schema) of a value of `kind`."""
    inner, non_null = _unwrap(kind)
    if isinstance(inner, GraphQLList):
        selection, item = _output(inner.of_type, endpoint, depth)
        return selection, _nullable({"type": "array", "items": item}, non_null)
    if isinstance(inner, GraphQLEnumType):
        return "", _nullable({"type": "string", "enum": list(inner.values)}, non_null)
    if isinstance(inner, GraphQLScalarType):
        return "", _nullable(dict(_SCALARS.get(inner.name, {})), non_null)
    assert isinstance(inner, GraphQLObjectType), inner
    parts: list[str] = []
    properties: dict[str, Any] = {}
    for name, f in inner.fields.items():
        if f"{inner.name}.{name}" in endpoint.exclude or f.args:
            continue
        target, _ = _unwrap(f.type)
        while isinstance(target, GraphQLList | GraphQLNonNull):
            target = target.of_type
        if isinstance(target, GraphQLObjectType) and depth <= 1:
            continue
        sub, sub_schema = _output(f.type, endpoint, depth - 1)
        parts.append(f"{name} {{ {sub} }}" if sub else name)
        properties[snake(name)] = sub_schema
    schema = {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }
    return " ".join(parts), _nullable(schema, non_null)


def _input_schema(kind: GraphQLInputType) -> dict[str, Any]:
    inner, non_null = _unwrap(kind)
    if isinstance(inner, GraphQLList):
        return _nullable({"type": "array", "items": _input_schema(inner.of_type)}, non_null)
    if isinstance(inner, GraphQLEnumType):
        return _nullable({"type": "string", "enum": list(inner.values)}, non_null)
    if isinstance(inner, GraphQLScalarType):
        return _nullable(dict(_SCALARS.get(inner.name, {})), non_null)
    assert isinstance(inner, GraphQLInputObjectType), inner
    properties = {snake(n): _input_schema(f.type) for n, f in inner.fields.items()}
    required = sorted(
        snake(n)
        for n, f in inner.fields.items()
        if isinstance(f.type, GraphQLNonNull) and f.default_value is None
    )
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return _nullable(schema, non_null)


@dataclass(frozen=True)
class Compiled:
    endpoint: Endpoint
    document: str
    response_schema: dict[str, Any]


def _compile(gql: GraphQLSchema, endpoint: Endpoint) -> Compiled:
    query = gql.query_type
    assert query is not None
    root = query.fields[endpoint.root_field]
    variables: list[str] = []
    arguments: list[str] = []
    if endpoint.filters:
        variables.append("$filter: AnalyticsFilter")
        arguments.append("filter: $filter")
    if endpoint.path_param:
        argument = _PATH_ARGUMENT[endpoint.root_field]
        variables.append(f"${argument}: ID!")
        arguments.append(f"{argument}: ${argument}")
    for name in endpoint.query_ints:
        variables.append(f"${name}: Int!")
        arguments.append(f"{name}: ${name}")
    for name in endpoint.query_strings:
        variables.append(f"${name}: String")
        arguments.append(f"{name}: ${name}")
    if endpoint.body_input:
        variables.append(f"$input: {endpoint.body_input}!")
        arguments.append("input: $input")
    selection, schema = _output(root.type, endpoint, endpoint.depth)
    args = f"({', '.join(arguments)})" if arguments else ""
    # Named, so that the per-operation metrics tell the REST paths apart.
    operation = "Rest" + camel(endpoint.name.replace("-", "_"))[:1].upper()
    operation += camel(endpoint.name.replace("-", "_"))[1:]
    head = f"query {operation}" + (f"({', '.join(variables)})" if variables else "")
    field_text = f"{endpoint.root_field}{args}" + (f" {{ {selection} }}" if selection else "")
    document = f"{head} {{ {field_text} }}"
    if "anyOf" in schema:  # a null field is answered 404, never as a body
        schema = schema["anyOf"][0]
    return Compiled(endpoint, document, schema)


@functools.cache
def compiled(sdl: str) -> dict[str, Compiled]:
    gql = build_schema(sdl)
    return {e.name: _compile(gql, e) for e in ENDPOINTS}


# --- the OpenAPI document ---------------------------------------------------------------------

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "enum": sorted(HTTP_STATUS)},
                "message": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi(sdl: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the REST paths, from the same walk as their documents."""
    gql = build_schema(sdl)
    paths: dict[str, Any] = {}
    for c in compiled(sdl).values():
        e = c.endpoint
        parameters: list[dict[str, Any]] = []
        if e.path_param:
            parameters.append(
                {
                    "name": e.path_param,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                }
            )
        if e.filters:
            parameters += [
                {
                    "name": "start_date",
                    "in": "query",
                    "description": "Applications created at or after this instant.",
                    "schema": {"type": "string", "format": "date-time"},
                },
                {
                    "name": "end_date",
                    "in": "query",
                    "description": "Applications created at or before this instant.",
                    "schema": {"type": "string", "format": "date-time"},
                },
                {
                    "name": "status",
                    "in": "query",
                    "description": "Current status of the application.",
                    "schema": {"type": "string", "enum": list(_STATUSES)},
                },
            ]
        for name, (default, low, high) in e.query_ints.items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "default": default,
                        "minimum": low,
                        "maximum": high,
                    },
                }
            )
        for name in e.query_strings:
            parameters.append({"name": name, "in": "query", "schema": {"type": "string"}})
        limit_text = {
            "rest_rate_limit_summary_per_hour": "100",
            "rest_rate_limit_effectiveness_per_hour": "100",
            "rest_rate_limit_health_per_hour": "200",
        }.get(e.limit_setting, "100")
        operation: dict[str, Any] = {
            "operationId": camel(e.name.replace("-", "_")),
            "summary": e.summary,
            "description": f"Answered by the GraphQL field `{e.root_field}`. Rate limit: "
            f"{limit_text} requests per hour per API key by default (configurable).",
            "security": [{"apiKey": []}],
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "The figures",
                    "content": {"application/json": {"schema": c.response_schema}},
                },
                "400": _error("Invalid parameters (BAD_USER_INPUT)"),
                "401": _error("No, an unknown or a revoked API key (UNAUTHENTICATED)"),
                "403": _error("The key lacks the read scope (FORBIDDEN)"),
                "404": _error("No such application in this account (NOT_FOUND)"),
                "413": {
                    "description": "Request body too large (refused before any route sees it, "
                    "in the /graphql error shape)",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "429": _error("Rate limit exceeded (RATE_LIMITED); see Retry-After"),
            },
        }
        if e.body_input:
            input_type = gql.type_map[e.body_input]
            assert isinstance(input_type, GraphQLInputObjectType)
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _input_schema(input_type)}},
            }
        paths[e.path] = {e.method.lower(): operation}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "linkinsights analytics (seed 000 REST paths)",
            "version": "1",
            "description": "The same figures as the GraphQL API at /graphql, answered by the "
            "same resolvers. Keys of the responses are snake_case.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR_SCHEMA},
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }


# --- the handlers -----------------------------------------------------------------------------


def error_response(exc: AppError, *, status: int | None = None) -> Response:
    code = exc.extensions.get("code", "INTERNAL_SERVER_ERROR")
    body = {"error": {**exc.extensions, "code": code, "message": exc.message}}
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited | ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    response_status = status or HTTP_STATUS.get(code, 500)
    return Response(
        orjson.dumps(body),
        status_code=response_status,
        media_type="application/json",
        headers=headers,
    )


def _instant(raw: str, name: str) -> str:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadUserInput(f"`{name}` must be an ISO-8601 date-time", field=name) from exc
    if value.utcoffset() is None:
        raise BadUserInput(f"`{name}` needs a UTC offset (e.g. Z or +02:00)", field=name)
    return raw


def _variables(endpoint: Endpoint, request: Request, body: Any) -> dict[str, Any]:
    params = request.query_params
    variables: dict[str, Any] = {}
    if endpoint.filters:
        flt: dict[str, Any] = {}
        for name in ("start_date", "end_date"):
            if name in params:
                flt[camel(name)] = _instant(params[name], name)
        if "status" in params:
            status = params["status"].strip().lower()
            if status not in _STATUSES:
                raise BadUserInput(
                    f"`status` must be one of {', '.join(_STATUSES)}", field="status"
                )
            flt["status"] = status.upper()
        if flt:
            variables["filter"] = flt
    if endpoint.path_param:
        variables[_PATH_ARGUMENT[endpoint.root_field]] = request.path_params[endpoint.path_param]
    for name, (default, low, high) in endpoint.query_ints.items():
        raw = params.get(name)
        try:
            value = default if raw is None else int(raw)
        except ValueError as exc:
            raise BadUserInput(f"`{name}` must be an integer", field=name) from exc
        if not low <= value <= high:
            raise BadUserInput(f"`{name}` must be between {low} and {high}", field=name)
        variables[name] = value
    for name in endpoint.query_strings:
        if name in params:
            variables[name] = params[name]
    if endpoint.body_input:
        if not isinstance(body, dict):
            raise BadUserInput("The body must be a JSON object")
        variables["input"] = _camel_keys(body)
    return variables


async def _body(request: Request, endpoint: Endpoint) -> Any:
    if not endpoint.body_input:
        return None
    raw = await request.body()
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise BadUserInput("The body is not valid JSON") from exc


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


async def _in_turn(resources: Any, work: Awaitable[T]) -> T:
    """`work` once one of the process's GraphQL slots is free, as /graphql takes its turn
    (graph/view.py); RATE_LIMITED past GRAPHQL_QUEUE_TIMEOUT."""
    slots: asyncio.Semaphore | None = getattr(resources, "slots", None)
    if slots is None:
        return await work
    try:
        async with asyncio.timeout(resources.settings.graphql_queue_timeout):
            await slots.acquire()
    except TimeoutError:
        if inspect.iscoroutine(work):
            work.close()
        raise RateLimited("The server is busy; retry in a moment", retry_after=1) from None
    try:
        return await work
    finally:
        slots.release()


def make_routes(view: Any, schema: Any, settings: Settings) -> list[Route]:
    """The seed 000 routes and /api/openapi.json. `view` is the GraphQL view (its context
    and authentication), `schema` the Strawberry schema."""
    sdl = schema.as_str()
    documents = compiled(sdl)
    spec = orjson.dumps(openapi(sdl))

    async def openapi_json(request: Request) -> Response:
        return Response(spec, media_type="application/json")

    def handler(endpoint: Endpoint) -> Callable[[Request], Any]:
        compiled_endpoint = documents[endpoint.name]

        async def handle(request: Request) -> Response:
            response = await _handle(request)
            REST_REQUESTS.labels(endpoint=endpoint.name, status=str(response.status_code)).inc()
            return response

        async def _handle(request: Request) -> Response:
            try:
                body = await _body(request, endpoint)
                variables = _variables(endpoint, request, body)
                if not _finite(variables):
                    raise BadUserInput("Numbers must be finite")
                context = await view.get_context(request, Response())
                viewer = context.viewer
                if viewer is not None:
                    view.resources.limiter.hit(
                        bucket=f"rest:{endpoint.name}:{viewer.key_id}",
                        limit=getattr(settings, endpoint.limit_setting),
                        window_seconds=3600,
                    )
                result = await _in_turn(
                    view.resources,
                    schema.execute(
                        compiled_endpoint.document,
                        variable_values=variables,
                        context_value=context,
                    ),
                )
            except AppError as exc:
                return error_response(exc)
            except Exception as exc:
                # The API key lookup or the rate limit could not reach PostgreSQL or Redis.
                service = unavailable_service(exc)
                if service is None:
                    raise
                return error_response(service_unavailable(service))
            if result.errors:
                error = result.errors[0]
                original = error.original_error
                if isinstance(original, AppError):
                    return error_response(original)
                if original is not None and (service := unavailable_service(original)):
                    return error_response(service_unavailable(service))
                if original is None or isinstance(original, GraphQLError):
                    # Variables the schema refused (unknown fields, wrong types).
                    return error_response(BadUserInput(error.message))
                log.error(
                    "unhandled error in %s",
                    endpoint.path,
                    exc_info=(type(original), original, original.__traceback__),
                )
                return error_response(AppError("Internal server error"))
            data = (result.data or {}).get(endpoint.root_field)
            if data is None:
                return error_response(NotFound("No such application in this account"))
            return Response(orjson.dumps(_snake_keys(data)), media_type="application/json")

        return handle

    routes = [Route("/api/openapi.json", openapi_json)]
    for e in ENDPOINTS:
        path = e.path
        if e.path_param:
            # Any text up to the end, so a malformed id is a JSON 400, not a bare 404.
            path = path.replace(f"{{{e.path_param}}}", f"{{{e.path_param}:path}}")
        routes.append(Route(path, handler(e), methods=[e.method]))
    return routes
