"""Safety escalation: a suicidal answer becomes an urgent task for the patient's clinicians in the
same transaction as the answer, so that it cannot be lost if email or the worker is down.

Raised by (clinical.md s. 5):
- a PHQ-9 with item 9 above 0 (Kroenke 2001: any score > 0 calls for a suicide risk assessment);
- a C-SSRS screener at moderate or high risk (Posner 2011, Columbia triage version), whether
  recorded in clinic or in the portal;
- a portal comment matching one of the clinic's review terms.

``response_flagged`` is called by ``ketaflow.assessments.services.response_record`` for every
response it saves. The clinicians' email notice goes through the outbox, without patient data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, Role
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.clinical.instruments import PHQ9_SUICIDE_ITEM
from ketaflow.patients.models import Patient
from ketaflow.portal.models import UrgentTask
from ketaflow.portal.outbox import enqueue_urgent

Code = InstrumentResponse.InstrumentCode


def review_terms_matched(text: str, terms: Iterable[str]) -> list[str]:
    """The clinic's review terms found in ``text`` (case-insensitive, whole words or phrases)."""
    found: list[str] = []
    for term in terms:
        term = term.strip()
        if not term:
            continue
        words = [re.escape(w) for w in re.split(r"[\s-]+", term)]
        pattern = r"(?<!\w)" + r"[\s-]+".join(words) + r"(?!\w)"
        if re.search(pattern, text, flags=re.IGNORECASE):
            found.append(term)
    return found


def flag_reasons(response: InstrumentResponse) -> list[str]:
    """Why this response raises a task (empty if it does not)."""
    if not response.suicide_risk_flag:
        return []
    if response.instrument == Code.PHQ9:
        item9 = int(response.answers[PHQ9_SUICIDE_ITEM - 1])
        return [
            f"PHQ-9 item {PHQ9_SUICIDE_ITEM} (thoughts of being better off dead or of self-harm) "
            f"answered {item9}"
        ]
    if response.instrument == Code.CSSRS:
        return [f"C-SSRS screener: {response.risk_level} risk"]
    return [f"{response.get_instrument_display()}: suicide-risk flag"]


def clinicians_of(clinic_id: int) -> list[User]:
    """Active staff of the clinic whose role acknowledges urgent tasks."""
    staff = User.objects.filter(clinic_id=clinic_id, is_active=True).exclude(role=Role.PATIENT)
    return [u for u in staff.order_by("pk") if u.may(Perm.ACKNOWLEDGE_URGENT)]


@transaction.atomic
def urgent_task_raise(
    *,
    actor: Actor,
    patient: Patient,
    reasons: Sequence[str],
    response: InstrumentResponse | None = None,
) -> UrgentTask:
    """Open an urgent task (or add reasons to the open task of the same response), queue the
    clinicians' email notice, and audit it, all in the caller's transaction."""
    existing = (
        UrgentTask.objects.select_for_update()
        .filter(response=response, acknowledged_at__isnull=True)
        .first()
        if response is not None
        else None
    )
    if existing is not None:
        existing.reasons = [*existing.reasons, *[r for r in reasons if r not in existing.reasons]]
        existing.save(update_fields=["reasons"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="urgent_task",
            object_id=existing.pk,
            patient_id=patient.pk,
            summary="urgent task: " + "; ".join(reasons),
        )
        return existing
    task = UrgentTask(
        clinic_id=patient.clinic_id, patient=patient, response=response, reasons=list(reasons)
    )
    task.full_clean()
    task.save()
    recipients = [u.email for u in clinicians_of(patient.clinic_id) if u.email]
    for address in recipients:
        enqueue_urgent(address)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="urgent_task",
        object_id=task.pk,
        patient_id=patient.pk,
        summary="urgent task raised: " + "; ".join(reasons),
        detail={"emails_queued": len(recipients)},
    )
    return task


def response_flagged(*, actor: Actor, response: InstrumentResponse) -> UrgentTask | None:
    """The hook of ``response_record``: raise a task if the response carries a suicide-risk
    flag (PHQ-9 item 9 above 0, C-SSRS moderate or high)."""
    reasons = flag_reasons(response)
    if not reasons:
        return None
    return urgent_task_raise(
        actor=actor, patient=response.patient, reasons=reasons, response=response
    )


@transaction.atomic
def urgent_task_acknowledge(
    *, actor: Actor, task: UrgentTask, action_taken: str, note: str
) -> UrgentTask:
    """Close the task, recording who, when and the action taken."""
    locked = UrgentTask.objects.select_for_update().get(pk=task.pk)
    if locked.acknowledged_at is not None:
        raise ValueError("This task was already acknowledged.")
    if action_taken not in UrgentTask.Action.values:
        raise ValueError("Choose the action taken.")
    if not note.strip():
        raise ValueError("Describe the action taken.")
    locked.acknowledged_by = actor.user
    locked.acknowledged_at = timezone.now()
    locked.action_taken = action_taken
    locked.action_note = note.strip()
    locked.full_clean()
    locked.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="urgent_task",
        object_id=locked.pk,
        patient_id=locked.patient_id,
        summary=f"urgent task acknowledged: {locked.get_action_taken_display()}",
        detail={"action_taken": action_taken},
    )
    return locked
