"""FastLeafExecutionContext (graph/execution.py) answers exactly as Strawberry's own context.

Every document runs twice on the same data, once with the fast context and once with
Strawberry's stock one, and the answers must be equal: the HTTP bodies byte for byte for the
API, `data` and the formatted errors for a schema over tampered application objects (nulls in
non-null fields, values the serializers reject, exceptions and awaitables as values). A
counter shows that the shortcut was taken, so removing it fails the tests too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NewType

import graphql
import httpx
import pytest
import strawberry
from analytics_fixtures import AppSpec, create_account_with_key, create_applications
from graphql import GraphQLObjectType
from graphql.pyutils import Undefined
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from db.applications import applications_by_ids, jobs_by_ids
from db.tables import job_applications
from graph.dataloaders import Loaders
from graph.execution import FastLeafExecutionContext, leaf_plan, object_plan
from graph.schema import schema as api_schema
from graph.types.application import Application, Job

Stock = StrawberryGraphQLCoreExecutionContext
T0 = datetime(2025, 4, 7, 8, 30, tzinfo=UTC)


@contextmanager
def counted() -> Iterator[list[int]]:
    """Yields [n]: the leaf fields the shortcut completed inside the block."""
    before = FastLeafExecutionContext.leaf_fields_completed
    out = [0]
    try:
        yield out
    finally:
        out[0] = FastLeafExecutionContext.leaf_fields_completed - before


@dataclass(frozen=True)
class Seeded:
    key: str
    account_id: uuid.UUID
    ids: list[uuid.UUID]


@pytest.fixture(scope="module")
async def seeded(sessionmaker: async_sessionmaker[AsyncSession]) -> Seeded:
    """Four applications: clicked and not (null timestamps), every status kind, two titles."""
    account_id, key = await create_account_with_key(sessionmaker)
    specs = [
        AppSpec(T0, status="applied"),
        AppSpec(T0 + timedelta(days=1), status="interview", job_title="Data engineer"),
        AppSpec(T0 + timedelta(days=2), status="offer", history=("applied", "offer")),
        AppSpec(T0 + timedelta(days=3), status="rejected"),
    ]
    async with sessionmaker() as session, session.begin():
        ids = await create_applications(session, account_id, specs)
        for i, app_id in enumerate(ids[:2]):
            await session.execute(
                update(job_applications)
                .where(job_applications.c.id == app_id)
                .values(
                    first_click_timestamp=T0 + timedelta(hours=3 + i),
                    last_click_timestamp=T0 + timedelta(days=1, microseconds=250 + i),
                    total_clicks=7 + i,
                    unique_click_sessions=2,
                    most_clicked_link_function="Calendly",
                    engagement_score=81 - i,
                    is_high_priority=True,
                )
            )
    return Seeded(key, account_id, ids)


# --- The API's own schema, over HTTP -----------------------------------------------------

PAGE = """
{ applications(first: 100) { totalCount edges { node {
  id status createdAt updatedAt firstClickTimestamp lastClickTimestamp totalClicks
  uniqueClickSessions mostClickedLinkFunction engagementScore isHighPriority job { title }
} } } }"""

ALIASES = """
{ applications(first: 10, orderBy: APPLIED_AT_ASC) { __typename edges { __typename node {
  __typename a: id b: id id s: status status when: createdAt
  clicks: totalClicks total: totalClicks job { __typename t: title title }
} } } }"""

FRAGMENTS = """
query Page { applications(first: 10) { ...Conn } }
fragment Conn on ApplicationConnection {
  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { ...App ... on Application { status totalClicks id } } }
}
fragment App on Application {
  id status updatedAt lastClickTimestamp
  job { ... on Job { id title company url location createdAt } ...JobTitle }
}
fragment JobTitle on Job { title }
"""

DIRECTIVES = """
query ($yes: Boolean!, $no: Boolean!) { applications(first: 10) { edges { node {
  id
  status @include(if: $yes)
  createdAt @include(if: $no)
  totalClicks @skip(if: $yes)
  engagementScore @skip(if: $no)
  ... on Application @include(if: $yes) { isHighPriority }
  ... on Application @skip(if: $yes) { uniqueClickSessions }
} } } }"""

NESTED_LISTS = """
{ applications(first: 10) { edges { node {
  id
  statusHistory { status changedAt }
  links { trackingId linkFunction linkType isActive description createdAt job { id } }
  engagement { engagementScore clickSequence }
} } } }"""

ONE = """
query ($id: ID!) { application(id: $id) {
  id status createdAt job { id title company }
  links { trackingId linkFunction isActive }
  clicks(first: 5) { totalCount edges { node { clickedAt } } }
} }"""

MISSING = """
query ($id: ID!) { application(id: $id) { id status } }"""

# (document, variables, leaf fields the shortcut completes: at least this many)
API_CASES = {
    "page": (PAGE, {}, 4 * 12),
    "aliases": (ALIASES, {}, 4 * 9),
    "fragments": (FRAGMENTS, {}, 4 * 12),
    "directives": (DIRECTIVES, {"yes": True, "no": False}, 4 * 4),
    "nested_lists": (NESTED_LISTS, {}, 4 * 4),
    "one": (ONE, None, 6),
    "missing": (MISSING, {"id": str(uuid.UUID(int=1))}, 0),
}


@contextmanager
def execution_context(cls: type[Any]) -> Iterator[None]:
    saved = api_schema.execution_context_class
    api_schema.execution_context_class = cls
    try:
        yield
    finally:
        api_schema.execution_context_class = saved


def test_the_api_schema_uses_the_fast_context() -> None:
    assert api_schema.execution_context_class is FastLeafExecutionContext
    assert issubclass(FastLeafExecutionContext, Stock)
    # FastLeafExecutionContext.execute_fields copies this version's loop: on an upgrade,
    # compare it with Executor.execute_fields (and execute_field, complete_value) again.
    assert graphql.__version__ == "3.3.2"


@pytest.mark.parametrize("case", list(API_CASES))
async def test_api_answers_are_byte_identical_to_strawberrys(
    case: str, seeded: Seeded, client: httpx.AsyncClient
) -> None:
    key, ids = seeded.key, seeded.ids
    query, variables, min_fast = API_CASES[case]
    if variables is None:
        variables = {"id": str(ids[1])}

    async def post() -> bytes:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        return response.content

    with counted() as fast_count:
        fast = await post()
    with execution_context(Stock), counted() as stock_count:
        stock = await post()

    assert fast == stock
    assert b'"errors"' not in fast
    assert fast_count[0] >= min_fast
    assert stock_count[0] == 0


# --- Tampered objects of the API's types: errors, null propagation -----------------------


def _serialize_odd(value: int) -> int | None:
    """0 serializes to null, -99 raises (division by zero), other negatives are mapped."""
    if value == 0:
        return None
    return 100 // (value + 99) if value < 0 else value


Odd = NewType("Odd", int)
CONFIG = StrawberryConfig(
    scalar_map={Odd: strawberry.scalar(name="Odd", serialize=_serialize_odd, parse_value=int)}
)


@strawberry.type
class Probe:
    odd: Odd | None = None
    odd_required: Odd = Odd(1)
    anything: JSON | None = None  # serialized as is: the checks before coercion must hold


@strawberry.type
class Root:
    applications: list[Application | None]
    application: Application | None
    required: Application
    jobs: list[list[Job | None]]
    probes: list[Probe | None]
    # Object fields the shortcut must hand back: an awaitable object, a returned exception.
    later: Application | None = None
    broken: Application | None = None
    missing: Application = None  # type: ignore[assignment]  # null in a non-null field
    # List items the item shortcut must hand back, and errors bubbling through a list.
    items: list[Application | None] = strawberry.field(default_factory=list)
    required_items: list[Application] = strawberry.field(default_factory=list)


class Later:
    """An awaitable value (not a coroutine: one never awaited would warn)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # a generator: `await Later(x)` is x


