"""Who may do what in the administration: the clinic roles decide, never Django's switches.

- ``PasswordOnlyBackend`` checks passwords (Django's ``ModelBackend``) but grants no model
  permission: Django's per-model permissions, groups, ``is_staff`` and ``is_superuser`` give
  nothing here (``User.has_perm`` skips the superuser shortcut too).
- ``RolePermissionBackend`` grants the administration's model permissions to the medical director
  (``Perm.MANAGE_STAFF``: their own clinic's set-up) and the network administrator
  (``Perm.MANAGE_NETWORK``: every clinic's). Which rows each may see and change is decided by the
  clinic-scoped admin classes (``ketaflow.web.admin_site.ClinicScopedAdmin``) and the services
  they save through (``ketaflow.accounts.services``), not here.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend

from ketaflow.accounts.roles import Perm
from ketaflow.prepared import Prepared

# The apps whose records are maintained in the administration: staff and credentials, clinics,
# consent texts, chairs, opening hours and scheduling, portal settings.
ADMIN_APPS = frozenset({"accounts", "candidacy", "treatment", "portal"})


def may_administer(user_obj: Any) -> bool:
    may = getattr(user_obj, "may", None)
    return bool(
        getattr(user_obj, "is_active", False)
        and may is not None
        and (may(Perm.MANAGE_STAFF) or may(Perm.MANAGE_NETWORK))
    )


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """django-axes's check, first of the backends: refuses every password check of a locked-out
    account or address (``ketaflow.accounts.signin``); grants no permission."""

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return False


# Every request's user with their clinic (the clinic's time zone and name are on every page), in
# a statement compiled once per process (ketaflow.prepared, issue 16).
_USER_WITH_CLINIC: Prepared[Any] = Prepared(
    lambda pk: get_user_model()._default_manager.select_related("clinic").filter(pk=pk)[:1]
)


class PasswordOnlyBackend(ModelBackend):
    """Authentication by username and password; no permissions from Django's tables.

    ``get_user`` (every request's ``request.user``) reads the user with their clinic in one
    query: the clinic's time zone and name are read on every page."""

    def get_user(self, user_id: Any) -> Any:
        if isinstance(user_id, int):
            user = _USER_WITH_CLINIC.first(pk=user_id)
        else:
            user = get_user_model()._default_manager.select_related("clinic").filter(pk=user_id)
            user = user.order_by("pk").first()
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return False


class RolePermissionBackend(BaseBackend):
    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        app_label = perm.split(".", 1)[0]
        return app_label in ADMIN_APPS and may_administer(user_obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return self.has_perm(user_obj, f"{app_label}.view")
