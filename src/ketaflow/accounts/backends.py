"""Django's model permissions (used by the admin) follow the clinic roles: the medical director
(Perm.MANAGE_STAFF) manages the clinic's set-up records; nobody else gets admin rights."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from ketaflow.accounts.roles import Perm

# The apps whose records the medical director maintains in the admin: staff and credentials,
# consent texts, chairs and opening hours, and (read-only there) the audit trail.
ADMIN_APPS = frozenset({"accounts", "candidacy", "treatment", "audit"})


class RolePermissionBackend(BaseBackend):
    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        app_label = perm.split(".", 1)[0]
        return bool(
            getattr(user_obj, "is_active", False)
            and hasattr(user_obj, "may")
            and user_obj.may(Perm.MANAGE_STAFF)
            and app_label in ADMIN_APPS
        )

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return self.has_perm(user_obj, f"{app_label}.view")
