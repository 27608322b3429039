"""`viewer`: the caller's own account and key, so a client can read back its settings."""

from __future__ import annotations

import strawberry

from db import accounts as accounts_db
from domain.apikeys import grants
from graph.context import Context
from graph.errors import Unauthenticated
from graph.types.account import Account, KeyViewer


@strawberry.type
class AccountQueries:
    @strawberry.field(
        description="The API key's account (name, time zone, profile links, webhook URL; "
        "never the webhook secret) and the key's scopes."
    )
    async def viewer(self, info: strawberry.Info[Context, None]) -> KeyViewer:
        ctx = info.context
        viewer = ctx.require("read")
        async with ctx.sessionmaker() as session:
            row = await accounts_db.get_account(session, account_id=viewer.account_id)
        if row is None:
            raise Unauthenticated("This API key's account no longer exists")
        return KeyViewer(
            account=Account.from_row(row),
            scopes=sorted(viewer.scopes),
            can_write=grants(viewer.scopes, "write"),
        )
