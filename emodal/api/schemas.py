"""Declarative request schemas: field typing of API_SPEC 1.5 and the source of /openapi.json.

A route declares its fields once (``Field``), validates with :func:`parse` and registers the schema
with :func:`register`; /openapi.json is generated from that registry, so the document and the
validation can never disagree.

Checks run in the order of API_SPEC 6.1: types (each present field coerced), required fields
(``details.missing`` in declaration order = spec order), cross-field checks (``Schema.checks``),
then formats (enum values, container numbers, patterns, dates). Nothing here touches a browser.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context

from emodal.config import Settings
from emodal.errors import InvalidField, MissingFields
from emodal.validation import normalize_container_number, validate_container_list, validate_container_number

KINDS = ("bool", "int", "str", "container", "container_list", "str_list", "enum", "date")
MAX_STRING = 256
_BOOL_STRINGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")

#: ``allowed`` may depend on settings (EMODAL_MOVE_TYPES).
Allowed = Sequence[str] | Callable[[Settings], Sequence[str]]
#: ``required`` may depend on other (already typed) fields, e.g. container_id for imports only.
Required = bool | Callable[[dict[str, Any]], bool]
#: A cross-field check ``check(params, settings)`` raising an ApiError.
Check = Callable[[dict[str, Any], Settings], None]


@dataclass(frozen=True)
class Field:
    """One request field.

    ``kind``: bool, int, str, container, container_list, str_list, enum, date. ``minimum``/``maximum``
    bound an int's value, a str's length (max default 256) or a list's item count. ``aliases`` are
    read, in order, when ``name`` is absent (legacy names, API_SPEC 4.16). ``absent_values``: strings
    meaning "absent" (``own_chassis: "ignore"``). ``pattern``: full-match regex for str. ``secret``:
    never echoed in errors, bundles or logs. ``trim=False`` keeps surrounding spaces (passwords).
    """

    name: str
    kind: str
    required: Required = False
    default: Any = None
    aliases: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | Callable[[Settings], int] | None = None
    allowed: Allowed | None = None
    description: str = ""
    pattern: str | None = None
    absent_values: tuple[str, ...] = ()
    secret: bool = False
    trim: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")
        if self.kind == "enum" and not self.allowed:
            raise ValueError(f"enum field {self.name!r} needs allowed values")

    def allowed_values(self, settings: Settings) -> tuple[str, ...]:
        values = self.allowed(settings) if callable(self.allowed) else self.allowed
        return tuple(values or ())

    def max_value(self, settings: Settings) -> int | None:
        if callable(self.maximum):
            return self.maximum(settings)
        if self.maximum is None and self.kind in ("str", "str_list", "enum"):
            return MAX_STRING if self.kind != "str_list" else None
        return self.maximum


@dataclass(frozen=True)
class Schema:
    """An ordered set of fields plus cross-field checks (run after required fields, before formats)."""

    fields: tuple[Field, ...]
    checks: tuple[Check, ...] = ()

    def __init__(self, fields: Sequence[Field], checks: Sequence[Check] = ()) -> None:
        object.__setattr__(self, "fields", tuple(fields))
        object.__setattr__(self, "checks", tuple(checks))
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate field names in schema: {names}")

    def __add__(self, other: "Schema") -> "Schema":
        return Schema(self.fields + other.fields, self.checks + other.checks)

    @property
    def secret_names(self) -> frozenset[str]:
        return frozenset(n for f in self.fields if f.secret for n in (f.name, *f.aliases))


# --- the common fields of business routes (API_SPEC 4, "Common request fields") ------------------
SESSION_FIELDS = Schema([
    Field("session_id", "str", description="Session to reuse (3.3)."),
    Field("username", "str", description="E-Modal username."),
    Field("password", "str", secret=True, trim=False, description="E-Modal password (memory only)."),
    Field("captcha_api_key", "str", secret=True, description="2captcha key for the login reCAPTCHA."),
    Field("keep_browser_alive", "bool", default=False,
          description="When this call creates the session: keep-alive instead of regular; true promotes."),
    Field("debug", "bool", default=False, aliases=("capture_screens",),
          description="Screenshots after every step plus a debug bundle (capture_screens: legacy alias)."),
    Field("screens_label", "str", description="Overlay user label (default: username)."),
    Field("vm_email", "str", description="Overlay line 'VM: <value>'."),
])


def business_schema(fields: Sequence[Field], checks: Sequence[Check] = ()) -> Schema:
    """A business route's schema: the common session/debug fields followed by the route's own."""
    return SESSION_FIELDS + Schema(fields, checks)


# --- parsing ---------------------------------------------------------------------------------------
def _present(body: Mapping[str, Any], f: Field) -> Any:
    """Raw value of the first non-absent among name and aliases, or ``None``."""
    for name in (f.name, *f.aliases):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, str) and value.strip() == "" and f.kind != "bool":
            continue  # empty string = absent (1.5)
        if isinstance(value, list) and not value and f.kind.endswith("_list"):
            continue
        return value
    return None


def _invalid(f: Field, message: str, **details: Any) -> InvalidField:
    return InvalidField(message, details={"field": f.name, **details})


def _clean_str(f: Field, value: Any, settings: Settings, *, limit: int | None) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _invalid(f, f"{f.name} must be a string", reason="type")
    text = str(value)
    if f.trim:
        text = text.strip()
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise _invalid(f, f"{f.name} must not contain control characters", reason="control_characters")
    if limit is not None and len(text) > limit:
        raise _invalid(f, f"{f.name} is longer than {limit} characters", reason="too_long", max=limit)
    if f.minimum is not None and f.kind == "str" and len(text) < f.minimum:
        raise _invalid(f, f"{f.name} is shorter than {f.minimum} characters", reason="too_short", min=f.minimum)
    return text


def _coerce(f: Field, value: Any, settings: Settings) -> Any:
    """Type phase: raw JSON value -> typed value, or InvalidField. ``None`` means 'absent after all'."""
    if isinstance(value, str) and value.strip().lower() in f.absent_values:
        return None
    if f.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
            return _BOOL_STRINGS[value.strip().lower()]
        raise _invalid(f, f"{f.name} must be a boolean", reason="type", allowed=[True, False])
    if f.kind == "int":
        if isinstance(value, bool):
            raise _invalid(f, f"{f.name} must be an integer", reason="type")
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,12}", value.strip()):
            value = int(value.strip())
        if not isinstance(value, int):
            raise _invalid(f, f"{f.name} must be an integer", reason="type")
        upper = f.max_value(settings)
        if (f.minimum is not None and value < f.minimum) or (upper is not None and value > upper):
            raise _invalid(f, f"{f.name} must be between {f.minimum} and {upper}", reason="range",
                           min=f.minimum, max=upper)
        return value
    if f.kind in ("str_list", "container_list"):
        if not isinstance(value, list):
            raise _invalid(f, f"{f.name} must be an array of strings", reason="type")
        items = [_clean_str(f, item, settings, limit=MAX_STRING) for item in value if item is not None]
        items = [i for i in items if i]
        if f.kind == "container_list":
            items = [normalize_container_number(i) for i in items]
        upper = f.max_value(settings)
        if upper is not None and len(items) > upper:
            raise _invalid(f, f"{f.name} has more than {upper} items", reason="too_many", max=upper)
        return items or None
    text = _clean_str(f, value, settings, limit=f.max_value(settings) if f.kind in ("str", "enum") else MAX_STRING)
    if not text:
        return None
    if f.kind == "enum":
        # Canonical spelling now, so required-callables see "import" for "IMPORT"; misses fail in _format.
        return next((o for o in f.allowed_values(settings) if o.casefold() == text.casefold()), text)
    return normalize_container_number(text) if f.kind == "container" else text


def _format(f: Field, value: Any, settings: Settings) -> Any:
    """Format phase: allowed values, patterns, dates, container numbers."""
    if f.kind == "enum":
        allowed = f.allowed_values(settings)
        for option in allowed:
            if option.casefold() == value.casefold():
                return option  # canonical spelling
        if len(allowed) == 2:
            message = f"{f.name} must be '{allowed[0]}' or '{allowed[1]}'"
        else:
            message = f"{f.name} must be one of: " + ", ".join(allowed)
        raise _invalid(f, message, reason="not_allowed", allowed=list(allowed))
    if f.kind == "str" and f.pattern and not re.fullmatch(f.pattern, value):
        raise _invalid(f, f"{f.name} has an invalid format", reason="format")
    if f.kind == "date":
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(value, fmt).date()
            except ValueError:
                continue
        raise _invalid(f, f"{f.name} must be YYYY-MM-DD or MM/DD/YYYY", reason="format")
    if f.kind == "container":
        return validate_container_number(value, field=f.name, validate_check_digit=settings.validate_check_digit)
    if f.kind == "container_list":
        return validate_container_list(value, field=f.name, validate_check_digit=settings.validate_check_digit)
    return value


def missing_fields_error(names: Sequence[str]) -> MissingFields:
    """The exact API_SPEC wording: singular for one field, comma list for several."""
    if len(names) == 1:
        return MissingFields(f"Missing required field: {names[0]}", details={"missing": list(names)})
    return MissingFields(f"Missing required fields: {', '.join(names)}", details={"missing": list(names)})


def parse(schema: Schema, body: Mapping[str, Any] | None, settings: Settings | None = None) -> dict[str, Any]:
    """Validate ``body`` against ``schema``; return every field (defaults filled) by its canonical name."""
    settings = settings or _current_settings()
    body = body or {}
    params: dict[str, Any] = {}
    for f in schema.fields:
        raw = _present(body, f)
        value = None if raw is None else _coerce(f, raw, settings)
        if value is None and f.default is not None:
            value = list(f.default) if isinstance(f.default, (list, tuple)) else f.default
        params[f.name] = value
    missing = [f.name for f in schema.fields
               if params[f.name] is None and (f.required(params) if callable(f.required) else f.required)]
    if missing:
        raise missing_fields_error(missing)
    for check in schema.checks:
        check(params, settings)
    for f in schema.fields:
        if params[f.name] is not None:
            params[f.name] = _format(f, params[f.name], settings)
    return params


def _current_settings() -> Settings:
    """The running app's settings; documented defaults outside an app (unit tests of schemas)."""
    if has_app_context() and "emodal_settings" in current_app.extensions:
        return current_app.extensions["emodal_settings"]
    return Settings()