def tamper(apps: list[Application]) -> None:
    """Values the standard path must handle: the shortcut has to hand these back to it."""
    a = apps[0]  # errors on non-null fields null the item
    a.total_clicks = None  # type: ignore[assignment]
    assert isinstance(a.job, Job)
    a.job.title = None  # type: ignore[assignment]  # nulls the job in `jobs`
    b = apps[1]
    b.engagement_score = 2**40  # Int cannot represent it
    c = apps[2]  # errors on nullable fields: the item survives
    c.last_click_timestamp = "yesterday"  # type: ignore[assignment]  # serializer raises
    c.most_clicked_link_function = ValueError("returned, not raised")  # type: ignore[assignment]
    c.status = "offer"  # type: ignore[assignment]  # the value, not the enum member
    c.is_high_priority = Later(True)  # type: ignore[assignment]  # awaitable
    c.first_click_timestamp = Later(None)  # type: ignore[assignment]
    c.id = 12345  # type: ignore[assignment]  # an ID from an int
    d = apps[3]  # no error
    d.most_clicked_link_function = 42  # type: ignore[assignment]  # String from an int
    d.unique_click_sessions = True  # an Int from a bool: 1, not the bool
    d.total_clicks = 2**31 - 1  # the largest Int, itself
    d.first_click_timestamp = T0
    assert isinstance(d.job, Job)
    d.job.company = Undefined  # type: ignore[assignment]  # null, no error


