"""The outcomes section of the patient chart, formatted from what the chart view read and
audited (``outcomes.selectors.chart_section``, in the chart's one audit entry): the tag reads
and writes nothing."""

from __future__ import annotations

from typing import Any

from django import template

from ketaflow.outcomes.charts import trajectory_charts
from ketaflow.outcomes.selectors import ChartSection

register = template.Library()


@register.inclusion_tag("outcomes/_chart_section.html")
def outcomes_section(section: ChartSection) -> dict[str, Any]:
    return {
        "patient": section.patient,
        "traj": section.traj,
        "charts": trajectory_charts(section.traj, measures=("pcl5", "phq9")),
        "staff": section.staff,
        "open_rec": section.open_rec,
        "may_export": section.may_export,
    }


@register.filter
def status_class(status: object) -> str:
    """The CSS class of an outcome status, e.g. ``status-loss_of_response``."""
    return f"status-{status}"
