"""`GET`/`HEAD /track/{tracking_id}` answered as raw ASGI, in front of the Starlette app.

Why: every tracked link goes through this redirect, and most of its cost was the generic path
(uvicorn to Starlette's middleware classes, Request and Response objects, header parsing,
routing), not the work itself (README, "Measurements behind the code"). Here a request goes
from the ASGI scope to `Tracker.answer` (graph.track, the same code the Starlette route
adapts) and back to two `send` calls.

What the middleware does for these requests is done here, the same way:
- RequestIdMiddleware: an X-Request-ID kept when sane or made, set for the log lines written
  while answering, sent as the last header; `linkinsights_http_requests_total` counted with
  route "/track" once the response is sent; no access log line, as
  the middleware writes none for /track.
- ServerErrorMiddleware: an unexpected exception answers a plain 500 if nothing was sent yet,
  and is raised on to the server, which logs it.
Every request Starlette would answer another way is left to it, unchanged: other scope types
(lifespan) and paths, other methods (405), /track/health, an empty id or one with a '/'
(Starlette's 404 or its trailing-slash redirect), a root path, and a Content-Length over the
body limit (BodyLimitMiddleware's 413).
"""

from __future__ import annotations

import uuid
from typing import Final

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from graph.observability import HTTP_REQUESTS, counter_child, request_id_var
from graph.track import Tracker, query_of

_METHODS: Final = ("GET", "HEAD")
_PREFIX: Final = "/track/"
_HEALTH: Final = "/track/health"


class TrackFastPath:
    """An ASGI app that answers /track redirects itself and passes the rest to `app`."""

    def __init__(self, app: ASGIApp, *, tracker: Tracker, max_body_bytes: int) -> None:
        self.app = app
        self.tracker = tracker
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        tracking_id = path[len(_PREFIX) :]
        if (
            not path.startswith(_PREFIX)
            or not tracking_id
            or "/" in tracking_id
            or path == _HEALTH
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        # As RequestIdMiddleware and BodyLimitMiddleware read them: a repeated header, the last.
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self.app(scope, receive, send)
            return
        await self._redirect(scope, receive, send, tracking_id, headers.get(b"x-request-id"))

    async def _redirect(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        tracking_id: str,
        incoming_id: bytes | None,
    ) -> None:
        incoming = (incoming_id or b"").decode("latin-1")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500
        started = False
        try:
            try:
                client = scope.get("client")
                answer = await self.tracker.answer(
                    method=scope["method"],
                    tracking_id=tracking_id,
                    headers=scope["headers"],
                    query_string=query_of(scope),
                    peer=client[0] if client else None,
                )
                status = answer.status
                started = True
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [*answer.headers, (b"x-request-id", rid.encode())],
                    }
                )
                await send({"type": "http.response.body", "body": answer.body})
            finally:
                counter_child(HTTP_REQUESTS, "/track", str(status)).inc()
                request_id_var.reset(token)
        except Exception:
            if not started:
                await PlainTextResponse("Internal Server Error", status_code=500)(
                    scope, receive, send
                )
            raise
