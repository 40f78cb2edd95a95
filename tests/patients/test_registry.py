"""Issue 14, item 6: the registry. A duplicate check at registration with an explicit "register
anyway" and its reason; the director's merge of a duplicate (every model that points at a
patient, found by introspection), refused across clinics and where moving would break a rule;
deactivation; search by date of birth and record number; the audit filter by record number.
Each both ways: the clinic's staff, the other clinic's director, a patient."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.patients import services
from ketaflow.patients.models import Allergy, ClinicalNote, Patient, RegistrySettings
from ketaflow.patients.search import NotADate, typed_date
from tests.web.conftest import World, make_user, patient_data


def other_director(world: World) -> User:
    found = User.objects.filter(username="otherdirector").first()
    return found or make_user(world.other_clinic, "otherdirector", Role.MEDICAL_DIRECTOR)


def director(world: World) -> Actor:
    return Actor(user=world.director)


def register(world: World, given: str, family: str, *, reason: str = "") -> Patient:
    return services.patient_register(
        actor=Actor(user=world.frontdesk),
        clinic_id=world.clinic.pk,
        data=patient_data(given, family),
        register_anyway_reason=reason,
    )


def messages_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(exc.value.messages)


# ---- the duplicate check --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({}, "same name and date of birth"),
        ({"given_name": "Alicia", "phone": "+1-555-0100-123"}, "same phone"),
        ({"given_name": "Alicia", "phone": "+1 555 777 0000", "email": "A@X.ORG"}, "same email"),
    ],
)
def test_a_possible_duplicate_is_refused_naming_the_record(
    world: World, extra: dict[str, str], match: str
) -> None:
    Patient.objects.filter(pk=world.patient.pk).update(phone="+1 555 0100 123", email="a@x.org")
    data = patient_data("Alice", "Anders") | extra
    before = Patient.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.patient_register(
            actor=Actor(user=world.frontdesk), clinic_id=world.clinic.pk, data=data
        )
    text = messages_of(exc)
    assert world.patient.mrn in text
    assert match in text
    assert Patient.objects.count() == before
    # Registered anyway with a reason: audited with the records it named.
    patient = services.patient_register(
        actor=Actor(user=world.frontdesk),
        clinic_id=world.clinic.pk,
        data=data,
        register_anyway_reason="twin sister, same birthday",
    )
    entry = AuditEntry.objects.get(
        object_type="patient", object_id=str(patient.pk), action="create"
    )
    assert entry.detail["registered_anyway"]["reason"] == "twin sister, same birthday"
    assert entry.detail["registered_anyway"]["possible_duplicates"][0]["mrn"] == world.patient.mrn
    assert world.patient.pk in entry.patient_ids


def test_another_clinics_patient_is_no_duplicate(world: World) -> None:
    data = patient_data("Carla", "Cruz", phone=world.foreign_patient.phone)
    patient = services.patient_register(
        actor=Actor(user=world.frontdesk), clinic_id=world.clinic.pk, data=data
    )
    assert patient.clinic_id == world.clinic.pk


def test_the_registration_form_warns_then_registers_anyway(world: World, client_for: Any) -> None:
    c = client_for(world.frontdesk)
    data = patient_data("Alice", "Anders")
    data["date_of_birth"] = data["date_of_birth"].isoformat()
    response = c.post(reverse("patient_new"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "possible duplicate" in page
    assert world.patient.mrn in page
    assert 'name="register_anyway_reason"' in page
    assert reverse("patient_chart", args=[world.patient.pk]) in page
    shown = AuditEntry.objects.filter(summary__startswith="shown 1 possible duplicate").get()
    assert shown.patient_ids == [world.patient.pk]
    # An empty reason is still refused.
    response = c.post(reverse("patient_new"), data | {"register_anyway_reason": ""})
    assert response.status_code == 200
    assert Patient.objects.filter(given_name="Alice").count() == 1
    response = c.post(reverse("patient_new"), data | {"register_anyway_reason": "another Alice"})
    assert response.status_code == 302
    assert Patient.objects.filter(given_name="Alice").count() == 2


# ---- merge ----------------------------------------------------------------------------------


def test_every_foreign_key_to_a_patient_is_moved_or_refused_on_merge() -> None:
    """A new model pointing at Patient must be listed: moved by a merge, or refusing it."""
    keys = {key for key, _, _ in services.patient_foreign_keys()}
    assert keys, "no foreign key to Patient found"
    handled = services.MERGE_MOVES | set(services.MERGE_REFUSALS)
    assert keys - handled == set(), f"not handled by patient_merge: {sorted(keys - handled)}"
    assert handled - keys == set(), f"listed but not a foreign key: {sorted(handled - keys)}"


def test_a_merge_moves_every_record_and_keeps_the_duplicate_readable(
    world: World, client_for: Any
) -> None:
    duplicate = register(world, "Alice", "Anders", reason="registered twice by mistake")
    services.record_add(
        actor=Actor.system("tests"), patient=duplicate, record=Allergy(substance="Latex")
    )
    services.note_add(
        actor=Actor(user=world.prescriber), patient=duplicate, kind="consultation", text="dup note"
    )
    services.patient_merge(
        actor=director(world), keep=world.patient, duplicate=duplicate, reason="same person"
    )
    # Every foreign key to Patient: nothing points at the duplicate any more (but the ledger's).
    for key, model, name in services.patient_foreign_keys():
        if key in services.MERGE_MOVES:
            assert not model._default_manager.filter(**{name: duplicate}).exists(), key
    assert Allergy.objects.filter(patient=world.patient, substance="Latex").exists()
    assert ClinicalNote.objects.filter(patient=world.patient, text="dup note").exists()
    duplicate.refresh_from_db()
    assert not duplicate.active
    assert duplicate.merged_into == world.patient
    entry = AuditEntry.objects.filter(summary__startswith=f"merged duplicate {duplicate.mrn}").get()
    assert sorted(entry.patient_ids) == sorted([world.patient.pk, duplicate.pk])
    assert entry.detail["moved"]["patients.Allergy.patient"] == 1
    # The duplicate stays readable (and audited), points at the kept record, is not listed.
    c = client_for(world.director)
    page = c.get(reverse("patient_chart", args=[duplicate.pk])).content.decode()
    assert "merged into" in page
    assert world.patient.mrn in page
    assert duplicate.mrn not in c.get(reverse("patient_list")).content.decode()
    assert AuditEntry.objects.filter(
        object_id=str(duplicate.pk), summary__startswith="viewed chart"
    ).exists()


def test_a_merge_is_refused_across_clinics_and_to_others_than_the_director(world: World) -> None:
    with pytest.raises(PermissionDenied):
        services.patient_merge(
            actor=director(world), keep=world.patient, duplicate=world.foreign_patient, reason="x"
        )
    with pytest.raises(PermissionDenied):
        services.patient_merge(
            actor=Actor(user=other_director(world)),
            keep=world.patient,
            duplicate=world.other_patient,
            reason="x",
        )
    for user in (world.prescriber, world.nurse, world.frontdesk):
        with pytest.raises(PermissionDenied):
            services.patient_merge(
                actor=Actor(user=user),
                keep=world.patient,
                duplicate=world.other_patient,
                reason="x",
            )
    assert Patient.objects.get(pk=world.other_patient.pk).active


def test_a_merge_that_would_break_a_rule_is_refused_with_each_reason(world: World) -> None:
    with pytest.raises(ValidationError) as exc:
        services.patient_merge(
            actor=director(world), keep=world.patient, duplicate=world.patient, reason="x"
        )
    assert "cannot be merged into itself" in messages_of(exc)
    # Both with a portal login.
    Patient.objects.filter(pk=world.other_patient.pk).update(
        user=make_user(world.clinic, "bruno", Role.PATIENT)
    )
    with pytest.raises(ValidationError) as exc:
        services.patient_merge(
            actor=director(world), keep=world.patient, duplicate=world.other_patient, reason="x"
        )
    assert "both records have a portal login" in messages_of(exc)
    assert Patient.objects.get(pk=world.other_patient.pk).active


def test_two_open_courses_refuse_a_merge(world: World) -> None:
    from ketaflow.treatment.demo import load_demo
    from tests.treatment.builders import plan, signed_candidacy

    load_demo(actor=Actor.system("tests"), clinic=world.clinic, today=timezone.localdate())
    signed_candidacy(world, world.patient)
    signed_candidacy(world, world.other_patient)
    plan(world, world.patient)
    plan(world, world.other_patient)
    with pytest.raises(ValidationError) as exc:
        services.patient_merge(
            actor=director(world), keep=world.patient, duplicate=world.other_patient, reason="x"
        )
    assert "both records have a course planned, booked or in progress" in messages_of(exc)


def test_a_duplicate_with_ledger_entries_is_not_merged(world: World) -> None:
    from tests.infusions.builders import make_ready
    from tests.ledger.builders import draw, receive

    make_ready(world, world.patient)
    stock = receive(world)
    draw(world, stock.fresh(0), "1")
    with pytest.raises(ValidationError) as exc:
        services.patient_merge(
            actor=director(world), keep=world.other_patient, duplicate=world.patient, reason="x"
        )
    assert "controlled-substance ledger entries" in messages_of(exc)


def test_the_merge_page_both_ways(world: World, client_for: Any) -> None:
    duplicate = register(world, "Alice", "Anders", reason="registered twice")
    url = reverse("patient_merge", args=[world.patient.pk])
    post = {"duplicate": duplicate.mrn, "reason": "same person", "confirm": "on"}
    for outsider in (other_director(world), world.patient_user):
        c = client_for(outsider)
        assert c.get(url).status_code in (403, 404)
        assert c.post(url, post).status_code in (403, 404)
    assert client_for(other_director(world)).get(url).status_code == 404
    for user in (world.prescriber, world.frontdesk):
        assert client_for(user).post(url, post).status_code == 403
    assert Patient.objects.get(pk=duplicate.pk).active
    c = client_for(world.director)
    assert "Record number (MRN) of the duplicate" in c.get(url).content.decode()
    # Another clinic's record number is "no such patient".
    response = c.post(url, post | {"duplicate": world.foreign_patient.mrn})
    assert "No patient of this clinic has the record number" in response.content.decode()
    assert c.post(url, post).status_code == 302
    assert Patient.objects.get(pk=duplicate.pk).merged_into_id == world.patient.pk


# ---- deactivation ---------------------------------------------------------------------------


def test_an_inactive_patient_leaves_lists_and_is_not_booked_or_drawn_for(
    world: World, client_for: Any
) -> None:
    services.patient_deactivate(
        actor=director(world), patient=world.other_patient, reason="moved away"
    )
    c = client_for(world.frontdesk)
    listed = c.get(reverse("patient_list")).content.decode()
    assert world.other_patient.mrn not in listed
    assert world.patient.mrn in listed
    with_inactive = c.get(reverse("patient_list"), {"inactive": "on"}).content.decode()
    assert world.other_patient.mrn in with_inactive
    assert "(inactive)" in with_inactive
    page = c.get(reverse("patient_chart", args=[world.other_patient.pk])).content.decode()
    assert "Inactive record" in page
    assert "moved away" in page
    from tests.treatment.builders import plan, signed_candidacy

    signed_candidacy(world, world.other_patient)
    with pytest.raises(ValidationError) as exc:
        plan(world, world.other_patient)
    assert "inactive record" in messages_of(exc)
    services.patient_reactivate(actor=director(world), patient=world.other_patient, reason="back")
    assert Patient.objects.get(pk=world.other_patient.pk).active


def test_an_inactive_patient_is_not_drawn_for(world: World) -> None:
    from tests.infusions.builders import make_ready
    from tests.ledger.builders import draw, receive

    make_ready(world, world.patient)
    stock = receive(world)
    services.patient_deactivate(actor=director(world), patient=world.patient, reason="deceased")
    world.patient.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        draw(world, stock.fresh(0), "1")
    assert "inactive record" in messages_of(exc)


def test_deactivation_both_ways(world: World, client_for: Any) -> None:
    url = reverse("patient_deactivate", args=[world.other_patient.pk])
    for outsider in (other_director(world), world.patient_user):
        c = client_for(outsider)
        assert c.post(url, {"reason": "x"}).status_code == 404
        assert c.get(url).status_code == 404
    for user in (world.nurse, world.frontdesk, world.prescriber):
        assert client_for(user).post(url, {"reason": "x"}).status_code == 403
    assert Patient.objects.get(pk=world.other_patient.pk).active
    c = client_for(world.director)
    assert c.post(url, {"reason": ""}).status_code == 302
    assert Patient.objects.get(pk=world.other_patient.pk).active
    assert c.post(url, {"reason": "registered in error"}).status_code == 302
    assert not Patient.objects.get(pk=world.other_patient.pk).active
    audit = AuditEntry.objects.filter(summary__startswith="deactivated the record").get()
    assert audit.patient_id == world.other_patient.pk
    url = reverse("patient_reactivate", args=[world.other_patient.pk])
    assert client_for(world.frontdesk).post(url, {"reason": "x"}).status_code == 403
    assert c.post(url, {"reason": "found"}).status_code == 302
    assert Patient.objects.get(pk=world.other_patient.pk).active


# ---- search ---------------------------------------------------------------------------------


def test_typed_dates() -> None:
    born = dt.date(1980, 3, 14)
    assert typed_date("1980-03-14") == born
    assert typed_date("03/14/1980") == born
    assert typed_date("14/03/1980", slashes_day_first=True) == born
    assert typed_date("14.03.1980") == born
    assert typed_date("3/4/1980") == dt.date(1980, 3, 4)
    assert typed_date("3/4/1980", slashes_day_first=True) == dt.date(1980, 4, 3)
    assert typed_date("Anders") is None
    assert typed_date("KF12345678") is None
    for text in ("14/03/1980", "1980-02-30", "31.02.1980"):
        with pytest.raises(NotADate):
            typed_date(text)
    with pytest.raises(NotADate, match="month/day/year"):
        typed_date("14/03/1980")


def test_search_by_date_of_birth_and_record_number(world: World, client_for: Any) -> None:
    Patient.objects.filter(pk=world.other_patient.pk).update(date_of_birth=dt.date(1980, 3, 14))
    c = client_for(world.frontdesk)
    url = reverse("patient_list")
    for typed in ("1980-03-14", "03/14/1980", "14.03.1980"):
        page = c.get(url, {"q": typed}).content.decode()
        assert world.other_patient.mrn in page, typed
        assert world.patient.mrn not in page, typed
    page = c.get(url, {"q": "14/03/1980"}).content.decode()
    assert "14/03/1980 is not a date read as month/day/year" in page
    assert world.other_patient.mrn not in page
    RegistrySettings.objects.create(clinic=world.clinic, slash_dates="dmy")
    assert world.other_patient.mrn in c.get(url, {"q": "14/03/1980"}).content.decode()
    # Name and date together; the record number; another clinic's record number finds nothing.
    assert world.other_patient.mrn in c.get(url, {"q": "berg 1980-03-14"}).content.decode()
    assert world.other_patient.mrn not in c.get(url, {"q": "anders 1980-03-14"}).content.decode()
    assert world.patient.mrn in c.get(url, {"q": world.patient.mrn.lower()}).content.decode()
    page = c.get(url, {"q": world.foreign_patient.mrn}).content.decode()
    assert f'No patients match "{world.foreign_patient.mrn}"' in page
    # Searching is audited, naming who was shown.
    entry = AuditEntry.objects.filter(action="search").order_by("-id").first()
    assert entry is not None


def test_the_patient_list_both_ways(world: World, client_for: Any) -> None:
    url = reverse("patient_list")
    page = client_for(other_director(world)).get(url, {"q": "1985-03-14"}).content.decode()
    assert world.patient.mrn not in page
    assert world.other_patient.mrn not in page
    # A patient is sent to their own chart.
    response = client_for(world.patient_user).get(url, {"q": "1985-03-14"})
    assert response.status_code == 302
    assert response["Location"] == reverse("patient_chart", args=[world.patient.pk])


# ---- the audit filter by record number ------------------------------------------------------


def test_the_audit_filter_takes_a_record_number(world: World, client_for: Any) -> None:
    c = client_for(world.director)
    c.get(reverse("patient_chart", args=[world.other_patient.pk]))
    url = reverse("audit_list")
    page = c.get(url, {"patient": world.other_patient.mrn}).content.decode()
    assert "viewed chart" in page
    assert "No such patient" not in page
    page = c.get(url, {"patient": world.foreign_patient.mrn}).content.decode()
    assert "No such patient in this clinic." in page
    assert (
        client_for(other_director(world)).get(url, {"patient": world.patient.mrn}).status_code
        == 200
    )
    assert (
        "viewed chart"
        not in client_for(other_director(world))
        .get(url, {"patient": world.patient.mrn})
        .content.decode()
    )
    assert client_for(world.frontdesk).get(url).status_code == 403
