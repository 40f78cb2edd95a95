"""Reads of the registry that the pages and the API share: one function a page, each returning
a typed dataclass (its :meth:`Page.context` is what the template sees). Views call an access
function first (:mod:`ketaflow.patients.access`), then a selector; they never query the
database themselves. Writes are in :mod:`ketaflow.patients.services`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.patients.access import patients_for_user
from ketaflow.patients.models import (
    Allergy,
    ClinicalNote,
    CurrentMedication,
    Diagnosis,
    MedicationTrial,
    Patient,
    PatientRecord,
    PsychotherapyTrial,
)
from ketaflow.patients.search import NotADate, typed_date
from ketaflow.prepared import Prepared, related_read, related_rows

PAGE_SIZE = 50  # patients a list shows
# What the chart's list of infusion sessions shows of each (the session row has some fifty
# columns): the link, status, delivered dose, its signer and time, the appointment's start.
SESSION_LIST_FIELDS = (
    "id",
    "patient",  # the related manager sets each row's patient from it
    "status",
    "delivered_dose_mg",
    "locked",
    "signed_at",
    "appointment",
    "appointment__starts_at",
    "signed_by",
    *(f"signed_by__{name}" for name in User.NAME_FIELDS),
)


@dataclass
class Page:
    """A page's data; :meth:`context` hands its fields to the template by name."""

    def context(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


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


@dataclass
class ListPage(Page):
    patients: list[Patient]
    query: str
    hints: list[str]
    include_inactive: bool
    truncated: bool
    may_register: bool


def list_page(user: User, query: str, *, include_inactive: bool) -> ListPage:
    """The first ``PAGE_SIZE`` patients of :func:`patient_search`."""
    found = patient_search(user, query, include_inactive=include_inactive)
    shown = list(found.patients[:PAGE_SIZE])
    return ListPage(
        patients=shown,
        query=query,
        hints=found.hints,
        include_inactive=include_inactive,
        truncated=len(shown) == PAGE_SIZE,
        may_register=user.may(Perm.REGISTER_PATIENT),
    )


def own_record(user: User) -> Patient | None:
    """A patient's own record (the portal login's), else ``None``."""
    if not user.may(Perm.VIEW_OWN_RECORD):
        return None
    return patients_for_user(user).first()


# The chart's sections, in the order the access log names them.
CHART_SECTIONS = ["demographics", "contacts"]
CLINICAL_SECTIONS = [
    "candidacy and consent",
    "courses",
    "infusion sessions",
    "outcomes",
    "allergies",
    "medications",
    "diagnoses",
    "treatment history",
    "notes",
]


@dataclass
class ChartPage(Page):
    patient: Patient
    age: int
    show_clinical: bool
    may_edit_demographics: bool
    may_edit_clinical: bool
    may_write_note: bool
    may_export: bool
    may_view_access_history: bool
    may_manage_registry: bool
    merged_duplicates: list[Patient]
    allergies: list[Allergy] = field(default_factory=list)
    medications: list[CurrentMedication] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    psychotherapy: list[PsychotherapyTrial] = field(default_factory=list)
    medication_trials: list[MedicationTrial] = field(default_factory=list)
    notes: list[ClinicalNote] = field(default_factory=list)
    courses: list[Any] = field(default_factory=list)  # treatment.Course
    # Staff only: a patient's own view of the chart does not list the infusion sessions.
    show_infusion_sessions: bool = False
    infusion_sessions: list[Any] = field(default_factory=list)  # infusions.InfusionSession

    @property
    def sections(self) -> list[str]:
        """What the page shows, for the access log."""
        clinical = [
            s for s in CLINICAL_SECTIONS if s != "infusion sessions" or self.show_infusion_sessions
        ]
        return CHART_SECTIONS + (clinical if self.show_clinical else [])


def chart_page(user: User, patient: Patient) -> ChartPage:
    """The chart of ``patient`` as ``user`` may see it: demographics and contacts for every
    reader; the clinical sections for clinical staff and for the patient themself."""
    clinical = user.may(Perm.VIEW_CLINICAL) or patient.user_id == user.pk
    page = ChartPage(
        patient=patient,
        age=patient.age_on(clinic_today(patient.clinic)),
        show_clinical=clinical,
        may_edit_demographics=user.may(Perm.EDIT_DEMOGRAPHICS),
        may_edit_clinical=user.may(Perm.EDIT_CLINICAL),
        may_write_note=user.may(Perm.WRITE_NOTE),
        may_export=user.may(Perm.EXPORT_CHART),
        may_view_access_history=user.may(Perm.VIEW_AUDIT_TRAIL),
        may_manage_registry=user.may(Perm.MANAGE_REGISTRY),
        merged_duplicates=_rows(patient, "merged_duplicates"),
    )
    if clinical:
        page.allergies = _rows(patient, "allergy_set")
        page.medications = _rows(patient, "currentmedication_set")
        page.diagnoses = _rows(patient, "diagnosis_set")
        page.psychotherapy = _rows(patient, "psychotherapytrial_set")
        page.medication_trials = _rows(patient, "medicationtrial_set")
        page.notes = _NOTES.all(patient_id=patient.pk)
        # Read here, not by the templates row by row: each infusion's appointment and signer
        # were a query a row (12 queries more for a finished induction of six).
        page.courses = _rows(patient, "courses")
        page.show_infusion_sessions = patient.user_id != user.pk
        if page.show_infusion_sessions:
            page.infusion_sessions = related_rows(patient, "infusion_sessions", _SESSION_LIST)
    return page


# The chart's reads, compiled once per process (ketaflow.prepared, issue 16): each kind of
# record by the patient's key, as the patient's related managers read them.
_CHART_RELATIONS = {
    relation: related_read(Patient, relation)
    for relation in (
        "merged_duplicates",
        "allergy_set",
        "currentmedication_set",
        "diagnosis_set",
        "psychotherapytrial_set",
        "medicationtrial_set",
        "courses",
    )
}
_NOTES = Prepared(
    lambda patient_id: ClinicalNote.objects.filter(patient_id=patient_id).select_related("author")
)
_SESSION_LIST = Prepared(
    lambda key: (
        _model_of("infusion_sessions")
        ._default_manager.filter(patient_id=key)
        .select_related("appointment", "signed_by")
        .only(*SESSION_LIST_FIELDS)
    )
)


def _model_of(relation: str) -> Any:
    """The model of the patient's reverse relation ``relation`` (this app does not import the
    apps whose records name a patient)."""
    return getattr(Patient, relation).rel.related_model


def _rows(patient: Patient, relation: str) -> list[Any]:
    return related_rows(patient, relation, _CHART_RELATIONS[relation])


def patient_for_edit(patient: Patient) -> Patient:
    """A fresh copy of ``patient`` for an edit form to change (the checked one stays as read)."""
    return Patient.objects.get(pk=patient.pk)


def record_of(patient: Patient, model: type[PatientRecord], record_id: int) -> PatientRecord:
    """One sub-record of ``patient``'s chart, else 404 (another patient's, or none)."""
    record = model._default_manager.filter(patient=patient, pk=record_id).first()
    if record is None:
        raise Http404("No such record.")
    return record


def patient_by_mrn(user: User, mrn: str) -> Patient | None:
    """The patient ``user`` may list with the record number ``mrn`` (any case), else ``None``."""
    return patients_for_user(user).filter(mrn__iexact=mrn).first()
