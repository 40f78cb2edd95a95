"""The dose plan stored once (migration infusions 0005, issue 15 item 2): the seven columns that
copied ``InfusionSession.plan`` are dropped, and the seal of every signed note stays verifiable.

On a new database of this suite's kind (SQLite, or PostgreSQL under scripts/test-postgres.sh)
with a whole infusion charted, signed and sealed: rolled back to 0004, the columns come back
filled from the plan, and a signed note's hash computed the way the seal was before (every
concrete field of the row, columns included) is the hash its signing recorded; migrated
forward, every signed note is as signed and ``ketaflow audit verify`` passes. A column that
differs from its plan makes the
migration refuse in one line naming the session, with nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketaflow.infusions.models import PLAN_FIGURES
from tests.audit.builders import run_on_fresh_database

_MIGRATION_CHECK = r"""
import contextlib, io, json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from ketaflow.cli import main
from ketaflow.infusions.lock import _sealed_hash, lock_problem, note_content_hash
from ketaflow.infusions.models import PLAN_FIGURES, InfusionSession
from tests.infusions.builders import make_ready
from tests.ledger.builders import complete_session
from tests.web.conftest import build_world

BEFORE = ("infusions", "0004_event_kind_complete")
call_command("migrate", interactive=False, verbosity=0)
world = build_world()
make_ready(world, world.patient)
complete_session(world)  # charted, signed and sealed (the infusions demo's whole infusion)
signed = sorted(InfusionSession.objects.filter(locked=True).values_list("pk", flat=True))
planned = dict(InfusionSession.objects.filter(plan__isnull=False).values_list("pk", "plan"))

call_command("migrate", *BEFORE, interactive=False, verbosity=0)
old_apps = MigrationExecutor(connection).loader.project_state([BEFORE]).apps
OldSession = old_apps.get_model("infusions", "InfusionSession")
def as_float(value):
    return None if value is None else float(value)
columns_equal_plan = all(
    repr(getattr(OldSession.objects.get(pk=pk), n)) == repr(as_float(plan[n]))
    for pk, plan in planned.items()
    for n in PLAN_FIGURES
)
old_fields = sorted(f.attname for f in OldSession._meta.concrete_fields)
# The seal as it was computed before the migration: every concrete field of the old row.
old_hashes = {pk: note_content_hash(OldSession.objects.get(pk=pk)) for pk in signed}
recorded = {pk: _sealed_hash(InfusionSession(pk=pk)) for pk in signed}

call_command("migrate", interactive=False, verbosity=0)
new_fields = sorted(f.attname for f in InfusionSession._meta.concrete_fields)
problems = [lock_problem(s) for s in InfusionSession.objects.filter(pk__in=signed)]
verify_code = main(["audit", "verify"])
after = {s.pk: note_content_hash(s) for s in InfusionSession.objects.filter(pk__in=signed)}

# A column that differs from its plan (a note changed by SQL before the migration).
call_command("migrate", *BEFORE, interactive=False, verbosity=0)
bad = signed[0]
with connection.cursor() as cursor:
    cursor.execute(
        "UPDATE infusions_infusionsession SET dose_mg = dose_mg + 0.1 WHERE id = %s", [bad]
    )
err = io.StringIO()
with contextlib.redirect_stderr(err):
    try:
        code = main(["manage", "migrate", "--no-input", "-v", "0"])
    except SystemExit as exc:
        code = exc.code
applied = sorted(
    MigrationRecorder.Migration.objects.filter(app="infusions").values_list("name", flat=True)
)
with connection.cursor() as cursor:
    cursor.execute("SELECT dose_mg FROM infusions_infusionsession WHERE id = %s", [bad])
    column_after = cursor.fetchone()[0]
print(json.dumps({
    "signed": signed, "planned": len(planned), "columns_equal_plan": columns_equal_plan,
    "old_fields": old_fields, "new_fields": new_fields,
    "old_hashes": old_hashes, "recorded": recorded, "after": after, "problems": problems,
    "verify_code": verify_code, "bad": bad, "refused_code": code, "refusal": err.getvalue(),
    "applied": applied, "column_after": column_after, "plan_dose": planned[bad]["dose_mg"],
}))
"""


@pytest.mark.slow
def test_the_plan_migration_keeps_every_seal_and_refuses_a_column_that_differs(
    db: None, tmp_path: Path
) -> None:
    result = run_on_fresh_database(tmp_path, _MIGRATION_CHECK, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    figures = set(PLAN_FIGURES)  # dose_mg, the volumes, concentration and rates
    assert len(figures) == 7
    assert figures <= set(got["old_fields"])
    assert not figures & set(got["new_fields"])
    assert got["signed"], "a signed note"
    assert got["planned"] >= len(got["signed"])
    # Backwards, the columns are filled from the plan, exactly.
    assert got["columns_equal_plan"] is True
    # The seal computed over the old columns is the one the signing recorded, and after the
    # migration the note hashes the same.
    for pk in got["signed"]:
        key = str(pk)
        assert got["recorded"][key] is not None
        assert got["old_hashes"][key] == got["recorded"][key] == got["after"][key]
    assert got["problems"] == [""] * len(got["signed"])
    assert got["verify_code"] == 0
    # A column that differs from its plan: refused in one line naming the session, exit 2,
    # the migration not recorded and the column left as it was.
    assert got["refused_code"] == 2
    refusal = got["refusal"].strip()
    assert "\n" not in refusal
    assert "Traceback" not in refusal
    assert f"session {got['bad']} dose_mg" in refusal
    assert "migration infusions 0005 refused, nothing changed" in refusal
    assert "0005_dose_plan_stored_once" not in got["applied"]
    assert got["column_after"] == pytest.approx(got["plan_dose"] + 0.1)
    assert got["column_after"] != got["plan_dose"]
