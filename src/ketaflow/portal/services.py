"""Portal services: invitations and enrolment, the second factor, answering questionnaires, and
the audited page views. Each write runs in a transaction with its audit entry."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts import second_factor
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, Role
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.patients.models import Patient
from ketaflow.patients.services import patient_link_login
from ketaflow.portal.access import token_hash
from ketaflow.portal.answers import response_record
from ketaflow.portal.config import portal_settings
from ketaflow.portal.models import (
    DueQuestionnaire,
    EmailOutbox,
    Invitation,
    ResponseComment,
    UrgentTask,
)
from ketaflow.portal.outbox import INVITATION_BODY, INVITATION_SUBJECT, absolute, enqueue
from ketaflow.portal.safety import review_terms_matched, urgent_task_raise
from ketaflow.portal.usernames import derived_from_mrn, new_patient_username

has_second_factor = second_factor.has_second_factor


def patient_username(patient: Patient) -> str:
    """A new, unused login name for ``patient`` that shows nothing of them (portal/usernames)."""
    return new_patient_username(
        lambda handle: (
            derived_from_mrn(handle, patient.mrn)
            or User.objects.filter(username__iexact=handle).exists()
        )
    )


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str
    username: str
    path: str  # the link's path (show once; only its hash is stored)


@transaction.atomic
def invitation_create(*, actor: Actor, patient: Patient) -> NewInvitation:
    """Create (or reuse) the patient's portal login and an expiring, single-use invitation;
    earlier open invitations are revoked. The link is emailed through the outbox if the
    patient has an email address."""
    actor.person()  # a member of staff invites: NotAPerson (a ValueError too) for a command
    user = patient.user
    if user is not None and has_second_factor(user):
        raise ValueError(
            "This patient already has a portal login with two-step sign-in; "
            "an invitation would replace it."
        )
    if user is None:
        user = User(
            username=patient_username(patient),
            role=Role.PATIENT,
            clinic_id=patient.clinic_id,
            first_name=patient.preferred_name or patient.given_name,
            last_name=patient.family_name,
            email=patient.email,
        )
        user.set_unusable_password()
        user.full_clean()
        user.save()
        patient_link_login(actor=actor, patient=patient, user_id=user.pk)
    renamed = derived_from_mrn(user.username, patient.mrn)
    if renamed:
        # A login made before usernames stopped being record numbers (or by hand) gets a handle.
        user.username = patient_username(patient)
        user.full_clean()
        user.save(update_fields=["username"])
    now = timezone.now()
    Invitation.objects.filter(
        patient=patient, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    hours = portal_settings(patient.clinic_id).invitation_hours
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        patient=patient,
        user=user,
        token_hash=token_hash(token),
        created_by=actor.user,
        expires_at=now + dt.timedelta(hours=hours),
    )
    invitation.full_clean()
    invitation.save()
    path = reverse("portal_join", args=[token])
    if patient.email:
        enqueue(
            kind=EmailOutbox.Kind.INVITATION,
            to=patient.email,
            subject=INVITATION_SUBJECT,
            body=INVITATION_BODY.format(hours=hours, url=absolute(path)),
        )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="portal_invitation",
        object_id=invitation.pk,
        patient_id=patient.pk,
        summary=f"portal invitation created (expires in {hours} h)",
        detail={
            "username": user.username,
            "emailed": bool(patient.email),
            "renamed_from_record_number": renamed,
        },
    )
    return NewInvitation(invitation=invitation, token=token, username=user.username, path=path)


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, password: str, secret: str, code: str, ip_address: str | None
) -> User:
    """Set the password and enrol the TOTP device, once. Raises ValidationError naming the
    field (``password`` or ``code``) when either is not acceptable; nothing is stored then."""
    locked = Invitation.objects.select_for_update().select_related("user").get(pk=invitation.pk)
    now = timezone.now()
    if locked.used_at is not None or locked.revoked_at is not None or locked.expires_at <= now:
        raise ValidationError({"code": "This invitation has expired or has already been used."})
    user = locked.user
    validate_password(password, user=user)
    step = second_factor.code_matches(secret, code)
    if step is None:
        raise ValidationError({"code": "That code does not match: enter the current 6 digits."})
    user.set_password(password)
    user.is_active = True
    user.save()
    second_factor.enrol_totp(user=user, secret=secret, last_t=step)
    locked.used_at = now
    locked.save(update_fields=["used_at"])
    audit_record(
        actor=Actor(user=user, ip_address=ip_address),
        action=Action.UPDATE,
        object_type="portal_invitation",
        object_id=locked.pk,
        patient_id=locked.patient_id,
        summary="portal invitation accepted: password set and two-step sign-in enrolled",
    )
    return user


def page_viewed(*, actor: Actor, patient: Patient, page: str) -> None:
    """Record that ``actor`` saw ``page`` of the patient's portal or tasks."""
    own = actor.user is not None and actor.user.may(Perm.VIEW_OWN_RECORD)
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="portal_page" if own else "urgent_task_page",
        patient_id=patient.pk,
        summary=f"viewed {page}",
    )


@dataclass(frozen=True)
class Submitted:
    response: InstrumentResponse
    task: UrgentTask | None


@transaction.atomic
def questionnaire_submit(
    *,
    actor: Actor,
    patient: Patient,
    instrument: str,
    answers: Sequence[int],
    comment: str = "",
    due: DueQuestionnaire | None = None,
) -> Submitted:
    """Score and store a portal questionnaire, mark its due time point answered, keep the
    comment, and raise an urgent task in the same transaction if the answers or the comment
    call for one."""
    response = response_record(
        actor=actor,
        patient=patient,
        instrument=instrument,
        answers=list(answers),
        context="portal",
        source=InstrumentResponse.Source.PORTAL,
    )
    now = timezone.now()
    if due is None:
        due = (
            DueQuestionnaire.objects.filter(
                patient=patient,
                instrument=instrument,
                status=DueQuestionnaire.Status.DUE,
                due_at__lte=now,
                window_ends_at__gt=now,
            )
            .order_by("window_ends_at")
            .first()
        )
    if due is not None:
        if due.patient_id != patient.pk or due.instrument != instrument:
            raise ValueError("That questionnaire belongs elsewhere.")
        if due.status == DueQuestionnaire.Status.DUE:
            due.status = DueQuestionnaire.Status.ANSWERED
            due.response = response
            due.save(update_fields=["status", "response"])
    comment = comment.strip()
    if comment:
        terms = review_terms_matched(comment, portal_settings(patient.clinic_id).review_terms)
        ResponseComment.objects.create(response=response, text=comment, matched_terms=terms)
        if terms:
            urgent_task_raise(
                actor=actor,
                patient=patient,
                response=response,
                reasons=["Portal comment contains review terms: " + ", ".join(terms)],
            )
    task = UrgentTask.objects.filter(response=response).first()
    return Submitted(response=response, task=task)
