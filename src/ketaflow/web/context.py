from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.api.scopes import scopes_for_role
from ketaflow.audit.context import Actor
from ketaflow.audit.services import audit_shown
from ketaflow.clinical.common import count_text
from ketaflow.patients.models import Patient
from ketaflow.portal.access import may_see_tasks, tasks_for_user
from ketaflow.portal.middleware import second_factor_needed
from ketaflow.portal.models import UrgentTask
from ketaflow.prepared import Prepared

# The banner lists the oldest open urgent tasks, at most this many (the count says how many).
BANNER_TASKS = 5
# What the banner shows of a task: its patient's name, its reasons and when it was raised (and
# the ids it links and audits). Reading the patient's whole row made compiling the query alone
# 1.3 ms of every staff page, with no task open.
BANNER_FIELDS = (
    "reasons",
    "created_at",
    *(f"patient__{name}" for name in Patient.NAME_FIELDS),
)

# The open tasks of a clinic the banner lists, oldest first (its scope: ``tasks_for_user``'s),
# in a statement compiled once per process (ketaflow.prepared, issue 16).
_BANNER = Prepared(
    lambda clinic_id: (
        UrgentTask.objects.filter(clinic_id=clinic_id, acknowledged_at__isnull=True)
        .select_related("patient")
        .only(*BANNER_FIELDS)
        .order_by("created_at")[:BANNER_TASKS]
    )
)


class UrgentBanner:
    """The open urgent tasks the banner lists (patient name and the suicide-risk answer).

    Listing them is what shows them: the first iteration (the banner's ``{% for %}``) writes one
    audit entry naming each patient shown; ``{% if urgent_tasks %}`` and pages that never
    render the banner (fragments, downloads) write none."""

    def __init__(self, tasks: list[UrgentTask], actor: Actor) -> None:
        self._tasks = tasks
        self._actor = actor
        self._audited = False

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[UrgentTask]:
        if self._tasks and not self._audited:
            self._audited = True
            audit_shown(
                actor=self._actor,
                object_type="urgent_banner",
                patients=[t.patient_id for t in self._tasks],
                summary="shown the urgent safety banner: "
                + count_text(len(self._tasks), "open task"),
                detail={"tasks": [t.pk for t in self._tasks]},
            )
        return iter(self._tasks)


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Which navigation links the logged-in user's role may follow."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or second_factor_needed(request):
        return {"nav": {}}
    return {
        "nav": {
            "patients": user.may(Perm.LIST_PATIENTS),
            "schedule": user.may(Perm.VIEW_SCHEDULE),
            "infusions": user.may(Perm.CHART_INFUSION),
            "audit": user.may(Perm.VIEW_AUDIT_TRAIL),
            "admin": user.may(Perm.MANAGE_STAFF) or user.may(Perm.MANAGE_NETWORK),
            "clinical_settings": user.may(Perm.MANAGE_STAFF) and user.clinic_id is not None,
            "ledger": user.may(Perm.LEDGER_VIEW),
            "outcomes": user.may(Perm.VIEW_OUTCOMES_DASHBOARD),
            "research": user.may(Perm.RESEARCH_EXPORT) and user.clinic_id is not None,
            "signins": user.may(Perm.MANAGE_STAFF) and user.clinic_id is not None,
            "security": not user.may(Perm.VIEW_OWN_RECORD),
            "api_tokens": user.clinic_id is not None and bool(scopes_for_role(user.role)),
        }
    }


def urgent_tasks(request: HttpRequest) -> dict[str, Any]:
    """Open urgent tasks of the user's clinic, for the banner on every staff page (staff whose
    role views clinical data only), and whether the user may invite patients to the portal."""
    user = getattr(request, "user", None)
    if (
        not isinstance(user, User)
        or user.may(Perm.VIEW_OWN_RECORD)
        or second_factor_needed(request)
    ):
        # Nothing of a patient before the second factor (the code and enrolment pages).
        return {"urgent_tasks": [], "urgent_task_count": 0, "urgent_nav": False}
    may_invite = user.may(Perm.INVITE_PATIENT)
    if not user.may(Perm.VIEW_CLINICAL):
        return {
            "urgent_tasks": [],
            "urgent_task_count": 0,
            "urgent_nav": False,
            "may_invite_patients": may_invite,
        }
    shown = _BANNER.all(clinic_id=user.clinic_id) if may_see_tasks(user) else []
    # Counted apart only when the banner is full: fewer than its length are all there are.
    if len(shown) == BANNER_TASKS:
        count = tasks_for_user(user).filter(acknowledged_at__isnull=True).count()
    else:
        count = len(shown)
    return {
        "urgent_tasks": UrgentBanner(shown, Actor.from_request(request)),
        "urgent_task_count": count,
        "urgent_nav": True,
        "may_invite_patients": may_invite,
    }


def idle_logoff(request: HttpRequest) -> dict[str, Any]:
    """The automatic log-off time (the session's idle age), for signout.js on every page: it
    warns before it and clears what the browser kept for the user when it comes."""
    return {"idle_seconds": settings.SESSION_IDLE_SECONDS}
