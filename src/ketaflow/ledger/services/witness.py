"""The second person who signs at the time with their own password: the witness of a waste,
a destruction or a receipt reversal, and the second counter of a count (one rule for all)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth import authenticate
from django.http import HttpRequest

from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import User
from ketaflow.accounts.signin import is_locked_request
from ketaflow.ledger.services.base import (
    refuse,
)


def witness_verify(
    *,
    user: User,
    username: str,
    password: str,
    on: dt.date,
    request: HttpRequest | None = None,
    field_name: str = "witness_username",
    not_also: Iterable[User] = (),
    who: str = "witness",
) -> User:
    """The witness, who signs at the time with their own username and password (checked with
    Django's ``authenticate``; the password is never stored). A second, different person of the
    same clinic whose role may witness a waste and whose credentials are current today."""
    if not username.strip() or not password:
        raise refuse(field_name, f"the {who} signs with their own username and password")
    # The password check counts against the witness's account and the address like a login
    # (django-axes, ketaflow.accounts.signin): no guessing a colleague's password here either.
    # Without a request (a command, the demo) only the account's limit applies.
    checked = request if request is not None else HttpRequest()
    witness = authenticate(checked, username=username.strip(), password=password)
    if is_locked_request(checked):
        checked.axes_locked_out = False  # type: ignore[attr-defined]  # the form says it
        raise refuse(field_name, f"the {who}'s sign-in is paused after too many failed attempts")
    if not isinstance(witness, User):
        raise refuse(field_name, f"the {who}'s username or password is wrong")
    witness_rules(
        user=user, witness=witness, on=on, field_name=field_name, not_also=not_also, who=who
    )
    return witness


def witness_rules(
    *,
    user: User,
    witness: User,
    on: dt.date,
    field_name: str = "witness_username",
    not_also: Iterable[User] = (),
    who: str = "witness",
) -> None:
    """The rule for a witness or a second counter, once their password is checked (by
    :func:`witness_verify`, or by the caller for the demo loader's own staff): another person
    than ``user`` (and than ``not_also``), of the same clinic, whose credentials let them
    witness on ``on``."""
    if witness.pk == user.pk:
        raise refuse(field_name, f"the {who} must be a second person, not the one recording")
    if any(witness.pk == other.pk for other in not_also):
        raise refuse(field_name, f"each {who} must be a different person")
    if witness.clinic_id != user.clinic_id:
        raise refuse(field_name, f"the {who} must be a member of staff of this clinic")
    check = credential_check(witness, ClinicalAct.WITNESS, on=on)
    if not check.ok:
        raise refuse(field_name, f"the {who} may not witness: " + "; ".join(check.problems))
