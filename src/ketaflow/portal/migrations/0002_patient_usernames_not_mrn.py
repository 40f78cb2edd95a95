"""Patient logins named after their medical record number get a random, non-identifying
username (security review issue 12; see ketaflow.portal.usernames). The demo login ``patient``
and every other name that shows no record number are kept."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from ketaflow.portal.usernames import derived_from_mrn, new_patient_username


def rename_mrn_usernames(apps: Apps) -> int:
    """Rename every patient login whose username shows its patient's MRN; returns how many."""
    Patient = apps.get_model("patients", "Patient")
    User = apps.get_model("accounts", "User")
    renamed = 0
    linked = Patient.objects.filter(user__isnull=False).select_related("user").order_by("pk")
    for patient in linked:
        user = patient.user
        mrn = str(patient.mrn)
        if not derived_from_mrn(user.username, mrn):
            continue

        def taken(handle: str, mrn: str = mrn) -> bool:
            return derived_from_mrn(handle, mrn) or (
                User.objects.filter(username__iexact=handle).exists()
            )

        user.username = new_patient_username(taken)
        user.save(update_fields=["username"])
        renamed += 1
    return renamed


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    rename_mrn_usernames(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("patients", "0001_initial"),
        ("portal", "0001_portal_invitations_plan_tasks_outbox"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]
