"""Patient login names that identify no one (security review issue 12).

A patient's username used to be their medical record number, so anyone who saw a login (a
screen, an audit line, an authenticator app's account list) learnt the MRN. A new patient login
gets a random readable handle such as ``p-7k3m9q`` instead: the clinic shows it on the
invitation page and the patient sees it when accepting the invitation and on the portal's
account page. A handle the system chooses (rather than one the patient types) can never carry a
name, birth date or record number, needs no validation against them, and exists before the
patient ever opens the link, which the invitation (a login waiting for its password) needs.

Plain Python, used by the portal's services and by its data migration ``0002``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

PREFIX = "p-"
# Lower-case letters and digits without the look-alikes 0/o, 1/l/i: easy to read out and type.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
LENGTH = 6  # 31**6 (about 8.9e8) handles: a collision is rare and retried
_ATTEMPTS = 50


def new_patient_username(taken: Callable[[str], bool]) -> str:
    """A fresh handle for which ``taken(handle)`` is False."""
    for _ in range(_ATTEMPTS):
        handle = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if not taken(handle):
            return handle
    raise RuntimeError("no free patient username found; try again")


def derived_from_mrn(username: str, mrn: str) -> bool:
    """Whether ``username`` shows the record number ``mrn`` (whole, or its run of digits),
    ignoring case and separators."""
    name = re.sub(r"[^0-9a-z]", "", username.lower())
    record = re.sub(r"[^0-9a-z]", "", mrn.lower())
    if not record:
        return False
    digits = "".join(re.findall(r"\d+", record))
    return record in name or (len(digits) >= 4 and digits in name)
