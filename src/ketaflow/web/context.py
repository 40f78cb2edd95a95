from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm


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
            "admin": user.may(Perm.MANAGE_STAFF),
        }
    }
