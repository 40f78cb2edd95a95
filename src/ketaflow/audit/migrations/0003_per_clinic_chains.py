"""Per-clinic audit chains, every displayed field hashed, and the patients each entry names.

Entries written before this migration keep their hash (``hash_version`` 1) and the one global
chain they were written in (the legacy chain, head ``"legacy"``); they are given the clinic of
their actor, else of their patient, so that each clinic's audit page lists its own. The
append-only triggers are dropped around that update and installed again (with the new table of
entry-patient links, back-filled from ``patient_id`` and the ``patient_ids`` of list entries).
"""

from typing import Any

import django.db.models.deletion
from django.core.management.color import no_style
from django.db import migrations, models

from ketaflow.audit.db import AUDIT_TABLES, TABLE, drop_triggers, install_triggers

CHUNK = 500


def _drop(apps: Any, schema_editor: Any) -> None:
    drop_triggers(schema_editor.connection, tables=[TABLE])


def _install(apps: Any, schema_editor: Any) -> None:
    install_triggers(schema_editor.connection, tables=[TABLE])


def _install_all(apps: Any, schema_editor: Any) -> None:
    install_triggers(schema_editor.connection, tables=AUDIT_TABLES)


def _drop_all(apps: Any, schema_editor: Any) -> None:
    drop_triggers(schema_editor.connection, tables=AUDIT_TABLES)


def _named_patients(patient_id: Any, detail: Any) -> set[int]:
    named = {int(patient_id)} if patient_id is not None else set()
    listed = detail.get("patient_ids") if isinstance(detail, dict) else None
    if isinstance(listed, list):
        named |= {int(p) for p in listed if isinstance(p, int) and not isinstance(p, bool)}
    return named


def assign_clinics_and_links(apps: Any, schema_editor: Any) -> None:
    entry_model = apps.get_model("audit", "AuditEntry")
    link_model = apps.get_model("audit", "AuditEntryPatient")
    user_clinic = dict(apps.get_model("accounts", "User").objects.values_list("pk", "clinic_id"))
    patient_clinic = dict(apps.get_model("patients", "Patient").objects.values_list("pk", "clinic_id"))
    by_clinic: dict[int, list[int]] = {}
    links = []
    legacy = entry_model.objects.filter(hash_version=1).order_by("pk")
    rows = legacy.values_list("pk", "actor_id", "patient_id", "detail")
    for pk, actor_id, patient_id, detail in rows.iterator(chunk_size=2000):
        clinic_id = user_clinic.get(actor_id) if actor_id is not None else None
        if clinic_id is None and patient_id is not None:
            clinic_id = patient_clinic.get(patient_id)
        if clinic_id is not None:
            by_clinic.setdefault(clinic_id, []).append(pk)
        links += [link_model(entry_id=pk, patient_id=p) for p in sorted(_named_patients(patient_id, detail))]
    for clinic_id, pks in by_clinic.items():
        for i in range(0, len(pks), CHUNK):
            entry_model.objects.filter(pk__in=pks[i : i + CHUNK]).update(clinic_id=clinic_id)
    link_model.objects.bulk_create(links, batch_size=CHUNK)


def reset_head_ids(apps: Any, schema_editor: Any) -> None:
    """The head's id is now generated: start it after the legacy head row (PostgreSQL keeps
    a sequence that the altered column would otherwise start at 1)."""
    connection = schema_editor.connection
    statements = connection.ops.sequence_reset_sql(no_style(), [apps.get_model("audit", "AuditHead")])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("patients", "0001_initial"),
        ("audit", "0002_append_only_triggers"),
    ]

    operations = [
        migrations.RunPython(_drop, _install),
        # Existing entries are version 1 (the legacy chain); new ones default to 2.
        migrations.AddField(
            model_name="auditentry",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=2),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="clinic",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.clinic",
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="patient_ids",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="seq",
            field=models.BigIntegerField(),
        ),
        migrations.AlterModelOptions(
            name="auditentry",
            options={"ordering": ["-id"], "verbose_name_plural": "audit entries"},
        ),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(fields=["clinic", "hash_version", "seq"], name="audit_chain_seq"),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("hash_version", 1)),
                fields=("seq",),
                name="audit_legacy_seq_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("clinic__isnull", False), ("hash_version__gte", 2)),
                fields=("clinic", "seq"),
                name="audit_clinic_seq_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("clinic__isnull", True), ("hash_version__gte", 2)),
                fields=("seq",),
                name="audit_network_seq_unique",
            ),
        ),
        # The one head row there was is the legacy chain's.
        migrations.AddField(
            model_name="audithead",
            name="chain",
            field=models.CharField(default="legacy", max_length=40, unique=True),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="audithead",
            name="id",
            field=models.BigAutoField(
                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
            ),
        ),
        migrations.RunPython(reset_head_ids, migrations.RunPython.noop),
        migrations.CreateModel(
            name="AuditEntryPatient",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("patient_id", models.BigIntegerField()),
                (
                    "entry",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="patient_links",
                        to="audit.auditentry",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["patient_id", "entry"], name="audit_link_patient")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("entry", "patient_id"), name="audit_link_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(assign_clinics_and_links, migrations.RunPython.noop),
        migrations.RunPython(_install_all, _drop_all),
    ]
