"""The administration: a clinic's medical director manages their own clinic's set-up; only the
network administrator works across clinics.

Every admin class of a set-up record derives from :class:`ClinicScopedAdmin`, which scopes the
rows (``get_queryset``), the choices (the clinic field is hidden from a director and their new
records join their clinic) and the saves (through ``ketaflow.accounts.services``, which refuse
another clinic's record and write the hash-chained audit). Django's own ``LogEntry`` is kept for
the admin's history page, but the audit trail is the record.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from ketaflow.accounts.roles import Perm

M = TypeVar("M", bound=models.Model)


class ClinicAdminSite(admin.AdminSite):
    """The admin is the medical director's and the network administrator's: entry follows the
    role, not Django's is_staff."""

    site_header = "KetaFlow administration"
    site_title = "KetaFlow"

    def has_permission(self, request: HttpRequest) -> bool:
        # Imported here: this module is loaded while the app registry is being built.
        from ketaflow.accounts.backends import may_administer

        return may_administer(request.user)


class ClinicAdminConfig(AdminConfig):
    default_site = "ketaflow.web.admin_site.ClinicAdminSite"


def _network(request: HttpRequest) -> bool:
    may = getattr(request.user, "may", None)
    return bool(may is not None and may(Perm.MANAGE_NETWORK))


def _clinic_id(request: HttpRequest) -> int:
    """The administrator's clinic (0, matching nothing, for a login without one)."""
    clinic_id = getattr(request.user, "clinic_id", None)
    return int(clinic_id) if clinic_id is not None else 0


def _actor(request: HttpRequest) -> Any:
    from ketaflow.audit.context import Actor

    return Actor.from_request(request)


def _strip(fieldsets: Any, name: str) -> list[tuple[Any, dict[str, Any]]]:
    stripped = []
    for title, options in fieldsets:
        fields = [f for f in options.get("fields", ()) if f != name]
        if fields:
            stripped.append((title, {**options, "fields": fields}))
    return stripped


class ClinicScopedAdmin(admin.ModelAdmin[M]):
    """Rows, choices and saves follow the administrator's clinic.

    ``clinic_lookup`` is the query path from the model to its clinic's id ("clinic", "pk" for
    a Clinic, "user__clinic" for a credential); ``clinic_field`` is the field a director never
    sees or chooses (their new records join their clinic)."""

    clinic_lookup: str = "clinic"
    clinic_field: str | None = "clinic"
    one_per_clinic: bool = False  # a clinic's settings row: a director adds it only once

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if not super().has_add_permission(request, *args):
            return False
        if self.one_per_clinic and not _network(request):
            return not self.get_queryset(request).exists()
        return True

    def get_form(
        self, request: HttpRequest, obj: M | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if not self.clinic_field or _network(request):
            return form
        field: str = self.clinic_field
        clinic_id = _clinic_id(request)

        # ``form`` is the class Django's admin built at run time; mypy cannot type a base
        # chosen at run time, hence the ignore.
        class InTheDirectorsClinic(form):  # type: ignore[misc,valid-type]
            """The new record joins the director's clinic before it is validated, so that a
            clash with the clinic's own records (a chair's name, a consent version) is a form
            error, not a failed save."""

            def _post_clean(self) -> None:
                if self.instance.pk is None:
                    setattr(self.instance, f"{field}_id", clinic_id)
                super()._post_clean()

            def _get_validation_exclusions(self) -> set[str]:
                exclusions: set[str] = super()._get_validation_exclusions()
                exclusions.discard(field)
                return exclusions

        return InTheDirectorsClinic

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        rows = super().get_queryset(request)
        if _network(request):
            return rows
        return rows.filter(**{self.clinic_lookup: _clinic_id(request)})

    def get_fieldsets(self, request: HttpRequest, obj: M | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if self.clinic_field and not _network(request):
            return _strip(fieldsets, self.clinic_field)
        return fieldsets

    def get_exclude(self, request: HttpRequest, obj: M | None = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if self.clinic_field and not _network(request):
            exclude.append(self.clinic_field)
        return exclude

    def get_readonly_fields(self, request: HttpRequest, obj: M | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if self.clinic_field and not _network(request):
            readonly = [f for f in readonly if f != self.clinic_field]
        return readonly

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = list(super().get_list_display(request))
        return shown if _network(request) else [f for f in shown if f != "clinic"]

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        return filters if _network(request) else [f for f in filters if f != "clinic"]

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        from ketaflow.accounts.models import Clinic, User

        if not _network(request):
            clinic_id = _clinic_id(request)
            if db_field.related_model is Clinic:
                kwargs["queryset"] = Clinic.objects.filter(pk=clinic_id)
            elif db_field.related_model is User:
                kwargs["queryset"] = User.objects.filter(clinic_id=clinic_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        from ketaflow.accounts.services import setup_record_save

        setup_record_save(actor=_actor(request), record=obj, changed_fields=form.changed_data)

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        from ketaflow.accounts.services import setup_record_delete

        setup_record_delete(actor=_actor(request), record=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[M]) -> None:
        from ketaflow.accounts.services import setup_record_delete

        with transaction.atomic():
            for obj in self.get_queryset(request).filter(pk__in=queryset.values("pk")):
                setup_record_delete(actor=_actor(request), record=obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        from ketaflow.accounts.services import setup_record_delete, setup_record_save

        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            setup_record_delete(actor=_actor(request), record=obj)
        changed = {id(f.instance): f.changed_data for f in formset.forms}
        for obj in instances:
            setup_record_save(
                actor=_actor(request), record=obj, changed_fields=changed.get(id(obj), [])
            )
        formset.save_m2m()


class ClinicScopedInline(admin.TabularInline[Any, Any]):
    """An inline of a clinic-scoped parent (saved through the parent's ``save_formset``)."""

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        from ketaflow.accounts.models import Clinic

        if db_field.related_model is Clinic and not _network(request):
            kwargs["queryset"] = Clinic.objects.filter(pk=_clinic_id(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
