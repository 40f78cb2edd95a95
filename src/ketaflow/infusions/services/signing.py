"""Signing the infusion note, its co-signature by a prescriber, and addenda after the lock."""

from __future__ import annotations

import uuid

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.infusions import gates
from ketaflow.infusions.lock import AUDIT_KEY, seal
from ketaflow.infusions.models import (
    Addendum,
    InfusionSession,
)
from ketaflow.infusions.services.base import (
    Status,
    _audit,
    _find_duplicate,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
    _save,
    _save_once,
)
from ketaflow.infusions.services.reads import effective_vitals


def _lock(actor: Actor, session: InfusionSession, user: User, summary: str) -> InfusionSession:
    """Lock the note as signed, seal its content and audit the seal (signing, co-signing)."""
    session.locked = True
    session.status = Status.SIGNED
    _save(session, user)
    _audit(actor, Action.UPDATE, session, summary, detail={AUDIT_KEY: seal(session)})
    return session


@transaction.atomic
def session_sign(*, actor: Actor, session: InfusionSession) -> InfusionSession:
    """The nurse signs the infusion note; it is then locked, unless it needs the prescriber's
    co-signature (``gates.cosign_reasons``): then it waits for :func:`session_cosign`. Needs
    SIGN_INFUSION_NOTE and a current licence and life-support certificate (the ADMINISTER
    credentials)."""
    user = _require_perm(actor, Perm.SIGN_INFUSION_NOTE)
    session = _locked_row(session)
    _require_unlocked(session)
    if session.status != Status.DISCHARGED:
        raise _refuse(
            NON_FIELD_ERRORS,
            f"sign: the patient must be discharged first (the session is "
            f"{session.get_status_display().lower()})",
        )
    check = credential_check(user, ClinicalAct.ADMINISTER, on=clinic_today(session.patient.clinic))
    if not check.ok:
        raise _refuse(NON_FIELD_ERRORS, "credentials: " + "; ".join(check.problems))
    session.signed_by = user
    session.signed_at = timezone.now()
    cosign = gates.cosign_reasons(session, effective_vitals(session))
    if cosign:
        session.status = Status.COSIGN
        _save(session, user)
        _audit(
            actor,
            Action.UPDATE,
            session,
            "signed the infusion note; awaiting the prescriber's co-signature: "
            + "; ".join(cosign),
            detail={"cosign_reasons": cosign},
        )
        return session
    return _lock(actor, session, user, "signed and locked the infusion note")


@transaction.atomic
def addendum_add(
    *, actor: Actor, session: InfusionSession, text: str, client_uuid: uuid.UUID
) -> Addendum:
    """A later note on a signed session, with its author and time."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    existing = _find_duplicate(Addendum, session, client_uuid)
    if existing is not None:
        return existing
    if not session.locked:
        raise _refuse(
            NON_FIELD_ERRORS, "addenda are written after the note is signed; chart directly"
        )
    if not text.strip():
        raise _refuse("text", "write the addendum")
    addendum = Addendum(session=session, author=user, text=text.strip(), client_uuid=client_uuid)
    addendum.full_clean(validate_unique=False)
    addendum, created = _save_once(addendum, Addendum, session)
    if created:
        _audit(
            actor,
            Action.CREATE,
            session,
            "wrote an addendum to the signed infusion note",
            object_type="infusion_addendum",
            object_id=addendum.pk,
        )
    return addendum


@transaction.atomic
def session_cosign(*, actor: Actor, session: InfusionSession) -> InfusionSession:
    """The prescriber co-signs a note the nurse signed (a critical or emergency reading or an
    override); the note is then locked and sealed, the co-signature inside the seal."""
    user = _require_perm(actor, Perm.ORDER_INFUSION)
    session = _locked_row(session)
    if session.status != Status.COSIGN:
        raise _refuse(
            NON_FIELD_ERRORS,
            "co-sign: the note must be signed by the nurse and wait for a co-signature (it is "
            f"{session.get_status_display().lower()})",
        )
    if session.signed_by_id == user.pk:
        raise _refuse(NON_FIELD_ERRORS, "co-sign: a second clinician co-signs, not the signer")
    check = credential_check(user, ClinicalAct.SIGN, on=clinic_today(session.patient.clinic))
    if not check.ok:
        raise _refuse(NON_FIELD_ERRORS, "credentials: " + "; ".join(check.problems))
    session.cosigned_by = user
    session.cosigned_at = timezone.now()
    return _lock(actor, session, user, "co-signed and locked the infusion note")
