"""arq tasks. Each opens its own session and is idempotent (arq may run a job twice)."""

from __future__ import annotations

import logging
from typing import Any

from db.retention import anonymise_old_ips

log = logging.getLogger("linkinsights.jobs")


async def anonymise_ips(ctx: dict[str, Any]) -> int:
    settings = ctx["settings"]
    total = 0
    while True:
        async with ctx["sessionmaker"]() as session, session.begin():
            changed = await anonymise_old_ips(session, older_than_days=settings.ip_retention_days)
        total += changed
        if changed == 0:
            break
    log.info("anonymised %d IP addresses older than %d days", total, settings.ip_retention_days)
    return total
