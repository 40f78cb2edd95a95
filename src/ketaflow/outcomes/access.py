"""The one access check for booster recommendations: through their patient."""

from __future__ import annotations

from django.http import Http404

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.patients.access import patient_for_user


def recommendation_for_user(
    user: User, rec_id: int, *, need: Perm, actor: Actor | None = None
) -> BoosterRecommendation:
    """The recommendation ``rec_id`` if ``user`` may ``need`` its patient; else 404 or 403."""
    rec = BoosterRecommendation.objects.filter(pk=rec_id).only("pk", "patient_id").first()
    if rec is None:
        raise Http404("No such recommendation.")
    patient = patient_for_user(user, rec.patient_id, need=need, actor=actor)
    found = BoosterRecommendation.objects.select_related("decided_by", "course").get(pk=rec.pk)
    found.patient = patient
    return found
