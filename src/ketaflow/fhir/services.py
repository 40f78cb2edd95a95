"""The FHIR interface's audited reads and its one write (a QuestionnaireResponse imported through
the questionnaire service the portal and the chair use)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.clinical import Instrument
from ketaflow.fhir import codes
from ketaflow.patients.models import Patient
from ketaflow.patients.services import chart_viewed
from ketaflow.portal.answers import response_record

# The questionnaires a QuestionnaireResponse may be imported for: public-domain self-reports.
IMPORTABLE = (Instrument.PHQ9, Instrument.GAD7, Instrument.PCL5)


def fhir_read(*, actor: Actor, patient: Patient, what: str) -> None:
    """A FHIR read of ``patient``'s records, audited as a chart view naming the patient."""
    chart_viewed(actor=actor, patient=patient, sections=[f"{what} (FHIR)"])


def clinic_exported(*, actor: Actor, kind: str, patient_ids: list[int], count: int) -> None:
    """The bulk export of one resource type of the clinic, naming every patient it holds."""
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="fhir_export",
        object_id=kind,
        summary=f"exported {count} FHIR {kind} resources of {len(patient_ids)} patients",
        detail={"type": kind, "count": count},
        patient_ids=patient_ids,
    )


class ImportRefused(ValueError):
    """A QuestionnaireResponse that cannot be recorded: ``element`` names where, ``message``
    the rule. Nothing was written."""

    def __init__(self, element: str, message: str, *, status: int = 422) -> None:
        super().__init__(f"{element}: {message}")
        self.element = element
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ImportedAnswers:
    instrument: Instrument
    patient_id: int
    answers: list[int]
    taken_at: dt.datetime


def _instrument(questionnaire: str | None, identifier: Any) -> Instrument:
    for instrument in IMPORTABLE:
        if questionnaire and questionnaire.rstrip("/").endswith(
            f"{codes.QUESTIONNAIRE}/{instrument.value}"
        ):
            return instrument
        panel = codes.INSTRUMENT_CODES[instrument].panel
        if (
            identifier is not None
            and panel is not None
            and getattr(identifier, "system", None) == codes.LOINC
            and getattr(identifier, "value", None) == panel.code
        ):
            return instrument
    names = ", ".join(f"{codes.QUESTIONNAIRE}/{i.value}" for i in IMPORTABLE)
    raise ImportRefused(
        "QuestionnaireResponse.questionnaire",
        f"must name one of the questionnaires that can be imported ({names}), or carry the "
        "questionnaire's LOINC panel as identifier",
    )


def answers_of(parsed: Any) -> ImportedAnswers:
    """The instrument, patient, answers and time of a parsed R4B QuestionnaireResponse; else
    ImportRefused naming the element and the rule."""
    if parsed.status != "completed":
        raise ImportRefused(
            "QuestionnaireResponse.status", f"must be 'completed', not {parsed.status!r}"
        )
    instrument = _instrument(parsed.questionnaire, parsed.identifier)
    reference = parsed.subject.reference if parsed.subject is not None else None
    kind, _, number = (reference or "").rpartition("/")
    if kind != "Patient" or not number.isdigit() or len(number) > 18:
        raise ImportRefused(
            "QuestionnaireResponse.subject",
            "must reference the patient as Patient/<id>",
            status=400,
        )
    authored = parsed.authored
    if not isinstance(authored, dt.datetime) or authored.tzinfo is None:
        raise ImportRefused(
            "QuestionnaireResponse.authored",
            "give when it was answered as a date and time with its offset, e.g. "
            "2026-11-30T09:15:00-05:00",
        )
    by_number: dict[int, int] = {}
    for position, item in enumerate(parsed.item or []):
        where = f"QuestionnaireResponse.item[{position}]"
        link = item.linkId or ""
        if not link.isdigit() or not 1 <= int(link) <= 99:
            raise ImportRefused(f"{where}.linkId", "must be the item's number, 1, 2, ...")
        if int(link) in by_number:
            raise ImportRefused(f"{where}.linkId", f"item {link} is answered twice")
        answers = item.answer or []
        if len(answers) != 1 or answers[0].valueInteger is None:
            raise ImportRefused(
                f"{where}.answer", f"item {link} needs exactly one answer, as valueInteger"
            )
        by_number[int(link)] = int(answers[0].valueInteger)
    expected = list(range(1, len(by_number) + 1))
    if sorted(by_number) != expected:
        missing = sorted(set(range(1, max(by_number, default=0) + 1)) - set(by_number))
        raise ImportRefused(
            "QuestionnaireResponse.item", f"items {', '.join(map(str, missing))} are missing"
        )
    return ImportedAnswers(
        instrument=instrument,
        patient_id=int(number),
        answers=[by_number[n] for n in expected],
        taken_at=authored,
    )


def questionnaire_import(
    *, actor: Actor, patient: Patient, imported: ImportedAnswers
) -> InstrumentResponse:
    """Record the answers through ``portal.answers.response_record`` (the portal's and
    the chair's path): scored by ``ketaflow.clinical``, audited, and a PHQ-9 item 9 above 0
    raises the urgent safety task in the same transaction. A refusal of the scorer names the
    item; nothing is stored."""
    try:
        return response_record(
            actor=actor,
            patient=patient,
            instrument=imported.instrument.value,
            answers=imported.answers,
            context="fhir",
            taken_at=imported.taken_at,
        )
    except ValueError as exc:
        raise ImportRefused("QuestionnaireResponse.item", str(exc)) from None
