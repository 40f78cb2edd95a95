"""Recording scored instruments. The score always comes from ``ketaflow.clinical``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.clinical import Instrument, score, to_jsonable
from ketaflow.clinical.instruments import parse_yes_no, suicide_risk
from ketaflow.patients.models import Patient


def parse_answers(instrument: Instrument, text: str) -> list[int] | list[bool]:
    """Answers as typed in a form: ``"0,1,2"`` (ratings) or ``"y,n,..."`` (C-SSRS)."""
    items = [item.strip().lower() for item in text.replace(" ", ",").split(",") if item.strip()]
    if instrument is Instrument.CSSRS:  # y/yes/n/no, as ketaflow.clinical reads them
        return [parse_yes_no(item, what=f"answers: item {n}") for n, item in enumerate(items, 1)]
    ratings: list[int] = []
    for number, item in enumerate(items, start=1):
        if not item.lstrip("-").isdigit():
            raise ValueError(f"answers: item {number} must be a whole number, not {item!r}")
        ratings.append(int(item))
    return ratings


@transaction.atomic
def response_store(
    *,
    actor: Actor,
    patient: Patient,
    instrument: str,
    answers: Sequence[int] | Sequence[bool],
    context: str = "",
    session_id: int | None = None,
    taken_at: dt.datetime | None = None,
    source: str = InstrumentResponse.Source.CLINIC,
) -> InstrumentResponse:
    """Score ``answers`` and store them, audited. Incomplete or out-of-range answers raise
    ``ketaflow.clinical.ClinicalInputError`` (a ValueError) naming the item; nothing is stored.

    Only the storing: callers record an answer through ``ketaflow.portal.answers.
    response_record``, which also raises the urgent safety task and refreshes the outcome
    rules (the one path from an answer; this app imports neither)."""
    code = Instrument(instrument)
    result = score(code, list(answers))
    total = Decimal(str(result.total))
    flag, risk = suicide_risk(result)
    response = InstrumentResponse(
        patient=patient,
        instrument=code.value,
        answers=list(answers),
        total=total,
        result=to_jsonable(result),
        suicide_risk_flag=flag,
        risk_level=risk.value if risk is not None else "",
        taken_at=taken_at or timezone.now(),
        source=source,
        entered_by=actor.user,
        infusion_session_id=session_id,
        context=context,
    )
    response.full_clean()
    response.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="instrument_response",
        object_id=response.pk,
        patient_id=patient.pk,
        summary=f"recorded {code.label} total {result.total}"
        + (" (suicide-risk flag)" if flag else ""),
    )
    return response
