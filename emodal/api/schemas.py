"""Request models (pydantic v2): the field typing of API_SPEC 1.5, checked in the order of 6.1.

Each route declares one :class:`RequestModel` subclass; :func:`parse` validates a JSON body with it
and returns the params dict the operations read, and ``emodal.api.openapi`` renders the same model
with :func:`request_json_schema`, so the document and the validation cannot disagree.

Check order (API_SPEC 6.1), all inside ``model_validate``:

1. types: pydantic validates every present field with the kinds below (lenient booleans and
   integers, trimmed strings of at most 256 characters, normalized container numbers, enum values
   in their canonical spelling). A ``null``, an empty string or an empty list counts as absent
   before that (``_drop_absent``), so legacy aliases are read in order and defaults apply. Its
   ``ValidationError`` becomes our error in one place, :func:`api_error`: a type error wins over
   absent required fields (``MissingFields`` in declaration = spec order).
2. conditionally required fields (:class:`RequiredIf`), 3. the model's cross-field ``checks``,
   4. formats (:class:`Format` markers: allowed values, patterns, dates, ISO 6346): one
   after-validator raising our ``ApiError`` classes, which pydantic passes through unchanged.

Settings-dependent rules (EMODAL_MOVE_TYPES, VALIDATE_CHECK_DIGIT, BULK_MAX_CONTAINERS) read the
``Settings`` handed in as pydantic's validation context.

Why pydantic's own JSON Schema and no Flask integration (flask-openapi3, spectree): those libraries
validate before the view runs and answer with their own status (422) and body, while API_SPEC 6.1
checks the API key and the JSON first, puts the idempotency record between validation and the
session, and renders every error in one envelope. Our views call :func:`parse`; nothing else changes.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

from annotated_types import Ge, Le
from flask import current_app, has_app_context
from pydantic import (AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler,
                      GetJsonSchemaHandler, PlainValidator, Strict, ValidationError, ValidationInfo,
                      model_validator)
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from emodal.config import Settings
from emodal.errors import ApiError, InvalidField, MissingFields
from emodal.validation import (CONTAINER_RE, normalize_container_number, validate_container_list,
                               validate_container_number)

MAX_STRING = 256
#: The boolean spellings shell clients send (API_SPEC 1.5), any case.
BoolWord = Literal["true", "false", "1", "0", "yes", "no"]
_TRUE_WORDS = {"true", "1", "yes"}
#: Decimal strings accepted for integers.
_INT_TEXT = re.compile(r"[+-]?\d{1,12}")
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
#: A cross-field check ``check(params, settings)`` raising an ApiError (phase 3).
Check = Callable[[dict[str, Any], Settings], None]
Model = TypeVar("Model", bound="RequestModel")


def _context_settings(info: ValidationInfo) -> Settings:
    context = info.context or {}
    return context.get("settings") or Settings()


def _type_error(text: str, **details: Any) -> PydanticCustomError:
    """A type-phase failure; :func:`api_error` prefixes the field name (``"<field> must be ..."``)."""
    return PydanticCustomError("invalid_field", text, {"reason": "type", **details})


def invalid_field(field: str, text: str, **details: Any) -> InvalidField:
    """``InvalidField("<field> <text>")`` with ``details.field`` first, the wording of every field error."""
    return InvalidField(f"{field} {text}", details={"field": field, **details})


# --- type phase: the kinds of API_SPEC 1.5 ------------------------------------------------------------
def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in get_args(BoolWord):
        return value.strip().lower() in _TRUE_WORDS
    raise _type_error("must be a boolean", allowed=[True, False])


def _int_text(value: Any) -> Any:
    """Decimal strings become integers; everything else is left to the strict ``int`` (no bools, floats)."""
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    return value


def _text(value: Any, *, trim: bool = True) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _type_error("must be a string")
    text = str(value).strip() if trim else str(value)
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise PydanticCustomError("invalid_field", "must not contain control characters",
                                  {"reason": "control_characters"})
    return text


def _items(value: Any) -> Any:
    """A list without ``null`` and blank items (an all-blank list was already dropped as absent)."""
    if not isinstance(value, list):
        raise _type_error("must be an array of strings")
    return [item for item in value if not _blank(item)]


def Int(minimum: int, maximum: int) -> Any:  # noqa: N802 - used as a type in annotations
    """A JSON integer or decimal string within ``[minimum, maximum]`` (bounds before the string
    conversion so the JSON Schema shows them as ``minimum``/``maximum``)."""
    return Annotated[int, Strict(), Ge(minimum), Le(maximum), BeforeValidator(_int_text)]


def Text(max_length: int) -> Any:  # noqa: N802 - used as a type in annotations
    """A trimmed string of at most ``max_length`` characters (``Str``: the 256 of API_SPEC 1.5)."""
    return Annotated[str, BeforeValidator(_text), Field(max_length=max_length)]


Bool = Annotated[bool, PlainValidator(_to_bool, json_schema_input_type=bool | BoolWord)]
Str = Text(MAX_STRING)
#: Not trimmed (passwords may start or end with a space).
RawStr = Annotated[str, BeforeValidator(lambda v: _text(v, trim=False)), Field(max_length=MAX_STRING)]
StrList = Annotated[list[Str], BeforeValidator(_items)]


# --- markers: what the later phases and the document read from a field --------------------------------
class Format:
    """A format check of phase 4: ``check`` returns the final value or raises an ApiError."""

    def check(self, value: Any, field: str, settings: Settings) -> Any:
        raise NotImplementedError


class Pattern(Format):
    """Full match of ``regex`` (checked as a format, so after the required fields)."""

    def __init__(self, regex: str) -> None:
        self.regex = regex

    def check(self, value: str, field: str, settings: Settings) -> str:
        if not re.fullmatch(self.regex, value):
            raise invalid_field(field, "has an invalid format", reason="format")
        return value

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "pattern": self.regex}


class Choice(Format):
    """One of ``options`` (a tuple, or a function of the settings such as EMODAL_MOVE_TYPES), any case.

    The canonical spelling is taken in the type phase, so conditions on other fields see ``import``
    for ``IMPORT``; a value that is not offered fails as a format (``details.allowed``).
    """

    def __init__(self, options: Sequence[str] | Callable[[Settings], Sequence[str]]) -> None:
        self.options = options

    def allowed(self, settings: Settings) -> tuple[str, ...]:
        return tuple(self.options(settings) if callable(self.options) else self.options)

    def _canonical(self, value: str, info: ValidationInfo) -> str:
        return next((o for o in self.allowed(_context_settings(info)) if o.casefold() == value.casefold()), value)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_after_validator_function(self._canonical, handler(source))

    def check(self, value: str, field: str, settings: Settings) -> str:
        allowed = self.allowed(settings)
        if value in allowed:
            return value
        text = (f"must be '{allowed[0]}' or '{allowed[1]}'" if len(allowed) == 2
                else "must be one of: " + ", ".join(allowed))
        raise invalid_field(field, text, reason="not_allowed", allowed=list(allowed))

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": list(self.allowed(_doc_settings.get(None) or Settings()))}


class _ContainerNumber(Format):
    def check(self, value: str, field: str, settings: Settings) -> str:
        return validate_container_number(value, field=field, validate_check_digit=settings.validate_check_digit)

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # The pattern applies after upper-casing and removing spaces and hyphens (API_SPEC 1.5).
        return {**handler(schema), "pattern": CONTAINER_RE.pattern}


class _ContainerNumbers(Format):
    """Every offender of the list named at once (``details.invalid``)."""

    def check(self, value: list[str], field: str, settings: Settings) -> list[str]:
        return validate_container_list(value, field=field, validate_check_digit=settings.validate_check_digit)


class _DateText(Format):
    def check(self, value: str, field: str, settings: Settings) -> date:
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(value, fmt).date()
            except ValueError:
                continue
        raise invalid_field(field, "must be YYYY-MM-DD or MM/DD/YYYY", reason="format")


class RequiredIf:
    """Required when ``condition(params)`` holds on the typed params (phase 2), e.g. exports only."""

    def __init__(self, condition: Callable[[dict[str, Any]], bool]) -> None:
        self.condition = condition


class AbsentValues:
    """Strings meaning "absent" for this field, any case (``own_chassis: "ignore"``)."""

    def __init__(self, *values: str) -> None:
        self.values = frozenset(values)


class Secret:
    """Never echoed (errors carry no input, bundles and logs drop it); ``writeOnly`` in the document."""

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "writeOnly": True}


ContainerText = Annotated[str, BeforeValidator(lambda v: normalize_container_number(_text(v))),
                          Field(max_length=MAX_STRING)]
Container = Annotated[ContainerText, _ContainerNumber()]
ContainerList = Annotated[list[ContainerText], BeforeValidator(_items), _ContainerNumbers()]
#: ``YYYY-MM-DD`` or ``MM/DD/YYYY``; a ``datetime.date`` once the formats have run.
DateText = Annotated[Str, _DateText()]


def _field_markers(field: FieldInfo) -> Iterator[Any]:
    """The metadata of a field, including the ``Annotated`` kind inside ``X | None``."""
    yield from field.metadata
    for arm in get_args(field.annotation) if get_origin(field.annotation) in (Union, UnionType) else ():
        yield from getattr(arm, "__metadata__", ())


def _marker(field: FieldInfo, kind: type) -> Any:
    return next((m for m in _field_markers(field) if isinstance(m, kind)), None)


def _base_type(annotation: Any) -> Any:
    """``bool`` for ``Bool | None``, ``list`` for ``StrList``: the Python type under the wrappers."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _base_type(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return _base_type(next(arm for arm in get_args(annotation) if arm is not NoneType))
    return origin or annotation


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@cache
def _absence_rules(model: type[RequestModel]) -> dict[str, Callable[[Any], bool]]:
    """Input key (name or alias) -> "is this value absent?" (API_SPEC 1.5: ``null``, empty string,
    empty list; a blank boolean is a wrong boolean, not an absent one)."""
    rules: dict[str, Callable[[Any], bool]] = {}
    for name, field in model.model_fields.items():
        base = _base_type(field.annotation)
        words = getattr(_marker(field, AbsentValues), "values", frozenset())

        def absent(value: Any, base: Any = base, words: frozenset[str] = words) -> bool:
            if base is list and isinstance(value, list):
                return all(_blank(item) for item in value)
            if base is bool:
                return value is None or (isinstance(value, str) and value.strip().lower() in words)
            return _blank(value) or (isinstance(value, str) and value.strip().lower() in words)

        alias = field.validation_alias
        for key in alias.choices if isinstance(alias, AliasChoices) else (name,):
            rules[str(key)] = absent
    return rules


