from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ketaflow.accounts.models import User
from ketaflow.backup.access import may_see_backups
from ketaflow.portal.middleware import second_factor_needed


def backup_warning(request: HttpRequest) -> dict[str, Any]:
    """The *Backups* link and, on every page, the warning when the last backup is overdue: for
    the medical director and the network administrator only."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or second_factor_needed(request) or not may_see_backups(user):
        return {"backup_nav": False, "backup_overdue": False}
    from ketaflow.backup.schedule import backup_overdue

    return {"backup_nav": True, "backup_overdue": backup_overdue()}
