"""Reads of the registry that the pages and the API share."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ketaflow.accounts.models import User
from ketaflow.patients.access import patients_for_user
from ketaflow.patients.models import Patient


def patient_search(user: User, query: str) -> QuerySet[Patient]:
    """The patients ``user`` may list, narrowed by every word of ``query`` (a name, the record
    number or a phone number); all of them for an empty query."""
    patients = patients_for_user(user)
    for term in query.split():
        patients = patients.filter(
            Q(given_name__icontains=term)
            | Q(family_name__icontains=term)
            | Q(preferred_name__icontains=term)
            | Q(mrn__iexact=term)
            | Q(phone__icontains=term)
        )
    return patients
