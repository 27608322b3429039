"""Relay connections (SPEC §7): edges, pageInfo, totalCount, opaque keyset cursors."""

from __future__ import annotations

import base64
from typing import Generic, TypeVar

import orjson
import strawberry

from graph.errors import BadUserInput

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


def encode_cursor(values: list[object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, *, length: int) -> list[object]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadUserInput("`after` is not a cursor this API returned", field="after") from exc
    if not isinstance(values, list) or len(values) != length:
        raise BadUserInput("`after` is not a cursor for this list and order", field="after")
    return values


def check_first(first: int, *, maximum: int) -> int:
    if first < 0:
        raise BadUserInput("`first` must be 0 or more", field="first")
    if first > maximum:
        raise BadUserInput(f"`first` is at most {maximum}; page with `after`", field="first")
    return first


def build_connection(
    nodes: list[T], cursors: list[str], *, first: int, total_count: int, has_previous: bool
) -> Connection[T]:
    has_next = len(nodes) > first
    nodes, cursors = nodes[:first], cursors[:first]
    return Connection(
        edges=[Edge(cursor=c, node=n) for n, c in zip(nodes, cursors, strict=True)],
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        total_count=total_count,
    )
