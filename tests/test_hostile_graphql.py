"""Generated hostile GraphQL: every query and mutation of the schema, with hostile values.

hypothesis-graphql builds operations from `schema.graphql`: valid ones (Mode.POSITIVE, with
NUL characters, any Unicode, extreme numbers, nulls) and ones with one schema violation each
(Mode.NEGATIVE), plus dates at and beyond the edges of what Python and PostgreSQL hold. Each
must get a clear answer: no 5xx, no INTERNAL_SERVER_ERROR, every error with a code, and an
answer at all within REQUEST_TIMEOUT seconds (a hang fails the request, it is not a timing).

HOSTILE_CASES (default 200) sets the number of generated operations, e.g.
`HOSTILE_CASES=5000 pytest tests/test_hostile_graphql.py`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from factories import create_account, create_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
SDL = (ROOT / "schema.graphql").read_text()
CASES = int(os.environ.get("HOSTILE_CASES", "200"))
REQUEST_TIMEOUT = 5.0
CODES = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "FORBIDDEN",
    "UNAUTHENTICATED",
    "RATE_LIMITED",
    "QUEUE_UNAVAILABLE",
    "SERVICE_UNAVAILABLE",
}

EDGE_INSTANTS = [
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59.999999-14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "1899-12-31T23:59:59Z",
    "1900-01-01T00:00:00Z",
    "2026-01-01",
    "2026-01-01T00:00:00",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "8999-12-31T23:59:59-12:00",
    "",
    "now",
]


def _instants() -> st.SearchStrategy[Any]:
    generated = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
    return st.one_of(st.sampled_from(EDGE_INSTANTS), generated, st.text(max_size=30)).map(
        nodes.String
    )


def _json() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.text(max_size=20).map(nodes.String),
        st.integers(min_value=-(2**70), max_value=2**70).map(nodes.Int),
        st.booleans().map(nodes.Boolean),
        st.just(nodes.Null),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4).map(nodes.List),
            st.dictionaries(
                st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), children, max_size=4
            ).map(lambda d: nodes.Object([_object_field(k, v) for k, v in d.items()])),
        ),
        max_leaves=8,
    )


def _object_field(name: str, value: Any) -> graphql.ObjectFieldNode:
    return graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)


SCALARS = {
    "DateTime": _instants(),
    "Date": st.one_of(
        st.sampled_from(["9999-12-31", "0001-01-01", "2026-02-30", "x"]),
        st.dates().map(str),
    ).map(nodes.String),
    "JSON": _json(),
}

_PARSED = graphql.build_schema(SDL)
_ROOTS = {
    name: field
    for root in (_PARSED.query_type, _PARSED.mutation_type)
    if root is not None
    for name, field in root.fields.items()
}
ROOT_FIELDS = sorted(_ROOTS)
BUILT_IN = {"Int", "Float", "String", "ID", "Boolean"}


def _violable(type_: graphql.GraphQLInputType, depth: int = 0) -> bool:
    """Whether NEGATIVE mode has something to break in an argument of this type."""
    if isinstance(type_, graphql.GraphQLNonNull):
        return True
    if isinstance(type_, graphql.GraphQLList):
        return _violable(type_.of_type, depth)
    if isinstance(type_, graphql.GraphQLScalarType):
        return type_.name in BUILT_IN
    if isinstance(type_, graphql.GraphQLInputObjectType) and depth < 3:
        return any(_violable(f.type, depth + 1) for f in type_.fields.values())
    return False


def _strategy(name: str) -> st.SearchStrategy[str]:
    positive = from_schema(SDL, fields=[name], custom_scalars=SCALARS, mode=Mode.POSITIVE)
    if not any(_violable(arg.type) for arg in _ROOTS[name].args.values()):
        return positive
    negative = from_schema(SDL, fields=[name], custom_scalars=SCALARS, mode=Mode.NEGATIVE)
    return st.one_of(positive, negative)


# One strategy per root field, drawn from evenly: left alone, Hypothesis spends most cases on
# the few fields whose arguments it finds interesting.
_BY_FIELD = {name: _strategy(name) for name in ROOT_FIELDS}

# Strings PostgreSQL or the code around it have refused before: NUL, direction overrides,
# escapes of lone surrogates (printed by graphql-core as \uXXXX escapes), ids that look almost
# right, very long ones.
HOSTILE_STRINGS = st.one_of(
    st.sampled_from(["\x00", "\u202e\x00", "lt_\x00x"]),
    st.sampled_from(
        [
            "\u202e\u0000",
            "lt_\x00",
            "\x00",
            "a\x00b",
            "\ufeff",
            "\U0010ffff",
            "lt_",
            "lt_%00",
            "00000000-0000-0000-0000-000000000000",
            "' OR 1=1 --",
            "javascript:alert(1)",
            "https://169.254.169.254/latest/meta-data/",
            "x" * 10_000,
        ]
    ),
    st.text(st.characters(codec="utf-8", min_codepoint=0), max_size=40),
)


@st.composite
def operations(draw: st.DrawFn) -> str:
    """A generated operation of one root field, some of its strings made hostile."""
    field = draw(st.sampled_from(ROOT_FIELDS))
    document = graphql.parse(draw(_BY_FIELD[field]))

    class Hostile(graphql.Visitor):
        def enter_string_value(
            self, node: graphql.StringValueNode, *_: object
        ) -> graphql.StringValueNode | None:
            if draw(st.integers(0, 3)):  # three in four
                return graphql.StringValueNode(value=draw(HOSTILE_STRINGS))
            return None  # unchanged

    return graphql.print_ast(graphql.visit(document, Hostile()))


OPERATIONS = operations()


@pytest.fixture(scope="module")
async def hostile_key(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """One account for every generated case (admin scope too: nothing refused for scope)."""
    account = await create_account(
        sessionmaker, name="Hostile input", timezone="Pacific/Kiritimati"
    )
    return await create_key(sessionmaker, account, ("read", "write", "admin"))


def check(response: httpx.Response, query: str) -> None:
    assert response.status_code < 500, (response.status_code, query, response.text)
    body = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in CODES, (code, error, query)


@settings(
    max_examples=CASES,
    deadline=None,
    derandomize=CASES <= 200,  # the bounded run in `make test` is the same every time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(query=OPERATIONS)
async def test_generated_operations_get_clear_answers(
    client: httpx.AsyncClient, hostile_key: str, query: str
) -> None:
    async with asyncio.timeout(REQUEST_TIMEOUT):
        response = await client.post(
            "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {hostile_key}"},
        )
    check(response, query)


@settings(max_examples=max(20, CASES // 10), deadline=None, derandomize=CASES <= 200)
@given(body=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode)))
async def test_arbitrary_bodies_get_clear_answers(
    client: httpx.AsyncClient, hostile_key: str, body: bytes
) -> None:
    async with asyncio.timeout(REQUEST_TIMEOUT):
        response = await client.post(
            "/graphql",
            content=body,
            headers={
                "Authorization": f"Bearer {hostile_key}",
                "Content-Type": "application/json",
            },
        )
    assert response.status_code in (200, 400), (response.status_code, body, response.text)
    check(response, repr(body))
