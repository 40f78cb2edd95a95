"""Course.indication became a choice of ketaflow.clinical.Indication (migrations treatment/0003
and 0004). On the demo clinic, rolled back to before them and given old spellings, the migration
maps every row to its code and keeps every course's indication; a value it cannot tell stops it,
naming the course, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.treatment.demo import load_demo
from ketaflow.treatment.models import Course
from tests.audit.builders import run_on_fresh_database
from tests.treatment.builders import plan, signed_candidacy
from tests.web.conftest import World

_MIGRATION_CHECK = r"""
import json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from ketaflow.treatment.models import Course
from ketaflow.web.demo import demo_load

call_command("migrate", interactive=False, verbosity=0)
demo_load()
before = dict(Course.objects.values_list("pk", "indication"))
call_command("migrate", "treatment", "0002", interactive=False, verbosity=0)
old = {}
for pk, code in sorted(before.items()):
    spelling = {"ptsd": " PTSD ", "depression": "TRD"}[code]  # varchar(16)
    if code not in {before[p] for p in old}:
        old[pk] = spelling
    elif len(old) < 3:
        old[pk] = "?"  # only its drug library entry ("ketamine-<indication>") tells
with connection.cursor() as cursor:
    for pk, value in old.items():
        cursor.execute("UPDATE treatment_course SET indication = %s WHERE id = %s", [value, pk])
call_command("migrate", interactive=False, verbosity=0)
after = dict(Course.objects.values_list("pk", "indication"))
invalid = []
for course in Course.objects.all():
    try:
        course.clean_fields()
    except Exception as exc:
        invalid.append(f"{course.pk}: {exc}")

call_command("migrate", "treatment", "0002", interactive=False, verbosity=0)
bad = min(before)
with connection.cursor() as cursor:
    cursor.execute(
        "UPDATE treatment_course SET indication = 'bogus', drug_library_key = 'custom' "
        "WHERE id = %s",
        [bad],
    )
try:
    call_command("migrate", interactive=False, verbosity=0)
    refusal = ""
except RuntimeError as exc:
    refusal = str(exc)
applied = sorted(
    MigrationRecorder.Migration.objects.filter(app="treatment").values_list("name", flat=True)
)
value = dict(Course.objects.values_list("pk", "indication"))[bad]
print(json.dumps({
    "before": before, "old": old, "after": after, "invalid": invalid, "bad": bad,
    "refusal": refusal, "applied": applied, "value_after_refusal": value,
}))
"""


@pytest.mark.slow
def test_the_indication_migration_maps_old_spellings_on_the_demo_and_refuses_the_unknown(
    db: None, tmp_path: Path
) -> None:
    result = run_on_fresh_database(tmp_path, _MIGRATION_CHECK, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(got["before"]) >= 4  # the demo has courses of both clinics
    assert set(got["before"].values()) == {"ptsd", "depression"}
    assert {" PTSD ", "TRD", "?"} <= set(got["old"].values())
    assert got["after"] == got["before"]  # every old spelling mapped back to its code
    assert got["invalid"] == []
    # A value neither spelled as an indication nor told by the drug library key is refused,
    # naming the course; the migration is not recorded and the row is left as it was.
    assert f"course {got['bad']}: 'bogus'" in got["refusal"]
    assert "must be one of ptsd, depression" in got["refusal"]
    assert "0003_course_indication_map_old_values" not in got["applied"]
    assert got["value_after_refusal"] == "bogus"


@pytest.fixture
def clinic_course(world: World) -> Course:
    load_demo(actor=Actor.system("tests"), clinic=world.clinic, today=timezone.localdate())
    signed_candidacy(world, world.patient)
    return plan(world)


def test_a_course_indication_outside_the_core_is_refused(clinic_course: Course) -> None:
    course = clinic_course
    course.indication = "anxiety"
    with pytest.raises(ValidationError) as refused:
        course.full_clean()
    assert "indication" in refused.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Course.objects.filter(pk=course.pk).update(indication="anxiety")
    assert course.get_indication_display() == "anxiety"  # unsaved; the stored row is unchanged
    course.refresh_from_db()
    assert course.get_indication_display() == "PTSD"
