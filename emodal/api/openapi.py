"""OpenAPI 3.1 document generated from the schema registry (API_SPEC 4.15).

Generated, not written: the same ``Field`` objects validate requests and describe them here, so
the document cannot drift from what the server accepts.
"""
from __future__ import annotations

from typing import Any

from emodal import __version__
from emodal.api.schemas import ROUTES, Field, RouteDoc
from emodal.errors import ERROR_TYPES

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "bool": {"oneOf": [{"type": "boolean"},
                       {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]}]},
    "int": {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[+-]?[0-9]+$"}]},
    "str": {"type": "string", "maxLength": 256},
    "container": {"type": "string", "pattern": "^[A-Za-z]{3}[UJZujz][0-9]{7}$",
                  "description": "ISO 6346; spaces and hyphens are removed first"},
    "container_list": {"type": "array", "items": {"type": "string"}},
    "str_list": {"type": "array", "items": {"type": "string", "maxLength": 256}},
    "enum": {"type": "string"},
    "date": {"type": "string", "description": "YYYY-MM-DD or MM/DD/YYYY"},
}


def _field_schema(f: Field, settings: Any) -> dict[str, Any]:
    schema = dict(_KIND_SCHEMAS[f.kind])
    if f.kind == "enum":
        schema["enum"] = list(f.allowed_values(settings))
    if f.kind == "int":
        bounds = {k: v for k, v in (("minimum", f.minimum), ("maximum", f.max_value(settings))) if v is not None}
        schema = {"oneOf": [{"type": "integer", **bounds}, schema["oneOf"][1]]}
    if f.kind in ("container_list", "str_list") and f.max_value(settings) is not None:
        schema["maxItems"] = f.max_value(settings)
    if f.pattern:
        schema["pattern"] = f.pattern
    if f.default is not None:
        schema["default"] = f.default
    text = f.description
    if f.aliases:
        text = f"{text} Aliases: {', '.join(f.aliases)}.".strip()
    if callable(f.required):
        text = f"{text} Conditionally required.".strip()
    if f.secret:
        schema["writeOnly"] = True
    if text:
        schema["description"] = text
    return schema


def _error_response() -> dict[str, Any]:
    return {"description": "Error envelope (API_SPEC 1.2)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _operation(doc: RouteDoc, settings: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": doc.summary, "responses": {}}
    ok: dict[str, Any] = {"description": "Success"}
    content: dict[str, Any] = {}
    if doc.response_example is not None:
        content["application/json"] = {"schema": {"type": "object"}, "example": doc.response_example}
    if doc.file_response:
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    if content:
        ok["content"] = content
    op["responses"]["200"] = ok
    op["responses"]["default"] = _error_response()
    if not doc.auth:
        op["security"] = []
    if "{" in doc.route:
        op["parameters"] = [{"name": name.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
                            for name in doc.route.split("/") if name.startswith("{")]
    if doc.schema is not None:
        properties = {f.name: _field_schema(f, settings) for f in doc.schema.fields}
        required = [f.name for f in doc.schema.fields if f.required is True]
        body_schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            body_schema["required"] = required
        op["requestBody"] = {"required": doc.method == "POST" and doc.route != "/cleanup",
                             "content": {"application/json": {"schema": body_schema}}}
    return op


def build_openapi(settings: Any, server_url: str) -> dict[str, Any]:
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
