from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

from ketaflow.accounts.roles import Perm


class ClinicAdminSite(admin.AdminSite):
    """The admin is the medical director's: entry follows the role, not Django's is_staff."""

    site_header = "KetaFlow administration"
    site_title = "KetaFlow"

    def has_permission(self, request: HttpRequest) -> bool:
        # No model import here: this module is loaded while the app registry is being built.
        user = request.user
        return bool(user.is_active and getattr(user, "may", None) and user.may(Perm.MANAGE_STAFF))


class ClinicAdminConfig(AdminConfig):
    default_site = "ketaflow.web.admin_site.ClinicAdminSite"
