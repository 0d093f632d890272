"""The HTTP server around the app: waitress with the request-body cap (API_SPEC 1.1, 1.2).

Why a module of its own: waitress reads a request's whole body, spooling it to a temporary file
past 512 KiB, before the app runs. The app's own checks (``MAX_CONTENT_LENGTH``, the API key) come
too late to protect the disk, so an unauthenticated client could make the server write up to
waitress's default 1 GiB per connection. The cap therefore lives in waitress
(``max_request_body_size``), and what waitress then answers by itself is rendered in the API's
JSON envelope instead of waitress's plain text.

Two layers, one answer: waitress's limit sits :data:`SLACK` above ``MAX_REQUEST_BYTES``, so a body
slightly over the cap (or a chunked body whose framing counts against waitress's limit) still
reaches the app, which refuses it as ``payload_too_large`` before the key check; a body far over
the cap is refused by waitress as soon as its declared length (or, chunked, its first
``SLACK`` bytes too many) shows it, with the same envelope. At most ``MAX_REQUEST_BYTES + SLACK``
bytes of a request are ever held.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

from emodal.api.http import new_request_id
from emodal.config import Settings
from emodal.errors import ApiError, BadRequest, InternalError, PayloadTooLarge

log = logging.getLogger("emodal.server")

#: Bytes waitress accepts above MAX_REQUEST_BYTES (chunk framing; the app answers that band).
SLACK = 64 * 1024


def build_server(app: Any, settings: Settings) -> Any:
    """A waitress server for ``app`` on HOST:PORT (not yet running: call ``.run()``)."""
    sockets: dict[int, Any] = {}
    server = create_server(app, map=sockets, host=settings.host, port=settings.port,
                           threads=settings.server_threads,
                           max_request_body_size=settings.max_request_bytes + SLACK)
    # A host name may resolve to several listening sockets, each its own dispatcher in the map.
    for dispatcher in list(sockets.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = _EnvelopeChannel
    return server


class _EnvelopeErrorTask(ErrorTask):
    """The answer to a request waitress refuses before the app runs, in the API envelope."""

    def execute(self) -> None:
        refused = self.request.error
        error = _as_api_error(refused.code, refused.reason,
                              self.channel.adj.max_request_body_size - SLACK)
        request_id = new_request_id(self.request.headers.get("X_REQUEST_ID"))
        # A request line waitress could not parse leaves no method or path on the request.
        log.info("%s %s refused by the server before the app: %s %s [%s]", getattr(self.request, "command", "-"),
                 getattr(self.request, "path", "-"), error.status, error.error_type, request_id)
        body = json.dumps({**error.body(), "request_id": request_id}).encode("utf-8")
        self.status = f"{refused.code} {refused.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                      ("X-Request-Id", request_id)])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _EnvelopeChannel(HTTPChannel):
    error_task_class = _EnvelopeErrorTask


def _as_api_error(code: int, reason: str, max_request_bytes: int) -> ApiError:
    """Waitress's refusals (413 body, 400 malformed request, 431 headers, 501 transfer coding)."""
    if code == 413:
        return PayloadTooLarge.over(max_request_bytes)
    if code == 500:
        return InternalError()
    return BadRequest(reason, status=code)


__all__ = ["SLACK", "build_server"]
