"""The one path from a questionnaire answer to everything it decides.

Every answer, from the portal, the chair, the REST API or a FHIR QuestionnaireResponse, is
recorded by :func:`response_record`, which in one transaction scores and stores it
(``assessments.services.response_store``) and raises the urgent safety task it calls for
(``portal.safety.response_flagged``: a PHQ-9 item 9 above 0, a C-SSRS at moderate or high
risk), and, once that transaction has committed, refreshes the outcome status and the booster
rule (``outcomes.services.refresh_after_commit``). No signal, no write on a page view, and the
services of the lower apps (assessments, outcomes) import nothing of this one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.assessments.services import response_store
from ketaflow.audit.context import Actor
from ketaflow.outcomes.services import refresh_after_commit
from ketaflow.patients.models import Patient
from ketaflow.portal.safety import response_flagged


@transaction.atomic
def response_record(
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
    """Score and store ``answers``, raise the urgent safety task they call for (same
    transaction: the answer and its task are stored together or not at all), then refresh the
    patient's outcome rules after the commit. Bad answers raise
    ``ketaflow.clinical.ClinicalInputError`` naming the item; nothing is stored."""
    response = response_store(
        actor=actor,
        patient=patient,
        instrument=instrument,
        answers=answers,
        context=context,
        session_id=session_id,
        taken_at=taken_at,
        source=source,
    )
    response_flagged(actor=actor, response=response)
    refresh_after_commit(response)
    return response
