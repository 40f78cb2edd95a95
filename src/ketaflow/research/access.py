"""Who may export a clinic's de-identified research data: that clinic's medical director
(``Perm.RESEARCH_EXPORT``), for their own clinic only.

The network administrator is deliberately not given it: they see no patient, and releasing even
a de-identified data set is the covered entity's decision (the clinic's director, who can judge
whether a small cohort would still identify someone, 164.514(b)(2)(ii)). A network study pools
the clinics' own exports; their research ids are random per export, so pooling links nothing.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm, refusal
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record


def research_clinic_for_user(user: User, *, actor: Actor) -> Clinic:
    """The user's clinic if they may export its research data; else 403, audited as denied."""
    clinic = user.clinic if user.is_authenticated and user.is_active else None
    if clinic is None or not user.may(Perm.RESEARCH_EXPORT):
        audit_record(
            actor=actor,
            action=Action.DENIED,
            object_type="research_export",
            summary=f"denied: {Perm.RESEARCH_EXPORT.value}",
        )
        raise PermissionDenied(refusal(user.role, Perm.RESEARCH_EXPORT))
    return clinic
