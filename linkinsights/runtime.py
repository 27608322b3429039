"""Resolving the services a command needs: configured URLs, or the embedded default."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from config import Settings
from linkinsights.embedded import Services, start_services


@contextlib.contextmanager
def services(settings: Settings) -> Iterator[tuple[Settings, Services]]:
    """Yield settings with both URLs filled in; stop what this process started."""
    svc = start_services(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        data_dir=settings.data_dir,
    )
    try:
        yield (
            settings.model_copy(
                update={"database_url": svc.database_url, "redis_url": svc.redis_url}
            ),
            svc,
        )
    finally:
        svc.stop()
