from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, Role
from ketaflow.portal.access import tasks_for_user


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Which navigation links the logged-in user's role may follow."""
    user = getattr(request, "user", None)
    if not isinstance(user, User):
        return {"nav": {}}
    return {
        "nav": {
            "patients": user.may(Perm.LIST_PATIENTS),
            "schedule": user.may(Perm.VIEW_SCHEDULE),
            "infusions": user.may(Perm.CHART_INFUSION),
            "audit": user.may(Perm.VIEW_AUDIT_TRAIL),
            "admin": user.may(Perm.MANAGE_STAFF) or user.may(Perm.MANAGE_NETWORK),
            "ledger": user.may(Perm.LEDGER_VIEW),
            "outcomes": user.may(Perm.VIEW_OUTCOMES_DASHBOARD),
        }
    }


def urgent_tasks(request: HttpRequest) -> dict[str, Any]:
    """Open urgent tasks of the user's clinic, for the banner on every staff page (staff whose
    role views clinical data only), and whether the user may invite patients to the portal."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or user.role == Role.PATIENT:
        return {"urgent_tasks": [], "urgent_task_count": 0, "urgent_nav": False}
    may_invite = user.may(Perm.INVITE_PATIENT)
    if not user.may(Perm.VIEW_CLINICAL):
        return {
            "urgent_tasks": [],
            "urgent_task_count": 0,
            "urgent_nav": False,
            "may_invite_patients": may_invite,
        }
    open_tasks = tasks_for_user(user).filter(acknowledged_at__isnull=True)
    return {
        "urgent_tasks": list(open_tasks.select_related("patient").order_by("created_at")[:5]),
        "urgent_task_count": open_tasks.count(),
        "urgent_nav": True,
        "may_invite_patients": may_invite,
    }
