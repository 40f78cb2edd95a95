"""The outcomes section of the patient chart: status per measure and any booster
recommendation (the section's view is audited here, as the chart view does not list it)."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.template import Context

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.outcomes.charts import trajectory_charts
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.outcomes.selectors import trajectory
from ketaflow.outcomes.services import trajectory_viewed
from ketaflow.patients.models import Patient

register = template.Library()


@register.inclusion_tag("outcomes/_chart_section.html", takes_context=True)
def outcomes_section(context: Context, patient: Patient, user: User) -> dict[str, Any]:
    staff = user.role_enum.is_staff_role
    traj = trajectory(patient)
    request = context.get("request")
    actor = Actor.from_request(request) if isinstance(request, HttpRequest) else Actor(user=user)
    trajectory_viewed(actor=actor, patient=patient, what="chart section")
    return {
        "patient": patient,
        "traj": traj,
        "charts": trajectory_charts(traj, measures=("pcl5", "phq9")),
        "staff": staff,
        "open_rec": BoosterRecommendation.objects.filter(
            patient=patient, status=BoosterRecommendation.Status.OPEN
        ).first()
        if staff
        else None,
        "may_export": user.may(Perm.EXPORT_CHART),
    }


@register.filter
def status_class(status: object) -> str:
    """The CSS class of an outcome status, e.g. ``status-loss_of_response``."""
    return f"status-{status}"