# --- the base model -------------------------------------------------------------------------------------
class RequestModel(BaseModel):
    """A request body. Unknown fields are ignored (1.5); inputs never appear in pydantic's errors."""

    model_config = ConfigDict(extra="ignore", loc_by_alias=False, hide_input_in_errors=True)
    #: Cross-field checks of phase 3, ``check(params, settings)``.
    checks: ClassVar[tuple[Check, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _drop_absent(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        rules = _absence_rules(cls)
        return {key: value for key, value in data.items() if not (key in rules and rules[key](value))}

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> RequestModel:
        """Phases 2-4: conditionally required fields, cross-field checks, formats."""
        settings = _context_settings(info)
        fields = type(self).model_fields
        params = dict(self)
        missing = [name for name, field in fields.items() if params[name] is None
                   and (rule := _marker(field, RequiredIf)) is not None and rule.condition(params)]
        if missing:
            raise missing_fields_error(missing)
        for check in self.checks:
            check(params, settings)
        for name, field in fields.items():
            if params[name] is not None and (fmt := _marker(field, Format)) is not None:
                setattr(self, name, fmt.check(params[name], name, settings))
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The object schema with the legacy aliases and conditional requirements in the descriptions
        (the route's summary describes the body: no title, no docstring)."""
        json_schema = handler.resolve_ref_schema(handler(schema))
        json_schema.pop("title", None)
        json_schema.pop("description", None)
        for name, field in cls.model_fields.items():
            prop = json_schema["properties"][name]
            text = prop.get("description", "")
            alias = field.validation_alias
            if isinstance(alias, AliasChoices) and len(alias.choices) > 1:
                text = f"{text} Aliases: {', '.join(map(str, alias.choices[1:]))}.".strip()
            if _marker(field, RequiredIf) is not None:
                text = f"{text} Conditionally required.".strip()
            if text:
                prop["description"] = text
        return json_schema


class BusinessRequest(RequestModel):
    """The common fields of the business routes (API_SPEC 4, "Common request fields")."""

    session_id: Str | None = Field(None, description="Session to reuse (3.3).")
    username: Str | None = Field(None, description="E-Modal username.")
    password: Annotated[RawStr, Secret()] | None = Field(None, description="E-Modal password (memory only).")
    captcha_api_key: Annotated[Str, Secret()] | None = Field(
        None, description="2captcha key for the login reCAPTCHA.")
    keep_browser_alive: Bool = Field(
        False, description="When this call creates the session: keep-alive instead of regular; true promotes.")
    debug: Bool = Field(False, validation_alias=AliasChoices("debug", "capture_screens"),
                        description="Screenshots after every step plus a debug bundle (capture_screens: legacy alias).")
    screens_label: Str | None = Field(None, description="Overlay user label (default: username).")
    vm_email: Str | None = Field(None, description="Overlay line 'VM: <value>'.")


# --- parsing and the one error translator -----------------------------------------------------------------
def missing_fields_error(names: Sequence[str]) -> MissingFields:
    """The exact API_SPEC wording: singular for one field, comma list for several."""
    if len(names) == 1:
        return MissingFields(f"Missing required field: {names[0]}", details={"missing": list(names)})
    return MissingFields(f"Missing required fields: {', '.join(names)}", details={"missing": list(names)})


def _bounds(field: FieldInfo) -> tuple[Any, Any]:
    markers = list(_field_markers(field))
    return (next((m.ge for m in markers if isinstance(m, Ge)), None),
            next((m.le for m in markers if isinstance(m, Le)), None))


def api_error(exc: ValidationError, model: type[RequestModel]) -> ApiError:
    """Pydantic's errors of the type phase as the API_SPEC error: the first wrong field, else every
    absent required field (in declaration order, which is the spec order)."""
    errors = exc.errors(include_url=False)
    wrong = [e for e in errors if e["type"] != "missing"]
    if not wrong:
        return missing_fields_error([str(e["loc"][0]) for e in errors])
    error = wrong[0]
    name, ctx = str(error["loc"][0]), error.get("ctx") or {}
    field = model.model_fields[name]
    kind = error["type"]
    if kind == "invalid_field":  # ours: the text follows the field name
        return invalid_field(name, error["msg"], **ctx)
    if kind == "int_type":
        return invalid_field(name, "must be an integer", reason="type")
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(field)
        return invalid_field(name, f"must be between {low} and {high}", reason="range", min=low, max=high)
    if kind == "too_long" and len(error["loc"]) == 1 and _base_type(field.annotation) is list:
        return invalid_field(name, f"has more than {ctx['max_length']} items", reason="too_many",
                             max=ctx["max_length"])
    if kind == "too_long":
        return invalid_field(name, f"is longer than {ctx['max_length']} characters", reason="too_long",
                             max=ctx["max_length"])
    return invalid_field(name, "is invalid", reason="type")


def parse(model: type[Model], body: Mapping[str, Any] | None, settings: Settings | None = None) -> dict[str, Any]:
    """Validate ``body`` with ``model``; return every field (defaults filled) by its canonical name."""
    settings = settings or _current_settings()
    try:
        request = model.model_validate(body or {}, context={"settings": settings})
    except ValidationError as exc:
        raise api_error(exc, model) from None
    return dict(request)


def _current_settings() -> Settings:
    """The running app's settings; documented defaults outside an app (unit tests of models)."""
    if has_app_context() and "emodal_settings" in current_app.extensions:
        return current_app.extensions["emodal_settings"]
    return Settings()


# --- JSON Schema ------------------------------------------------------------------------------------------
#: The settings a document is generated for (validation gets them from pydantic's context instead;
#: ``model_json_schema`` has no context, and :class:`Choice` lists EMODAL_MOVE_TYPES from them).
_doc_settings: ContextVar[Settings] = ContextVar("doc_settings")


class _RequestJsonSchema(GenerateJsonSchema):
    """The dialect of our request documents: ``null`` means absent (1.5) so it is not listed, no
    ``null`` defaults, no generated titles, integers also as decimal strings."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default") is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        return {"oneOf": [super().int_schema(schema), {"type": "string", "pattern": f"^{_INT_TEXT.pattern}$"}]}


@contextmanager
def _documenting(settings: Settings) -> Iterator[None]:
    token = _doc_settings.set(settings)
    try:
        yield
    finally:
        _doc_settings.reset(token)


def request_json_schema(model: type[RequestModel], settings: Settings) -> dict[str, Any]:
    """The JSON Schema of a request body as ``settings`` validate it (for /openapi.json)."""
    with _documenting(settings):
        return model.model_json_schema(by_alias=False, schema_generator=_RequestJsonSchema)