TAMPERED = """
fragment F on Application {
  id status createdAt updatedAt firstClickTimestamp lastClickTimestamp totalClicks
  uniqueClickSessions mostClickedLinkFunction engagementScore isHighPriority
  job { id title company createdAt }
}
query Page { applications { ...F again: totalClicks n: __typename } jobs { title id } }
query One { application { ...F } }
query Required { required { id totalClicks } application { id } }
query Probes { probes { odd oddRequired anything } }
query Objects { later { id totalClicks } broken { id } application { id } }
query Missing { application { id } missing { id } }
query Items { items { id totalClicks } }
query RequiredItems { application { id } requiredItems { id totalClicks } }
"""

PROBES = [Probe(odd=Odd(5)), Probe(odd=Odd(0)), Probe(odd=Odd(-99)), Probe(odd_required=Odd(0))]
PROBES += [Probe(odd=Odd(-3), odd_required=Odd(-99)), None, Probe(anything={"k": ["v", 1]})]
PROBES += [Probe(anything=Later({"k": 2})), Probe(anything=ValueError("a value"))]
PROBES += [Probe(anything=Later(ValueError("awaited"))), Probe(anything=Undefined)]


async def _objects(sessionmaker: async_sessionmaker[AsyncSession], seeded: Seeded) -> Root:
    """The seeded applications and jobs, read from the database, then tampered."""
    account_id, ids = seeded.account_id, seeded.ids
    async with sessionmaker() as session:
        by_id = await applications_by_ids(session, account_id=account_id, ids=ids)
        jobs = await jobs_by_ids(
            session, account_id=account_id, ids=[r.job_id for r in by_id.values() if r.job_id]
        )
    apps = []
    for app_id in ids:
        app = Application(row=by_id[app_id], loaders=Loaders.create(sessionmaker, account_id))
        assert app.row.job_id is not None
        app.job = Job(row=jobs[app.row.job_id])  # as a page preloads it
        apps.append(app)
    tamper(apps)
    job_list = [app.job for app in apps]
    return Root(
        applications=[*apps, None],
        application=apps[0],
        required=apps[0],
        jobs=[job_list, [None, *job_list[:2]], []],
        probes=PROBES,
        later=Later(apps[3]),  # type: ignore[arg-type]
        items=[apps[3], None, Undefined, ValueError("an item"), Later(apps[3]), apps[0]],  # type: ignore[list-item]
        required_items=[apps[3], apps[0]],  # apps[0]: a null in a non-null field
        broken=ValueError("an application that failed"),  # type: ignore[arg-type]
    )


def _schema(execution_context_class: type[Any], *extensions: Any) -> strawberry.Schema:
    return strawberry.Schema(
        query=Root,
        types=[Probe],
        execution_context_class=execution_context_class,
        extensions=list(extensions),
        config=CONFIG,
    )


async def _run(
    schema: strawberry.Schema, root: Root, operation: str
) -> tuple[Any, list[dict[str, Any]], list[type[BaseException] | None]]:
    result = await schema.execute(TAMPERED, root_value=root, operation_name=operation)
    errors = result.errors or []
    kinds = [type(e.original_error) if e.original_error else None for e in errors]
    return result.data, [e.formatted for e in errors], kinds


class Passthrough(SchemaExtension):
    """A resolve hook: graphql-core then wraps every resolver, so the shortcut must be off."""

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        return _next(root, info, *args, **kwargs)


