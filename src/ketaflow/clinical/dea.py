"""DEA registration numbers: the shape and the check digit (no Django).

A DEA registration number is two letters then seven digits; the seventh digit is a check digit.
The DEA describes the check as: add the first, third and fifth digits; add the second, fourth
and sixth digits and double that sum; the last digit of the total of the two is the seventh
digit. Source: U.S. Drug Enforcement Administration, Diversion Control Division, "Pharmacist's
Manual: An Informational Outline of the Controlled Substances Act" (section on verifying a
practitioner's DEA registration number; the section was not re-read from this machine, which
has no access to the document: the rule below is the one the issue quotes). Worked example:
AB1234563 is (1 + 3 + 5) + 2 x (2 + 4 + 6) = 9 + 24 = 33, check digit 3.

The first letter names the registrant type and the second is usually the initial of the
registrant's name; KetaFlow checks only the shape (two letters) and the check digit, which
catches a mistyped or invented number. Whether the registration is current is for the DEA's
own registration validation service, not this function.
"""

from __future__ import annotations

import re

from ketaflow.clinical.errors import ClinicalInputError

DEA_NUMBER_RE = re.compile(r"^[A-Z]{2}[0-9]{7}$")


def dea_check_digit(digits: str) -> int:
    """The check digit of the first six digits ``d1..d6``: last digit of
    (d1 + d3 + d5) + 2 x (d2 + d4 + d6)."""
    if len(digits) != 6 or not digits.isdigit():
        raise ClinicalInputError("give the six digits before the check digit", field="dea_number")
    d = [int(c) for c in digits]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def dea_number_normalised(text: str) -> str:
    """``text`` as a DEA number (upper case, spaces removed) if its shape and check digit are
    right; else :class:`ClinicalInputError` naming the rule it breaks."""
    number = "".join(text.split()).upper()
    if not DEA_NUMBER_RE.match(number):
        raise ClinicalInputError(
            f"{text.strip() or 'an empty value'} is not a DEA number: two letters then seven "
            "digits (e.g. AB1234563)",
            field="dea_number",
        )
    expected = dea_check_digit(number[2:8])
    if int(number[8]) != expected:
        raise ClinicalInputError(
            f"{number} is not a valid DEA number: its check digit is {number[8]}, the digits "
            f"give {expected} (last digit of (d1+d3+d5) + 2 x (d2+d4+d6))",
            field="dea_number",
        )
    return number
