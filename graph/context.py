"""The typed per-request context: settings, sessionmaker, the viewer and the loaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config import Settings
from domain.apikeys import grants
from graph.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from graph.dataloaders import Loaders
    from graph.link_cache import LinkCache
    from jobs.click_stream import ClickAppender


@dataclass(frozen=True, slots=True)
class Viewer:
    account_id: uuid.UUID
    key_id: uuid.UUID
    scopes: frozenset[str]
    timezone: str


@dataclass
class Context:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: ArqRedis
    viewer: Viewer | None
    loaders: Loaders
    # The sessionmaker's engine in autocommit mode (db.engine.reads): a read of one statement
    # takes a connection for it, `async with ctx.engine.connect() as conn`.
    engine: AsyncEngine
    links: LinkCache | None = None
    clicks: ClickAppender | None = None
    request: Any = None
    response: Any = None
    # graph-transport-ws: the payload of the client's connection_init (graph.view reads the
    # key of a browser from it)
    connection_params: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def require(self, scope: str = "read") -> Viewer:
        if self.viewer is None:
            raise Unauthenticated("Send an API key: Authorization: Bearer <key>")
        if not grants(self.viewer.scopes, scope):
            raise Forbidden(f"This API key lacks the '{scope}' scope")
        return self.viewer
