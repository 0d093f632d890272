"""Input rules shared by every route: ISO 6346 container numbers and the dropdown matching rule.

Why one module: container numbers arrive on six routes (API_SPEC 1.5, 6.2) and dropdown values on
two (4.7, 4.8). v1 validated neither, so a typo such as ``MSCU516575`` cost a full login and a
450-row scroll before failing, and a partial option match silently booked the wrong terminal.
Both rules are pure functions here so the HTTP layer can reject bad input before any browser is
touched, and the page objects apply exactly the same comparison the API promises.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from stdnum import iso6346

from emodal.errors import InvalidContainerNumber, OptionNotAvailable

#: Owner code (3 letters), equipment category (U freight, J detachable, Z trailer), 6-digit
#: serial, check digit (API_SPEC 6.2; stricter than python-stdnum's format, which also takes an R
#: category and digits in the owner code). Applied after :func:`normalize_container_number`.
CONTAINER_RE = re.compile(r"^[A-Z]{3}[UJZ][0-9]{7}$")

#: Separators users paste from e-mails and spreadsheets ("MSCU 516575-6"); removed before checking.
_SEPARATORS_RE = re.compile(r"[\s\-]+")


def normalize_container_number(raw: str) -> str:
    """Upper-case and strip spaces/hyphens (API_SPEC 1.5); no validation."""
    return _SEPARATORS_RE.sub("", str(raw)).upper()


def container_number_problem(raw: Any, *, validate_check_digit: bool = True) -> dict[str, Any] | None:
    """Return why ``raw`` is not a valid container number (``None`` when it is).

    Why a non-raising variant: ``/get_info_bulk`` must report *every* offender at once in
    ``details.invalid`` instead of stopping at the first.
    """
    if not isinstance(raw, str):
        return {"value": raw, "reason": "format"}
    number = normalize_container_number(raw)
    if not CONTAINER_RE.match(number):
        return {"value": number, "reason": "format"}
    # The check digit comes from python-stdnum; the sandbox keeps its own copy as an independent oracle.
    expected = int(iso6346.calc_check_digit(number[:10]))
    if validate_check_digit and int(number[10]) != expected:
        return {"value": number, "reason": "check_digit", "expected": expected}
    return None


def validate_container_number(
    raw: Any, *, field: str = "container_id", validate_check_digit: bool = True
) -> str:
    """Return the normalized number or raise :class:`InvalidContainerNumber` (400).

    ``details`` carries ``field``, ``value``, ``reason`` (``format`` | ``check_digit``) and, for
    a wrong check digit, ``expected`` so the caller can spot a typo. ``validate_check_digit``
    mirrors ``VALIDATE_CHECK_DIGIT`` (some carriers issue non-compliant numbers).
    """
    problem = container_number_problem(raw, validate_check_digit=validate_check_digit)
    if problem is None:
        return normalize_container_number(raw)
    value = problem["value"]
    if problem["reason"] == "format":
        message = (f"Invalid container number '{value}': expected 4 letters (the 4th U, J or Z) "
                   "and 7 digits, e.g. MSCU5165756")
    else:
        message = (f"Invalid container number '{value}': check digit {value[10]} is wrong, "
                   f"expected {problem['expected']}")
    raise InvalidContainerNumber(message, details={"field": field, **problem})


def validate_container_list(
    items: Iterable[Any], *, field: str, validate_check_digit: bool = True
) -> list[str]:
    """Normalize a list of numbers, raising one error naming every offender (``details.invalid``)."""
    numbers: list[str] = []
    invalid: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        problem = container_number_problem(raw, validate_check_digit=validate_check_digit)
        if problem is None:
            numbers.append(normalize_container_number(raw))
        else:
            invalid.append({"field": field, "index": index, **problem})
    if invalid:
        shown = ", ".join(str(item["value"]) for item in invalid)
        raise InvalidContainerNumber(
            f"Invalid container number(s) in '{field}': {shown}",
            details={"field": field, "invalid": invalid},
        )
    return numbers


# --- dropdown matching rule (API_SPEC 4.7) -------------------------------------------------------
_WHITESPACE_RE = re.compile(r"\s+")
# The portal writes terminal names both as "TraPac LLC - Los Angeles" (wizard) and
# "TRAPAC LLC-LOS ANGELES" (detail panel header, A7.7); callers copy either form.
_SPACED_HYPHEN_RE = re.compile(r"\s*-\s*")


def normalize_option(text: str) -> str:
    """Canonical form of a dropdown text: NFKC, trimmed, whitespace collapsed, case-folded, " - " == "-"."""
    folded = unicodedata.normalize("NFKC", str(text))
    folded = _WHITESPACE_RE.sub(" ", folded).strip().casefold()
    return _SPACED_HYPHEN_RE.sub("-", folded)


def match_option(requested: str, options: Sequence[str], *, field: str) -> str:
    """Return the single option equal to ``requested`` under :func:`normalize_option`.

    No substring, prefix or "closest" match and no fallback (v1 booked the first plate when the
    requested one was missing). Zero or several matches raise :class:`OptionNotAvailable` (422)
    with ``field``, ``requested`` and every offered text in ``available_options``.
    """
    wanted = normalize_option(requested)
    matches = [option for option in options if normalize_option(option) == wanted]
    if len(matches) == 1:
        return matches[0]
    reason = "is not offered" if not matches else f"matches {len(matches)} options"
    raise OptionNotAvailable(
        f"{field} '{requested}' {reason}",
        field=field,
        requested=requested,
        available_options=list(options),
    )


__all__ = [
    "CONTAINER_RE",
    "container_number_problem",
    "match_option",
    "normalize_container_number",
    "normalize_option",
    "validate_container_list",
    "validate_container_number",
]
