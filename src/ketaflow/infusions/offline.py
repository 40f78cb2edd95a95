"""Who entered what: an entry from the tablet's offline queue is stored under the logged-in
user (the services take the author from the actor), and only when that is the user it was
queued under. session.js sends ``queued_by`` with every queued entry; a replay under another
login (a second nurse logging in on the same tablet) is refused and the refusal audited."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.infusions.models import InfusionSession

REPLAY_REFUSED = (
    "not saved: this entry was queued on this tablet by another user. An entry is stored only "
    "under the person who entered it; they must log in to send it, or it is entered again"
)


def replay_check(*, actor: Actor, session: InfusionSession, queued_by: str) -> None:
    """Refuse an offline entry queued under another user than the logged-in ``actor``.

    ``queued_by`` is empty for a form posted straight from the page (no queue): its author is
    the logged-in user. A refusal writes a ``denied`` audit entry naming both users."""
    user = actor.user
    if not queued_by or (user is not None and queued_by == str(user.pk)):
        return
    audit_record(
        actor=actor,
        action=Action.DENIED,
        object_type="infusion_session",
        object_id=str(session.pk),
        patient_id=session.patient_id,
        summary=(
            f"refused an offline entry of infusion session {session.pk} queued by another "
            f"user (id {queued_by[:20]}) and replayed under this login"
        ),
        detail={"queued_by": queued_by[:20], "replayed_by": user.pk if user else None},
    )
    raise ValidationError({NON_FIELD_ERRORS: [REPLAY_REFUSED]})
