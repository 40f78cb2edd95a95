"""Reads of the registry that the pages and the API share."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from ketaflow.accounts.models import User
from ketaflow.patients.access import patients_for_user
from ketaflow.patients.models import Patient
from ketaflow.patients.search import NotADate, typed_date


@dataclass
class Search:
    """The patients found, and a hint for each word that looked like a date but was none."""

    patients: QuerySet[Patient]
    hints: list[str] = field(default_factory=list)


def patient_search(user: User, query: str, *, include_inactive: bool = False) -> Search:
    """The patients ``user`` may list, narrowed by every word of ``query`` (a name, the record
    number, a phone number or a date of birth as the front desk types it); all of them for an
    empty query. Inactive (deactivated or merged) records only when asked for."""
    from ketaflow.patients import services

    patients = patients_for_user(user)
    if not include_inactive:
        patients = patients.filter(active=True)
    hints: list[str] = []
    day_first = services.slashes_day_first(user.clinic_id) if user.clinic_id else False
    for term in query.split():
        match = (
            Q(given_name__icontains=term)
            | Q(family_name__icontains=term)
            | Q(preferred_name__icontains=term)
            | Q(mrn__iexact=term)
            | Q(phone__icontains=term)
        )
        try:
            born = typed_date(term, slashes_day_first=day_first)
        except NotADate as exc:
            hints.append(str(exc))
        else:
            if born is not None:
                match = Q(date_of_birth=born)
        patients = patients.filter(match)
    return Search(patients, hints)
