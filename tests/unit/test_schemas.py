"""Request typing of API_SPEC 1.5 / 6.1 as implemented by the request models of emodal.api.schemas."""
import datetime
from typing import Annotated, ClassVar

import pytest
from pydantic import create_model

from emodal.api.schemas import (AbsentValues, Bool, BusinessRequest, Choice, Container, ContainerList, DateText,
                                Int, RequestModel, RequiredIf, Str, missing_fields_error, parse)
from emodal.config import Settings
from emodal.errors import InvalidContainerNumber, InvalidField, MissingFields

SETTINGS = Settings()


def model(**fields):
    """A request model of ``fields`` (name -> (type, default or FieldInfo)), in that order."""
    return create_model("M", __base__=RequestModel, **fields)


def one(kind, value):
    return parse(model(x=(kind | None, None)), {"x": value}, SETTINGS)["x"]


@pytest.mark.parametrize("raw,expected", [(True, True), (False, False), ("true", True), ("FALSE", False),
                                          ("1", True), ("0", False), ("Yes", True), ("no", False), (1, True)])
def test_bool_accepts_json_and_shell_strings(raw, expected):
    assert one(Bool, raw) is expected


@pytest.mark.parametrize("raw", ["maybe", 2, "2", [], "on"])
def test_bool_rejects_anything_else(raw):
    with pytest.raises(InvalidField) as err:
        one(Bool, raw)
    assert err.value.details["field"] == "x"


def test_int_accepts_decimal_strings_and_checks_range():
    assert one(Int(1, 100), "50") == 50
    assert one(Int(1, 100), 7) == 7
    for bad in ("abc", 0, "0", 1.5, True):
        with pytest.raises(InvalidField):
            one(Int(1, 100), bad)
    with pytest.raises(InvalidField) as err:
        one(Int(1, 100), 101)
    assert err.value.message == "x must be between 1 and 100"
    assert err.value.details == {"field": "x", "reason": "range", "min": 1, "max": 100}


def test_strings_are_trimmed_limited_and_free_of_control_characters():
    assert one(Str, "  ABC123 ") == "ABC123"
    with pytest.raises(InvalidField) as err:
        one(Str, "a" * 257)
    assert err.value.details["reason"] == "too_long"
    assert err.value.message == "x is longer than 256 characters"
    with pytest.raises(InvalidField):
        one(Str, "a\x07b")
    assert one(Str, "a" * 256) == "a" * 256


def test_empty_string_and_null_are_absent():
    m = model(a=(Str, "d"), b=(Str | None, None))
    assert parse(m, {"a": "   ", "b": None}, SETTINGS) == {"a": "d", "b": None}


def test_unknown_fields_are_ignored_and_password_is_not_trimmed():
    params = parse(BusinessRequest, {"password": " pw ", "whatever": 1}, SETTINGS)
    assert params["password"] == " pw "
    assert "whatever" not in params


def test_missing_fields_listed_in_declaration_order_with_spec_wording():
    m = model(**{n: (Str, ...) for n in ("trucking_company", "terminal", "move_type")})
    with pytest.raises(MissingFields) as err:
        parse(m, {"terminal": ""}, SETTINGS)
    assert err.value.message == "Missing required fields: trucking_company, terminal, move_type"
    assert err.value.details == {"missing": ["trucking_company", "terminal", "move_type"]}
    assert missing_fields_error(["container_id"]).message == "Missing required field: container_id"


def test_type_errors_come_before_missing_fields():
    m = model(a=(Str, ...), n=(Int(1, 9) | None, None))
    with pytest.raises(InvalidField):
        parse(m, {"n": "abc"}, SETTINGS)


def test_enum_is_case_insensitive_canonical_and_lists_allowed():
    m = model(container_type=(Annotated[Str, Choice(("import", "export"))], "import"))
    assert parse(m, {"container_type": "EXPORT"}, SETTINGS)["container_type"] == "export"
    assert parse(m, {}, SETTINGS)["container_type"] == "import"
    with pytest.raises(InvalidField) as err:
        parse(m, {"container_type": "both"}, SETTINGS)
    assert err.value.message == "container_type must be 'import' or 'export'"
    assert err.value.details["allowed"] == ["import", "export"]


def test_enum_allowed_from_settings():
    m = model(move_type=(Annotated[Str, Choice(lambda s: s.emodal_move_types)] | None, None))
    with pytest.raises(InvalidField) as err:
        parse(m, {"move_type": "Import"}, SETTINGS)
    assert err.value.details["allowed"] == list(SETTINGS.emodal_move_types)
    assert parse(m, {"move_type": "drop empty"}, SETTINGS)["move_type"] == "DROP EMPTY"
    assert parse(m, {"move_type": "ship it"}, Settings(emodal_move_types=("SHIP IT",)))["move_type"] == "SHIP IT"


def test_container_normalized_and_validated():
    assert one(Container, "mscu 516575-6") == "MSCU5165756"
    with pytest.raises(InvalidContainerNumber) as err:
        one(Container, "MSCU516575")
    assert err.value.details["reason"] == "format"
    with pytest.raises(InvalidContainerNumber) as err:
        one(Container, "MSCU5165757")
    assert err.value.details["reason"] == "check_digit" and err.value.details["expected"] == 6


def test_check_digit_can_be_disabled():
    lenient = Settings(validate_check_digit=False)
    assert parse(model(c=(Container | None, None)), {"c": "MSCU5165757"}, lenient)["c"] == "MSCU5165757"


def test_container_list_names_every_offender():
    with pytest.raises(InvalidContainerNumber) as err:
        one(ContainerList, ["MSCU5165756", "bad", "MSCU5165757"])
    assert [i["value"] for i in err.value.details["invalid"]] == ["BAD", "MSCU5165757"]
    with pytest.raises(InvalidField) as err:
        one(ContainerList, "MSCU5165756")
    assert err.value.message == "x must be an array of strings"


def test_aliases_apply_only_when_the_name_is_absent():
    assert parse(BusinessRequest, {"capture_screens": "true"}, SETTINGS)["debug"] is True
    assert parse(BusinessRequest, {"debug": False, "capture_screens": True}, SETTINGS)["debug"] is False
    assert parse(BusinessRequest, {"debug": None, "capture_screens": True}, SETTINGS)["debug"] is True


def test_conditional_required_and_checks_order():
    calls = []

    def check(params, settings):
        calls.append(dict(params))

    m = model(kind=(Annotated[Str, Choice(("import", "export"))], "import"),
              container_id=(Annotated[Container, RequiredIf(lambda p: p["kind"] == "import")] | None, None),
              checks=(ClassVar, (check,)))
    with pytest.raises(MissingFields):
        parse(m, {}, SETTINGS)
    assert calls == []
    assert parse(m, {"kind": "EXPORT"}, SETTINGS)["container_id"] is None
    assert calls[-1]["kind"] == "export"


def test_date_kind_and_absent_values():
    assert one(DateText, "11/25/2025") == datetime.date(2025, 11, 25)
    assert one(DateText, "2025-11-25") == datetime.date(2025, 11, 25)
    with pytest.raises(InvalidField):
        one(DateText, "25.11.2025")
    m = model(own_chassis=(Annotated[Bool, AbsentValues("ignore")] | None, None))
    assert parse(m, {"own_chassis": "IGNORE"}, SETTINGS)["own_chassis"] is None
