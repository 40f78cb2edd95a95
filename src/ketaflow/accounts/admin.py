from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from ketaflow.accounts.models import Clinic, Credential, User


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin[Clinic]):
    list_display = ["name", "slug", "time_zone"]
    prepopulated_fields = {"slug": ["name"]}


class CredentialInline(admin.TabularInline[Credential, User]):
    model = Credential
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
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
