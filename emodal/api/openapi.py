"""OpenAPI 3.1 document of the registered routes (API_SPEC 4.15).

Generated, not written: a route registers its request model (``emodal.api.schemas``) with
:func:`register`, and the request body schema is that model's own JSON Schema, so the document
cannot drift from what the server accepts. Only what a model cannot know lives here: summary,
response example, file response, authentication.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emodal import __version__
from emodal.api.schemas import RequestModel, request_json_schema
from emodal.config import Settings
from emodal.errors import ERROR_TYPES


@dataclass(frozen=True)
class RouteDoc:
    route: str
    method: str
    model: type[RequestModel] | None
    summary: str
    response_example: dict[str, Any] | None = None
    file_response: bool = False
    auth: bool = True
    status: int = 200


ROUTES: dict[tuple[str, str], RouteDoc] = {}


def register(route: str, method: str, model: type[RequestModel] | None, summary: str,
             response_example: dict[str, Any] | None = None, *, file_response: bool = False,
             auth: bool = True, status: int = 200) -> None:
    """Record a route for /openapi.json (re-registering replaces the entry); ``status``: of its
    success answer (202 for an accepted job)."""
    ROUTES[(route, method.upper())] = RouteDoc(route, method.upper(), model, summary, response_example,
                                               file_response, auth, status)


def _error_response() -> dict[str, Any]:
    return {"description": "Error envelope (API_SPEC 1.2)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _operation(doc: RouteDoc, settings: Settings) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": doc.summary, "responses": {}}
    ok: dict[str, Any] = {"description": "Success"}
    content: dict[str, Any] = {}
    if doc.response_example is not None:
        content["application/json"] = {"schema": {"type": "object"}, "example": doc.response_example}
    if doc.file_response:
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    if content:
        ok["content"] = content
    op["responses"][str(doc.status)] = ok
    op["responses"]["default"] = _error_response()
    if not doc.auth:
        op["security"] = []
    if "{" in doc.route:
        op["parameters"] = [{"name": name.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
                            for name in doc.route.split("/") if name.startswith("{")]
    if doc.model is not None:
        op["requestBody"] = {"required": doc.method == "POST" and doc.route != "/cleanup",
                             "content": {"application/json": {"schema": request_json_schema(doc.model, settings)}}}
    return op


def build_openapi(settings: Settings, server_url: str) -> dict[str, Any]:
    """The whole document for the registered routes."""
    paths: dict[str, dict[str, Any]] = {}
    for (route, method), doc in sorted(ROUTES.items()):
        paths.setdefault(route, {})[method.lower()] = _operation(doc, settings)
    return {
        "openapi": "3.1.0",
        "info": {"title": "E-Modal Business Operations API", "version": __version__},
        "servers": [{"url": server_url}],
        "security": [{"ApiKeyHeader": []}, {"BearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "BearerAuth": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {"Error": {
                "type": "object",
                "required": ["success", "error", "error_type", "request_id"],
                "properties": {
                    "success": {"type": "boolean", "const": False},
                    "error": {"type": "string"},
                    "error_type": {"type": "string", "enum": list(ERROR_TYPES)},
                    "details": {},
                    "request_id": {"type": "string"},
                    "session_id": {"type": "string"},
                    "is_new_session": {"type": "boolean"},
                },
            }},
        },
    }
