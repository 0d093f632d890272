"""ISO 6346 validation and the dropdown matching rule (API_SPEC 1.5, 4.7, 6.2)."""
from __future__ import annotations

import pytest

from emodal.errors import InvalidContainerNumber, OptionNotAvailable
from emodal.validation import (
    check_digit,
    match_option,
    normalize_container_number,
    normalize_option,
    validate_container_list,
    validate_container_number,
)

SPEC_VALID = ["MSCU5165756", "TCLU3648865", "MSDU5772413", "TRHU1866154"]
# PORTAL_SPEC A12.1 real examples and B4 sandbox fixtures all carry valid check digits.
MORE_VALID = ["CAIU7181746", "TCLU8784503", "MEDU7894898", "YMMU1089936", "EISU1654618",
              "MSCU1000017", "TGBU2000026", "TRHU4000040", "HDMU5000052", "TCLU9000099"]


@pytest.mark.parametrize("number", SPEC_VALID + MORE_VALID)
def test_valid_numbers_pass_unchanged(number: str) -> None:
    assert validate_container_number(number) == number
    assert check_digit(number[:10]) == int(number[10])


@pytest.mark.parametrize("raw", ["mscu5165756", " MSCU 516575-6 ", "mscu-5165756", "MSCU\t5165756"])
def test_normalization_upper_cases_and_strips_separators(raw: str) -> None:
    assert normalize_container_number(raw) == "MSCU5165756"
    assert validate_container_number(raw) == "MSCU5165756"


@pytest.mark.parametrize("raw", ["MSCU516575", "MSCA5165756", "MSC5165756", "MSCU51657567",
                                 "1SCU5165756", "MSCU516575X", "", "MSCU_5165756"])
def test_format_errors(raw: str) -> None:
    with pytest.raises(InvalidContainerNumber) as info:
        validate_container_number(raw, field="container_id")
    err = info.value
    assert err.status == 400 and err.error_type == "invalid_container_number"
    assert err.details["reason"] == "format"
    assert err.details["field"] == "container_id"


def test_non_string_is_a_format_error() -> None:
    with pytest.raises(InvalidContainerNumber) as info:
        validate_container_number(12345678901)
    assert info.value.details["reason"] == "format"


def test_wrong_check_digit_reports_expected() -> None:
    with pytest.raises(InvalidContainerNumber) as info:
        validate_container_number("MSCU5165757")
    assert info.value.details["reason"] == "check_digit"
    assert info.value.details["expected"] == 6
    assert "expected 6" in info.value.message


def test_check_digit_switch_keeps_the_format_check() -> None:
    assert validate_container_number("MSCU5165757", validate_check_digit=False) == "MSCU5165757"
    with pytest.raises(InvalidContainerNumber):
        validate_container_number("MSCU516575", validate_check_digit=False)


def test_j_and_z_categories_are_accepted() -> None:
    for category in "JZ":
        first_ten = f"ABC{category}123456"
        number = first_ten + str(check_digit(first_ten))
        assert validate_container_number(number) == number


def test_remainder_ten_maps_to_zero() -> None:
    # Find a serial whose sum mod 11 is 10: its check digit must be 0.
    for serial in range(1000):
        first_ten = f"MSCU{serial:06d}"
        total = sum((int(c) if c.isdigit() else {"M": 24, "S": 30, "C": 13, "U": 32}[c]) << i
                    for i, c in enumerate(first_ten))
        if total % 11 == 10:
            assert check_digit(first_ten) == 0
            return
    pytest.fail("no serial with remainder 10 found")


def test_list_validation_names_every_offender() -> None:
    with pytest.raises(InvalidContainerNumber) as info:
        validate_container_list(["MSCU5165756", "MSCU516575", "MSCU5165757"], field="import_containers")
    invalid = info.value.details["invalid"]
    assert [item["index"] for item in invalid] == [1, 2]
    assert [item["reason"] for item in invalid] == ["format", "check_digit"]
    assert validate_container_list(["mscu 5165756"], field="x") == ["MSCU5165756"]


# --- matching rule ---------------------------------------------------------------------------------
TERMINALS = ["Everport Terminal Services - Los Angeles", "TraPac LLC - Los Angeles",
             "TraPac - Oakland", "SSAT - Terminal 5", "SSAT - Terminal 30"]


@pytest.mark.parametrize("requested,expected", [
    ("TRAPAC LLC-LOS ANGELES", "TraPac LLC - Los Angeles"),
    ("  trapac   llc -  los angeles ", "TraPac LLC - Los Angeles"),
    ("ＳＳＡＴ - Terminal 5", "SSAT - Terminal 5"),  # full-width letters fold under NFKC
    ("ssat-terminal 30", "SSAT - Terminal 30"),
])
def test_match_option_equivalences(requested: str, expected: str) -> None:
    assert match_option(requested, TERMINALS, field="terminal") == expected


@pytest.mark.parametrize("requested", ["TraPac", "SSAT - Terminal", "Los Angeles", "SSAT - Terminal 3"])
def test_no_partial_or_prefix_match(requested: str) -> None:
    with pytest.raises(OptionNotAvailable) as info:
        match_option(requested, TERMINALS, field="terminal")
    err = info.value
    assert err.status == 422 and err.error_type == "option_not_available"
    body = err.body()
    assert body["field"] == "terminal"
    assert body["requested"] == requested
    assert body["available_options"] == TERMINALS


def test_ambiguous_match_is_refused() -> None:
    with pytest.raises(OptionNotAvailable):
        match_option("abc", ["ABC", "abc "], field="line")


def test_normalize_option_examples() -> None:
    assert normalize_option("B & T  DRAYAGE LLC ") == "b & t drayage llc"
    assert normalize_option("Straße") == normalize_option("STRASSE")