#: Never written to bundles or logs, whatever the route (API_SPEC 5).
SECRET_FIELDS = frozenset({"password", "captcha_api_key", "pin_code"})


def redact(params: Mapping[str, Any], schema: Schema | None = None) -> dict[str, Any]:
    """``params`` without secret fields (passwords, captcha keys, PINs) for bundles and logs."""
    hidden = SECRET_FIELDS | (schema.secret_names if schema else frozenset())
    return {k: v for k, v in params.items() if k not in hidden}


# --- route registry: the source of /openapi.json -------------------------------------------------------
@dataclass(frozen=True)
class RouteDoc:
    route: str
    method: str
    schema: Schema | None
    summary: str
    response_example: dict[str, Any] | None = None
    file_response: bool = False
    auth: bool = True


ROUTES: dict[tuple[str, str], RouteDoc] = {}


def register(route: str, method: str, schema: Schema | None, summary: str,
             response_example: dict[str, Any] | None = None, *, file_response: bool = False,
             auth: bool = True) -> Schema | None:
    """Record a route for /openapi.json; returns ``schema`` so a module can write
    ``SCHEMA = register("/x", "POST", Schema([...]), "...")``. Re-registering replaces the entry."""
    ROUTES[(route, method.upper())] = RouteDoc(route, method.upper(), schema, summary, response_example,
                                               file_response, auth)
    return schema
