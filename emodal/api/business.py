"""Business routes over HTTP: parse -> :class:`~emodal.operations.runner.OperationRunner` -> render.

A business route is three lines::

    @bp.post("/get_container_timeline")
    def get_container_timeline():
        return execute("/get_container_timeline", ContainerRequest, container_timeline, bundle_kind="PREGATE")

Order (API_SPEC 6.1): the key was checked by ``auth`` before the route; then JSON and the request
model (types, required, formats) and "a session id or credentials" here; then the runner resolves the
session (3.3), locks, probes and runs the operation (3.6, 3.7). This module only turns the
request into a :class:`SessionRef` and the :class:`OperationResult` into the JSON envelope or a
file body with its headers.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, g, jsonify

from emodal.api import http
from emodal.api.files import send_download
from emodal.api.schemas import RequestModel, missing_fields_error, parse
from emodal.operations.runner import Operation, OperationResult, SessionRef
from emodal.sessions.credentials import Credentials
from emodal.sessions.session import BrowserSession

CREDENTIAL_FIELDS = ("username", "password", "captcha_api_key")


def session_ref(params: Mapping[str, Any], *, keep_alive: bool | None = None) -> SessionRef:
    """API_SPEC 3.3 inputs of a request: ``session_id`` and/or complete credentials, else 400.

    ``keep_alive``: the kind of a session the call creates (``/get_session``); business routes
    take it from ``keep_browser_alive``. Either way a true value promotes a matched session.
    """
    credentials = None
    if all(params.get(name) for name in CREDENTIAL_FIELDS):  # 3.3: only complete credentials count
        credentials = Credentials(params["username"], params["password"], params["captcha_api_key"])
    session_id = params.get("session_id")
    if session_id is None and credentials is None:
        error = missing_fields_error(CREDENTIAL_FIELDS)
        error.message += " (or valid session_id)"
        error.details = {"missing": [name for name in CREDENTIAL_FIELDS if not params.get(name)]}
        raise error
    keep = bool(params.get("keep_browser_alive")) if keep_alive is None else keep_alive
    return SessionRef(session_id, credentials, keep_alive=keep, promote=keep)


def remember(session: BrowserSession, is_new: bool) -> None:
    """The runner's ``on_session``: error bodies and ``X-Session-Id`` name the resolved session (1.2)."""
    http.remember_session(session.session_id, is_new)


def execute(route: str, model_or_parsed: type[RequestModel] | Mapping[str, Any], operation: Operation, *,
            bundle_kind: str = "DEBUG", always_bundle: bool = False) -> Response:
    """Run ``operation`` for the current request and render the JSON envelope (or a file body).

    ``model_or_parsed``: a :class:`RequestModel` (the body is read and validated here) or params already
    validated by the route (when it needs checks of its own between validation and the session,
    e.g. idempotency). ``bundle_kind``: KIND of the debug bundle (API_SPEC 5); ``always_bundle``:
    build it even without ``debug`` (/make_appointment).
    """
    params = (parse(model_or_parsed, http.json_body(), http.settings()) if isinstance(model_or_parsed, type)
              else dict(model_or_parsed))
    result = http.runner().run(g.tenant, session_ref(params), operation, params, request_id=g.request_id,
                               route=route, base_url=http.base_url(), bundle_kind=bundle_kind,
                               always_bundle=always_bundle, on_session=remember)
    return render(result)


def render(result: OperationResult) -> Response:
    """The HTTP answer of a run: a file body with its headers, or the JSON envelope."""
    if result.file is not None:
        name = result.file.path.name
        response = send_download(result.file.path, name)
        # Quoted file name exactly as API_SPEC 4.3 shows it (send_file leaves plain names unquoted).
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        for noun, count in result.file.counts.items():
            response.headers[f"X-Total-{noun.title()}"] = str(count)
        response.headers["X-Is-New-Session"] = "true" if result.is_new else "false"
        response.headers["X-File-Url"] = result.file_url or ""
        return response
    body: dict[str, Any] = {"success": True, "session_id": result.session_id, "is_new_session": result.is_new}
    body.update(result.data)
    body["success"] = True
    if result.recovered:
        body["session_recovered"] = True
    if result.restored:
        body["session_restored"] = True
    body["screenshots"] = list(result.screenshots)
    body.update(result.bundle)
    return jsonify(body)
