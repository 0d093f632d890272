"""Request typing of API_SPEC 1.5 / 6.1 as implemented by emodal.api.schemas."""
import datetime

import pytest

from emodal.api.schemas import Field, Schema, business_schema, missing_fields_error, parse, redact
from emodal.config import Settings
from emodal.errors import InvalidContainerNumber, InvalidField, MissingFields

SETTINGS = Settings()


def one(kind, value, **kw):
    return parse(Schema([Field("x", kind, **kw)]), {"x": value}, SETTINGS)["x"]


@pytest.mark.parametrize("raw,expected", [(True, True), (False, False), ("true", True), ("FALSE", False),
                                          ("1", True), ("0", False), ("Yes", True), ("no", False), (1, True)])
def test_bool_accepts_json_and_shell_strings(raw, expected):
    assert one("bool", raw) is expected


@pytest.mark.parametrize("raw", ["maybe", 2, "2", [], "on"])
def test_bool_rejects_anything_else(raw):
    with pytest.raises(InvalidField) as err:
        one("bool", raw)
    assert err.value.details["field"] == "x"


def test_int_accepts_decimal_strings_and_checks_range():
    assert one("int", "50", minimum=1, maximum=100) == 50
    assert one("int", 7, minimum=1) == 7
    for bad in ("abc", 0, "0", 1.5, True):
        with pytest.raises(InvalidField):
            one("int", bad, minimum=1, maximum=100)


def test_strings_are_trimmed_limited_and_free_of_control_characters():
    assert one("str", "  ABC123 ") == "ABC123"
    with pytest.raises(InvalidField) as err:
        one("str", "a" * 257)
    assert err.value.details["reason"] == "too_long"
    with pytest.raises(InvalidField):
        one("str", "a\x07b")
    assert one("str", "a" * 256) == "a" * 256


def test_empty_string_and_null_are_absent():
    schema = Schema([Field("a", "str", default="d"), Field("b", "str")])
    assert parse(schema, {"a": "   ", "b": None}, SETTINGS) == {"a": "d", "b": None}


def test_unknown_fields_are_ignored_and_password_is_not_trimmed():
    params = parse(business_schema([]), {"password": " pw ", "whatever": 1}, SETTINGS)
    assert params["password"] == " pw "
    assert "whatever" not in params


def test_missing_fields_listed_in_declaration_order_with_spec_wording():
    schema = Schema([Field(n, "str", required=True) for n in ("trucking_company", "terminal", "move_type")])
    with pytest.raises(MissingFields) as err:
        parse(schema, {"terminal": ""}, SETTINGS)
    assert err.value.message == "Missing required fields: trucking_company, terminal, move_type"
    assert err.value.details == {"missing": ["trucking_company", "terminal", "move_type"]}
    assert missing_fields_error(["container_id"]).message == "Missing required field: container_id"


def test_type_errors_come_before_missing_fields():
    schema = Schema([Field("a", "str", required=True), Field("n", "int")])
    with pytest.raises(InvalidField):
        parse(schema, {"n": "abc"}, SETTINGS)


def test_enum_is_case_insensitive_canonical_and_lists_allowed():
    schema = Schema([Field("container_type", "enum", allowed=("import", "export"), default="import")])
    assert parse(schema, {"container_type": "EXPORT"}, SETTINGS)["container_type"] == "export"
    assert parse(schema, {}, SETTINGS)["container_type"] == "import"
    with pytest.raises(InvalidField) as err:
        parse(schema, {"container_type": "both"}, SETTINGS)
    assert err.value.message == "container_type must be 'import' or 'export'"
    assert err.value.details["allowed"] == ["import", "export"]


def test_enum_allowed_from_settings():
    field = Field("move_type", "enum", allowed=lambda s: s.emodal_move_types)
    with pytest.raises(InvalidField) as err:
        parse(Schema([field]), {"move_type": "Import"}, SETTINGS)
    assert err.value.details["allowed"] == list(SETTINGS.emodal_move_types)
    assert parse(Schema([field]), {"move_type": "drop empty"}, SETTINGS)["move_type"] == "DROP EMPTY"


def test_container_normalized_and_validated():
    assert one("container", "mscu 516575-6") == "MSCU5165756"
    with pytest.raises(InvalidContainerNumber) as err:
        one("container", "MSCU516575")
    assert err.value.details["reason"] == "format"
    with pytest.raises(InvalidContainerNumber) as err:
        one("container", "MSCU5165757")
    assert err.value.details["reason"] == "check_digit" and err.value.details["expected"] == 6


def test_check_digit_can_be_disabled():
    lenient = Settings(validate_check_digit=False)
    assert parse(Schema([Field("c", "container")]), {"c": "MSCU5165757"}, lenient)["c"] == "MSCU5165757"


def test_container_list_names_every_offender():
    with pytest.raises(InvalidContainerNumber) as err:
        one("container_list", ["MSCU5165756", "bad", "MSCU5165757"])
    assert [i["value"] for i in err.value.details["invalid"]] == ["BAD", "MSCU5165757"]
    with pytest.raises(InvalidField):
        one("container_list", "MSCU5165756")


def test_aliases_apply_only_when_the_name_is_absent():
    schema = business_schema([])
    assert parse(schema, {"capture_screens": "true"}, SETTINGS)["debug"] is True
    assert parse(schema, {"debug": False, "capture_screens": True}, SETTINGS)["debug"] is False


def test_conditional_required_and_checks_order():
    calls = []

    def check(params, settings):
        calls.append(dict(params))

    schema = Schema([Field("kind", "enum", allowed=("import", "export"), default="import"),
                     Field("container_id", "container", required=lambda p: p["kind"] == "import")],
                    checks=[check])
    with pytest.raises(MissingFields):
        parse(schema, {}, SETTINGS)
    assert calls == []
    assert parse(schema, {"kind": "EXPORT"}, SETTINGS)["container_id"] is None
    assert calls[-1]["kind"] == "export"


def test_date_kind_and_absent_values():
    assert one("date", "11/25/2025") == datetime.date(2025, 11, 25)
    assert one("date", "2025-11-25") == datetime.date(2025, 11, 25)
    with pytest.raises(InvalidField):
        one("date", "25.11.2025")
    assert parse(Schema([Field("own_chassis", "bool", absent_values=("ignore",))]),
                 {"own_chassis": "IGNORE"}, SETTINGS)["own_chassis"] is None


def test_redact_drops_secrets():
    assert redact({"password": "p", "captcha_api_key": "k", "pin_code": "1", "terminal": "T"}) == {"terminal": "T"}
