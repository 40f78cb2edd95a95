"""Before Course.indication becomes a choice of ketaflow.clinical.Indication (ptsd, depression),
checked by the database too (0004), existing rows are made valid: a value that only differs in case or
spaces, or that spells an indication out, is mapped to its code; one that is neither is mapped to
the indication of the drug library entry the course doses from (``ketamine-<indication>``); any
other row stops the migration with a message naming the course and its value (nothing changed)."""

from django.db import migrations

VALID = ("ptsd", "depression")
SPELLED_OUT = {
    "post-traumatic stress disorder": "ptsd",
    "posttraumatic stress disorder": "ptsd",
    "treatment-resistant depression": "depression",
    "treatment resistant depression": "depression",
    "trd": "depression",
}


def indication_for(value: str, drug_library_key: str) -> str | None:
    """The indication code an old row means, or None when it cannot be told."""
    text = " ".join((value or "").split()).lower()
    if text in VALID:
        return text
    if text in SPELLED_OUT:
        return SPELLED_OUT[text]
    prefix = "ketamine-"
    key = (drug_library_key or "").strip().lower()
    if key.startswith(prefix) and key[len(prefix) :] in VALID:
        return key[len(prefix) :]
    return None


def map_indications(apps, schema_editor):  # type: ignore[no-untyped-def]
    Course = apps.get_model("treatment", "Course")
    changes, unknown = [], []
    for pk, value, key in Course.objects.values_list("pk", "indication", "drug_library_key"):
        code = indication_for(value, key)
        if code is None:
            unknown.append(f"course {pk}: {value!r} (drug library key {key!r})")
        elif code != value:
            changes.append((pk, code))
    if unknown:
        raise RuntimeError(
            "Course.indication must be one of " + ", ".join(VALID) + "; these cannot be mapped: "
            + "; ".join(unknown) + ". Correct them and migrate again (nothing was changed)."
        )
    for pk, code in changes:
        Course.objects.filter(pk=pk).update(indication=code)


class Migration(migrations.Migration):

    dependencies = [
        ('treatment', '0002_course_weight_plan_and_schedule_settings'),
    ]

    operations = [
        migrations.RunPython(map_indications, migrations.RunPython.noop),
    ]