@pytest.mark.parametrize(
    "operation",
    ["Page", "One", "Required", "Probes", "Objects", "Missing", "Items", "RequiredItems"],
)
async def test_errors_paths_and_null_propagation_match_strawberrys(
    operation: str,
    seeded: Seeded,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with counted() as fast_count:
        fast = await _run(
            _schema(FastLeafExecutionContext), await _objects(sessionmaker, seeded), operation
        )
    with counted() as stock_count:
        stock = await _run(_schema(Stock), await _objects(sessionmaker, seeded), operation)
    with counted() as wrapped_count:
        wrapped = await _run(
            _schema(FastLeafExecutionContext, Passthrough),
            await _objects(sessionmaker, seeded),
            operation,
        )

    assert fast == stock
    assert wrapped == stock
    assert stock[1], "every operation has errors"
    assert fast_count[0] > 0
    assert stock_count[0] == 0
    assert wrapped_count[0] == 0


async def test_the_tampered_page_has_the_expected_errors(
    seeded: Seeded, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A sanity check on the cases above: each tampered value produced its error."""
    data, errors, _ = await _run(
        _schema(FastLeafExecutionContext), await _objects(sessionmaker, seeded), "Page"
    )
    by_path = {tuple(e["path"]): e["message"] for e in errors}
    assert by_path[("applications", 0, "totalClicks")] == (
        "Cannot return null for non-nullable field Application.totalClicks."
    )
    assert ("applications", 1, "engagementScore") in by_path
    assert by_path[("applications", 2, "lastClickTimestamp")] == (
        "'str' object has no attribute 'isoformat'"
    )
    assert by_path[("applications", 2, "mostClickedLinkFunction")] == "returned, not raised"
    assert ("jobs", 0, 0, "title") in by_path
    assert ("jobs", 1, 1, "title") in by_path
    assert len(errors) == 6
    assert data["jobs"][0][0] is None
    assert data["jobs"][1][:2] == [None, None]
    apps = data["applications"]
    assert [apps[0], apps[1], apps[4]] == [None, None, None]  # nulled items, and a null
    assert apps[2]["id"] == "12345"
    assert apps[2]["isHighPriority"] is True
    assert apps[2]["status"] == "OFFER"
    assert apps[2]["firstClickTimestamp"] is None
    assert apps[2]["lastClickTimestamp"] is None
    assert apps[2]["mostClickedLinkFunction"] is None
    assert apps[3]["firstClickTimestamp"] == T0.isoformat()
    assert apps[3]["mostClickedLinkFunction"] == "42"
    assert apps[3]["uniqueClickSessions"] == 1
    assert type(apps[3]["uniqueClickSessions"]) is int
    assert apps[3]["totalClicks"] == 2**31 - 1
    assert apps[3]["job"]["company"] is None


# --- Which fields take the shortcut -------------------------------------------------------


class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Guarded:
    plain: int = 1
    guarded: int = strawberry.field(default=2, permission_classes=[Never])

    @strawberry.field
    def computed(self) -> int:
        return 3


@strawberry.type
class GuardedRoot:
    item: Guarded


def _type(schema: strawberry.Schema, name: str) -> GraphQLObjectType:
    graphql_type = schema._schema.get_type(name)
    assert isinstance(graphql_type, GraphQLObjectType)
    return graphql_type


def test_only_basic_leaf_fields_have_a_plan() -> None:
    core = api_schema._schema
    application = _type(api_schema, "Application")
    for name in ("id", "status", "createdAt", "lastClickTimestamp", "totalClicks"):
        assert leaf_plan(core, application, name) is not None, name
    plan = leaf_plan(core, application, "totalClicks")
    assert plan is not None
    assert (plan.attribute, plan.non_null) == ("total_clicks", True)
    plan = leaf_plan(core, application, "mostClickedLinkFunction")
    assert plan is not None
    assert not plan.non_null
    # Object, list and argument-taking fields, resolvers, the meta field: standard path.
    for name in ("job", "links", "statusHistory", "clicks", "__typename", "nope"):
        assert leaf_plan(core, application, name) is None, name
    # A plain attribute of an object type has an object plan; a resolver does not.
    node = object_plan(core, _type(api_schema, "ApplicationEdge"), "node")
    assert node is not None
    assert (node.object_type.name, node.non_null, node.plain_class) == (
        "Application",
        True,
        Application,
    )
    job = object_plan(core, application, "job")  # a plain attribute (maybe a Deferred load)
    assert job is not None
    assert (job.object_type.name, job.non_null) == ("Job", False)
    for name in ("links", "engagement", "totalClicks"):
        assert object_plan(core, application, name) is None, name

    schema = strawberry.Schema(query=GuardedRoot, execution_context_class=FastLeafExecutionContext)
    guarded = _type(schema, "Guarded")
    assert leaf_plan(schema._schema, guarded, "plain") is not None
    assert leaf_plan(schema._schema, guarded, "guarded") is None  # extension, no resolver
    assert leaf_plan(schema._schema, guarded, "computed") is None


async def test_a_permission_on_a_plain_attribute_is_still_checked() -> None:
    schema = strawberry.Schema(query=GuardedRoot, execution_context_class=FastLeafExecutionContext)
    result = await schema.execute(
        "{ item { plain guarded } }", root_value=GuardedRoot(item=Guarded())
    )
    assert result.data is None
    assert [e.message for e in result.errors or []] == ["never"]
