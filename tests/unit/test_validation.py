"""ISO 6346 validation and the dropdown matching rule (API_SPEC 1.5, 4.7, 6.2)."""
from __future__ import annotations

import pytest

from emodal.errors import InvalidContainerNumber, OptionNotAvailable
# The sandbox's own ISO 6346 code is the independent oracle of the service's (python-stdnum).
from emodal.sandbox.iso6346 import check_digit, has_ambiguous_check_digit
from emodal.validation import (
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
    # A serial whose weighted sum mod 11 is 10 has check digit 0 (mod 11, then mod 10).
    first_ten = next(f"MSCU{serial:06d}" for serial in range(1000) if has_ambiguous_check_digit(f"MSCU{serial:06d}"))
    assert validate_container_number(first_ten + "0") == first_ten + "0"
    with pytest.raises(InvalidContainerNumber) as info:
        validate_container_number(first_ten + "1")
    assert info.value.details["expected"] == 0


@pytest.mark.parametrize("owner", ["MSCU", "TCLU", "CAIU", "ZZZJ", "ABCZ", "BLVU"])
def test_check_digit_agrees_with_the_sandbox_oracle(owner: str) -> None:
    for serial in range(0, 1_000_000, 4999):
        first_ten = f"{owner}{serial:06d}"
        expected = check_digit(first_ten)
        assert validate_container_number(first_ten + str(expected)) == first_ten + str(expected)
        wrong = str((expected + 1) % 10)
        with pytest.raises(InvalidContainerNumber) as info:
            validate_container_number(first_ten + wrong)
        assert info.value.details["expected"] == expected


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
