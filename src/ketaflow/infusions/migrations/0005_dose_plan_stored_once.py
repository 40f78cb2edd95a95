"""The dose plan stored once (issue 15 item 2): the seven float columns that copied the figures of
``InfusionSession.plan`` are dropped; the figures are read from the plan.

Before dropping them the migration compares, for every session, each column with its plan's
figure (exactly: the same ``repr`` of the float, which is also what a signed note's seal hashed).
Where one differs it does not choose between them: it refuses, in one line naming the sessions,
and changes nothing; a person looks at the row (a tampered or inconsistent note) first.
Backwards, the columns come back filled from the plan.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.db import migrations

FIGURES = (
    "dose_mg",
    "drug_volume_ml",
    "drug_volume_ml_exact",
    "total_volume_ml",
    "final_concentration_mg_per_ml",
    "rate_ml_per_h",
    "rate_ml_per_h_exact",
)


class PlanDisagrees(CommandError, ValueError):
    """A column differs from its plan (``ketaflow manage migrate`` and ``ketaflow serve`` print
    it as one line and exit 2)."""


def _figure(plan: Any, name: str) -> Any:
    """The plan's figure as the model now reads it (a float, or None); anything else as found."""
    value = plan.get(name) if isinstance(plan, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def check_columns_equal_plan(apps: Any, schema_editor: Any) -> None:
    session_model = apps.get_model("infusions", "InfusionSession")
    rows = session_model.objects.using(schema_editor.connection.alias).order_by("pk")
    differ: list[str] = []
    for pk, plan, *columns in rows.values_list("pk", "plan", *FIGURES).iterator(chunk_size=500):
        for name, column in zip(FIGURES, columns, strict=True):
            figure = _figure(plan, name)
            if repr(column) != repr(figure):
                differ.append(f"session {pk} {name} {column!r} in its column, {figure!r} in its plan")
                break
    if differ:
        shown = "; ".join(differ[:5]) + (f"; and {len(differ) - 5} more" if len(differ) > 5 else "")
        raise PlanDisagrees(
            f"migration infusions 0005 refused, nothing changed: {len(differ)} infusion "
            f"session(s) whose dose columns differ from their stored plan ({shown}); "
            "a person must look at each before the columns are dropped",
            returncode=2,
        )


def fill_columns_from_plan(apps: Any, schema_editor: Any) -> None:
    session_model = apps.get_model("infusions", "InfusionSession")
    rows = session_model.objects.using(schema_editor.connection.alias)
    for session in rows.exclude(plan__isnull=True).iterator(chunk_size=500):
        for name in FIGURES:
            setattr(session, name, _figure(session.plan, name))
        session.save(update_fields=list(FIGURES))


class Migration(migrations.Migration):
    dependencies = [
        ("infusions", "0004_event_kind_complete"),
    ]

    operations = [
        migrations.RunPython(check_columns_equal_plan, fill_columns_from_plan),
        migrations.RemoveField(model_name="infusionsession", name="dose_mg"),
        migrations.RemoveField(model_name="infusionsession", name="drug_volume_ml"),
        migrations.RemoveField(model_name="infusionsession", name="drug_volume_ml_exact"),
        migrations.RemoveField(model_name="infusionsession", name="final_concentration_mg_per_ml"),
        migrations.RemoveField(model_name="infusionsession", name="rate_ml_per_h"),
        migrations.RemoveField(model_name="infusionsession", name="rate_ml_per_h_exact"),
        migrations.RemoveField(model_name="infusionsession", name="total_volume_ml"),
    ]
