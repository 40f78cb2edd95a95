from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from ketaflow.accounts.models import Clinic, Credential, User
from ketaflow.web.admin_site import ClinicScopedAdmin, ClinicScopedInline, _actor, _network


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin[Clinic]):
    """A director sees and edits their own clinic only; the network administrator adds clinics."""

    list_display = ["name", "slug", "time_zone"]
    prepopulated_fields = {"slug": ["name"]}
    clinic_lookup = "pk"
    clinic_field = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _network(request) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _network(request) and super().has_delete_permission(request, obj)


class CredentialInline(ClinicScopedInline):
    model = Credential
    extra = 0


@admin.register(User)
class UserAdmin(ClinicScopedAdmin[User], BaseUserAdmin[User]):
    list_display = ["username", "first_name", "last_name", "role", "clinic", "is_active"]
    list_filter = ["role", "clinic", "is_active"]
    # Access follows the clinic role (accounts/roles.py), so Django's staff, superuser, group
    # and per-model permission switches are not offered.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Clinic and role", {"fields": ("clinic", "role", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("last_login", "date_joined")
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("Clinic", {"fields": ("clinic", "role", "first_name", "last_name", "email")}),
    )
    inlines = [CredentialInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A director deactivates a login (its history stays attributable); never deletes it.
        return _network(request) and super().has_delete_permission(request, obj)

    def formfield_for_choice_field(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.TypedChoiceField | None:
        from ketaflow.accounts.services import roles_assignable_by

        if db_field.name == "role" and isinstance(request.user, User):
            allowed = {r.value for r in roles_assignable_by(request.user)}
            kwargs["choices"] = [c for c in db_field.get_choices() if not c[0] or c[0] in allowed]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        from ketaflow.accounts.services import user_password_set

        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                target = self.get_object(request, id)
                # Django redirects to the same page on a conflicting submission: not a change.
                if target is not None and response["Location"] != request.get_full_path():
                    user_password_set(actor=_actor(request), target=target)
        return response


# django-otp registers its devices in the administration, unscoped by clinic and showing keys:
# second factors are managed on the sign-in pages instead (ketaflow.accounts.views).
for _model in ("otp_totp.TOTPDevice", "otp_static.StaticDevice"):
    from django.apps import apps as _apps

    _cls = _apps.get_model(_model)
    if admin.site.is_registered(_cls):
        admin.site.unregister(_cls)
