"""`GET /o/{tracking_id}.gif` (issue 17): the open pixel of an email to a contact.

The answer is always the same 1x1 transparent GIF with `Cache-Control: no-store` (so every
open fetches it again): an unknown id, a database that is down or slow, or any error in
recording never fails the image, and the response tells nothing about the id.

The open goes the way of a click (SPEC §3.1): appended to the click pipeline's Redis Stream as
an entry of kind "open" (or to its spool file while Redis does not answer) before the image is
sent, and written to PostgreSQL by the flusher (jobs/flusher.py, with db.email.insert_opens);
the image never waits on PostgreSQL. The request-level machine verdict (mail privacy proxy,
image proxy: domain/email.py) is decided here, before a Do-Not-Track request's address and
user agent are dropped; the open then counts without them. The event id is a UUIDv7 made at
the request, and the insert is idempotent on it (an entry delivered twice is stored once).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from db.email import PixelOpen
from domain.email import classify_fetch
from domain.ids import uuid7
from graph.track import parse_ip
from jobs.click_stream import ClickAppender

log = logging.getLogger("linkinsights.pixel")

#: A 1x1 transparent GIF (GIF89a, one-entry palette, a graphic control extension marking
#: colour 0 transparent), 43 bytes.
GIF: Final = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00"
    b"\x02\x02D\x01\x00;"
)
HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_TRACKING_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,100}")
_MAX_USER_AGENT: Final = 2000


def pixel_open(request: Request, tracking_id: str) -> PixelOpen | None:
    """What the request tells about the open; None for an id that cannot exist."""
    if not _TRACKING_ID.fullmatch(tracking_id):
        return None
    headers = request.headers
    agent = (headers.get("user-agent") or "").replace("\x00", "").strip()[:_MAX_USER_AGENT]
    user_agent = agent or None
    # Behind a trusted proxy, the server's proxy-header middleware has put the forwarded
    # address in the peer (as for /track).
    ip = parse_ip(request.client.host if request.client else None)
    dnt = (headers.get("dnt") or "").strip() == "1"
    verdict = classify_fetch(user_agent=user_agent, ip_address=ip)
    return PixelOpen(
        event_id=uuid7(),
        tracking_id=tracking_id,
        opened_at=datetime.now(UTC),
        user_agent=None if dnt else user_agent,
        ip_address=None if dnt else ip,
        is_machine=verdict.is_machine,
        machine_reason=verdict.reason,
        dnt=dnt,
    )


class Pixel:
    """The Starlette endpoint; `appender` (the click pipeline's) is set in the lifespan."""

    def __init__(self) -> None:
        self.appender: ClickAppender | None = None

    async def endpoint(self, request: Request) -> Response:
        try:
            found = pixel_open(request, request.path_params["tracking_id"])
            if found is not None and self.appender is not None and request.method == "GET":
                # Durable before the image, as a click before its 302: in the Redis Stream,
                # or in the spool when Redis does not answer; the flusher writes it.
                await self.appender.append_open(found)
        except Exception:
            log.exception("could not record an email open")
        return Response(GIF, media_type="image/gif", headers=HEADERS)
