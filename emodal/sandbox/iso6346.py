"""Check digits for generated identifiers (PORTAL_SPEC B8.2).

The sandbox must emit container numbers and vessel IMO codes that pass the same
validation the service applies to real data, so every generated identifier gets a
genuine check digit rather than a random one.
"""
from __future__ import annotations

import string

# ISO 6346 letter values skip multiples of 11 (11, 22, 33), hence the gaps.
_LETTER_VALUES: dict[str, int] = {}
_value = 10
for _letter in string.ascii_uppercase:
    if _value % 11 == 0:
        _value += 1
    _LETTER_VALUES[_letter] = _value
    _value += 1
del _letter, _value


def _weighted_mod11(owner_and_serial: str) -> int:
    """Return sum(value_i * 2**i) mod 11 over the first ten characters."""
    if len(owner_and_serial) != 10 or not owner_and_serial[:4].isalpha() or not owner_and_serial[4:].isdigit():
        raise ValueError(f"expected 4 letters + 6 digits, got {owner_and_serial!r}")
    total = 0
    for i, char in enumerate(owner_and_serial.upper()):
        value = _LETTER_VALUES[char] if char.isalpha() else int(char)
        total += value * (2 ** i)
    return total % 11


def has_ambiguous_check_digit(owner_and_serial: str) -> bool:
    """True when mod 11 is 10: such serials are skipped (B8.2 step 4) because the
    digit would collapse to 0 and clash with a genuine 0."""
    return _weighted_mod11(owner_and_serial) == 10


def check_digit(owner_and_serial: str) -> int:
    """ISO 6346 check digit of ``'MSCU100001'``-like text (mod 11, then mod 10)."""
    return _weighted_mod11(owner_and_serial) % 10


def container_number(owner: str, serial: int) -> str | None:
    """Full 11-character number, or None when the serial must be skipped."""
    base = f"{owner.upper()}{serial:06d}"
    if has_ambiguous_check_digit(base):
        return None
    return f"{base}{check_digit(base)}"


def is_valid_container_number(number: str) -> bool:
    """True for a well-formed number whose 11th character is its check digit.

    Serials with mod 11 == 10 are valid (digit 0), only never generated: the fixture
    ``TRHU4000040`` of B4 is one of them.
    """
    if len(number) != 11 or not number[10].isdigit():
        return False
    try:
        return check_digit(number[:10]) == int(number[10])
    except ValueError:
        return False


def imo_check_digit(first_six: str) -> int:
    """IMO ship number check digit: digits weighted 7..2, summed, mod 10."""
    if len(first_six) != 6 or not first_six.isdigit():
        raise ValueError(f"expected 6 digits, got {first_six!r}")
    return sum(int(d) * w for d, w in zip(first_six, range(7, 1, -1))) % 10


def imo_number(first_six: str) -> str:
    """Full 7-digit IMO code for the given first six digits."""
    return f"{first_six}{imo_check_digit(first_six)}"


def is_valid_imo(code: str) -> bool:
    """True for a 7-digit IMO code with a correct check digit."""
    return len(code) == 7 and code.isdigit() and imo_check_digit(code[:6]) == int(code[6])
