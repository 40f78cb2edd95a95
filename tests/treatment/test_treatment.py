"""Course planning and booking: refusals with their reasons, all-or-nothing booking, access both
ways, audited pages, and the predicted-concentration picture."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from ketaflow.accounts.models import Credential
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.clinical import Sex, WeightBasis, dosing
from ketaflow.patients.models import Patient
from ketaflow.treatment import services
from ketaflow.treatment.charts import course_charts
from ketaflow.treatment.demo import demo_course, load_demo
from ketaflow.treatment.estimate import course_estimate
from ketaflow.treatment.models import (
    RECOVERY_MIN_DEFAULT,
    Appointment,
    Chair,
    Course,
    OpeningHours,
    ScheduleSettings,
)
from ketaflow.web.charts import day_text
from ketaflow.web.charts import number_text as charts_number
from tests.treatment.builders import (
    NINE,
    at,
    book_all,
    chair,
    next_monday,
    plan,
    signed_candidacy,
    third_patient,
)
from tests.web.conftest import World

# ---- planning -------------------------------------------------------------------------------


def test_planning_is_refused_without_a_signed_candidacy(world: World) -> None:
    load_demo(actor=Actor.system("tests"), clinic=world.clinic, today=timezone.localdate())
    CandidacyAssessment.objects.create(
        patient=world.patient,
        created_by=world.prescriber,
        intake={},
        decision=CandidacyAssessment.Decision.ELIGIBLE,
        findings=[],
        summary="Assessed, not signed.",
    )
    with pytest.raises(ValidationError) as refused:
        plan(world)
    assert "No signed candidacy decision" in refused.value.message_dict["candidacy"][0]
    assert not Course.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"dose_mg_per_kg": Decimal("1.5")}, "dose_mg_per_kg", "above the hard maximum 1 mg/kg"),
        ({"dose_mg_per_kg": Decimal("0.05")}, "dose_mg_per_kg", "below the hard minimum 0.1"),
        ({"duration_min": Decimal(20)}, "duration_min", "below the hard minimum 30 min"),
        ({"duration_min": Decimal(150)}, "duration_min", "above the hard maximum 120 min"),
        (
            {"dose_mg_per_kg": Decimal("1.0"), "weight_kg": Decimal(120)},
            "weight_kg",
            "Total dose at 120.0 kg 120 mg is above the hard maximum 115 mg",
        ),
    ],
)
def test_planning_is_refused_beyond_the_drug_library_hard_limits(
    clinic_ready: World, overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        plan(clinic_ready, **overrides)
    assert message in refused.value.message_dict[field][0]
    assert "hard limit: refused" in refused.value.message_dict[field][0]
    assert not Course.objects.exists()


def test_a_soft_limit_breach_is_a_warning_at_planning(clinic_ready: World) -> None:
    course = plan(clinic_ready, dose_mg_per_kg=Decimal("0.75"))
    assert course.planning_warnings == ["Dose 0.75 mg/kg is above the soft maximum 0.5 mg/kg"]


def test_planning_checks_role_and_credentials(clinic_ready: World) -> None:
    with pytest.raises(ValidationError) as nurse:
        plan(clinic_ready, actor=Actor(user=clinic_ready.nurse))
    assert "may not plan a course" in str(nurse.value)
    Credential.objects.filter(user=clinic_ready.prescriber, kind="dea").update(
        expires_on=timezone.localdate() - dt.timedelta(days=1)
    )
    with pytest.raises(ValidationError) as lapsed:
        plan(clinic_ready)
    assert "DEA registration expired" in str(lapsed.value)
    assert not Course.objects.exists()


def test_ideal_body_weight_needs_height_and_is_computed(clinic_ready: World) -> None:
    with pytest.raises(ValidationError) as refused:
        plan(clinic_ready, weight_basis=Course.WeightBasis.IDEAL)
    assert "needs height_cm and sex" in refused.value.message_dict["height_cm"][0]
    course = plan(clinic_ready, weight_basis=Course.WeightBasis.IDEAL, height_cm=Decimal(168))
    # Devine 1974, female: 45.5 kg + 2.3 kg per inch over 60 in; 168 cm = 6.14 in over.
    assert services.course_dose(course).basis_weight_kg == pytest.approx(59.63, abs=0.01)
    assert not any("152.4" in w for w in course.planning_warnings)


def test_planning_warns_below_the_devine_height_as_the_core_does(clinic_ready: World) -> None:
    """The planning page used a copy of the weight-basis rule without the core's warning that
    Devine is not validated below 152.4 cm; it now calls the core, so the warning is there."""
    course = plan(clinic_ready, weight_basis=Course.WeightBasis.IDEAL, height_cm=Decimal(150))
    _, core_warnings = dosing.basis_weight(72.5, WeightBasis.IDEAL, 150.0, Sex.FEMALE)
    assert any("below 152.4 cm" in w for w in core_warnings)
    for warning in core_warnings:
        assert warning in course.planning_warnings


def test_a_sex_the_devine_formula_lacks_is_refused_on_the_weight_basis(
    clinic_ready: World,
) -> None:
    patient = clinic_ready.patient
    patient.sex_at_birth = Patient.SexAtBirth.INTERSEX
    patient.save()
    with pytest.raises(ValidationError) as refused:
        plan(clinic_ready, weight_basis=Course.WeightBasis.ADJUSTED, height_cm=Decimal(168))
    assert "female and male" in refused.value.message_dict["weight_basis"][0]
    assert plan(clinic_ready).weight_basis == "actual"


def test_the_start_date_may_not_be_in_the_past(clinic_ready: World) -> None:
    with pytest.raises(ValidationError) as refused:
        plan(clinic_ready, start_on=timezone.localdate() - dt.timedelta(days=3))
    assert "in the past" in refused.value.message_dict["start_on"][0]


def test_dates_follow_the_pattern_on_open_weekdays(clinic_ready: World) -> None:
    monday = next_monday()
    three = plan(clinic_ready)
    assert [dt.date.fromisoformat(d).weekday() for d in three.planned_dates] == [0, 2, 4] * 2
    assert three.planned_dates[0] == monday.isoformat()
    assert three.min_spacing_days == 2
    twice = plan(clinic_ready, pattern=Course.Pattern.TWICE_A_WEEK)
    assert [dt.date.fromisoformat(d).weekday() for d in twice.planned_dates] == [0, 3] * 3
    assert twice.min_spacing_days == 3
    # Open on Tuesdays and Thursdays only: three a week does not fit, so the series is longer.
    OpeningHours.objects.filter(clinic=clinic_ready.clinic, weekday__in=[0, 2, 4]).delete()
    sparse = plan(clinic_ready)
    assert [dt.date.fromisoformat(d).weekday() for d in sparse.planned_dates] == [1, 3] * 3
    assert "calendar weeks" in sparse.planning_warnings[0]


def test_single_infusion_pattern_has_one_infusion(clinic_ready: World) -> None:
    with pytest.raises(ValidationError) as refused:
        plan(clinic_ready, pattern=Course.Pattern.SINGLE)
    assert "exactly 1" in refused.value.message_dict["infusions_planned"][0]
    single = plan(clinic_ready, pattern=Course.Pattern.SINGLE, infusions_planned=1)
    assert single.planned_dates == [next_monday().isoformat()]


def test_planning_is_audited_with_the_patient(clinic_ready: World) -> None:
    course = plan(clinic_ready)
    entry = AuditEntry.objects.get(action="create", object_type="course")
    assert entry.patient_id == clinic_ready.patient.pk
    assert entry.object_id == str(course.pk)
    assert entry.detail["dose_mg"] == 36.25
    assert entry.detail["dates"] == course.planned_dates


# ---- booking --------------------------------------------------------------------------------


def test_booking_a_whole_course(clinic_ready: World) -> None:
    course = plan(clinic_ready)
    booked = book_all(clinic_ready, course, nurse=clinic_ready.nurse)
    assert len(booked) == 6
    first = booked[0]
    assert first.ends_at - first.starts_at == dt.timedelta(minutes=40 + RECOVERY_MIN_DEFAULT)
    assert services.local(clinic_ready.clinic, first.starts_at).time() == NINE
    course.refresh_from_db()
    assert course.status == Course.Status.BOOKED
    entries = AuditEntry.objects.filter(action="create", object_type="appointment")
    assert entries.count() == 6
    assert {e.patient_id for e in entries} == {clinic_ready.patient.pk}


def _conflict_case(world: World, kind: str) -> tuple[Course, list[services.Slot], str]:
    """A course, a request whose first slot is fine and whose second conflicts, and the reason."""
    course = plan(world)
    days = [dt.date.fromisoformat(d) for d in course.planned_dates]
    good = services.Slot(1, at(world, days[0], NINE), chair(world, "Chair 1"))
    second = days[1]
    if kind == "chair":
        other = plan(world, world.other_patient)
        services.course_book(
            actor=Actor(user=world.frontdesk),
            course=other,
            slots=[services.Slot(2, at(world, second, NINE), chair(world, "Chair 2"))],
        )
        bad = services.Slot(2, at(world, second, dt.time(9, 30)), chair(world, "Chair 2"))
        return course, [good, bad], "chair Chair 2 is already booked 09:00-11:00"
    if kind == "hours":
        bad = services.Slot(2, at(world, second, dt.time(17, 0)), chair(world, "Chair 1"))
        return course, [good, bad], "17:00-19:00 (infusion 40 min + recovery 80 min) is outside"
    if kind == "closed_day":
        saturday = second + dt.timedelta(days=(5 - second.weekday()) % 7)
        bad = services.Slot(2, at(world, saturday, NINE), chair(world, "Chair 1"))
        return course, [good, bad], "outside opening hours (closed that day)"
    if kind == "patient":
        booster = plan(world, kind=Course.Kind.BOOSTER, pattern="single", infusions_planned=1)
        services.course_book(
            actor=Actor(user=world.frontdesk),
            course=booster,
            slots=[services.Slot(1, at(world, second, dt.time(10, 0)), chair(world, "Chair 3"))],
        )
        bad = services.Slot(2, at(world, second, NINE), chair(world, "Chair 1"))
        return course, [good, bad], "the patient already has an appointment 10:00-12:00"
    if kind == "nurse":
        for index, patient in enumerate([world.other_patient, third_patient(world)]):
            other = plan(world, patient)
            services.course_book(
                actor=Actor(user=world.frontdesk),
                course=other,
                slots=[
                    services.Slot(
                        2,
                        at(world, second, NINE),
                        chair(world, f"Chair {index + 2}"),
                        world.nurse,
                    )
                ],
            )
        bad = services.Slot(
            2, at(world, second, dt.time(10, 0)), chair(world, "Chair 1"), world.nurse
        )
        return course, [good, bad], "already has 2 patients at that time (clinic maximum 2"
    if kind == "spacing":
        bad = services.Slot(
            2, at(world, days[0] + dt.timedelta(days=1), NINE), chair(world, "Chair 1")
        )
        return course, [good, bad], "is 1 day after infusion 1"
    if kind == "past":
        past = timezone.localdate() - dt.timedelta(days=1)
        bad = services.Slot(2, at(world, past, NINE), chair(world, "Chair 1"))
        return course, [good, bad], "the time is in the past"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["chair", "hours", "closed_day", "patient", "nurse", "spacing", "past"]
)
def test_each_conflict_is_refused_with_its_reason_and_nothing_is_booked(
    clinic_ready: World, kind: str
) -> None:
    course, slots, reason = _conflict_case(clinic_ready, kind)
    before = Appointment.objects.count()
    audit_before = AuditEntry.objects.count()
    with pytest.raises(services.BookingRefused) as refused:
        services.course_book(actor=Actor(user=clinic_ready.frontdesk), course=course, slots=slots)
    assert any(reason in r for r in refused.value.reasons), refused.value.reasons
    assert any(r.startswith("Infusion 2 ") for r in refused.value.reasons)
    assert Appointment.objects.count() == before
    assert not course.appointments.exists()
    assert AuditEntry.objects.count() == audit_before
    course.refresh_from_db()
    assert course.status == Course.Status.PLANNED


def test_the_nurse_maximum_is_a_clinic_setting(clinic_ready: World) -> None:
    ScheduleSettings.objects.create(clinic=clinic_ready.clinic, max_patients_per_nurse=1)
    other = plan(clinic_ready, clinic_ready.other_patient)
    book_all(clinic_ready, other, chair_name="Chair 2", nurse=clinic_ready.nurse)
    course = plan(clinic_ready)
    with pytest.raises(services.BookingRefused) as refused:
        book_all(clinic_ready, course, time=dt.time(10, 30), nurse=clinic_ready.nurse)
    assert "already has 1 patient at that time (clinic maximum 1" in refused.value.reasons[0]
    assert len(refused.value.reasons) == 6
    # Back to back is fine: the other appointment ends at 11:00.
    assert len(book_all(clinic_ready, course, time=dt.time(11, 0), nurse=clinic_ready.nurse)) == 6


def test_recovery_time_is_a_clinic_setting(clinic_ready: World) -> None:
    ScheduleSettings.objects.create(clinic=clinic_ready.clinic, recovery_min=60)
    booked = book_all(clinic_ready, plan(clinic_ready))
    assert booked[0].ends_at - booked[0].starts_at == dt.timedelta(minutes=100)


def test_first_free_chair_is_proposed_and_a_full_clinic_is_refused(clinic_ready: World) -> None:
    course = plan(clinic_ready)
    requests = [
        services.SlotRequest(i + 1, dt.date.fromisoformat(d), NINE)
        for i, d in enumerate(course.planned_dates)
    ]
    slots = services.slots_from_requests(course=course, requests=requests)
    assert {s.chair.name for s in slots} == {"Chair 1"}
    services.course_book(actor=Actor(user=clinic_ready.frontdesk), course=course, slots=slots)
    other = plan(clinic_ready, clinic_ready.other_patient)
    first = services.SlotRequest(1, dt.date.fromisoformat(other.planned_dates[0]), NINE)
    assert services.slots_from_requests(course=other, requests=[first])[0].chair.name == "Chair 2"
    Chair.objects.filter(name__in=["Chair 2", "Chair 3", "Chair 4"]).update(active=False)
    with pytest.raises(services.BookingRefused) as refused:
        services.slots_from_requests(course=other, requests=[first])
    assert "no chair is free 09:00-11:00" in refused.value.reasons[0]


def test_cancel_needs_a_reason_and_frees_the_infusion(clinic_ready: World) -> None:
    course = plan(clinic_ready)
    booked = book_all(clinic_ready, course)
    actor = Actor(user=clinic_ready.frontdesk)
    with pytest.raises(ValidationError) as blank:
        services.appointment_cancel(actor=actor, appointment=booked[2], reason="  ")
    assert blank.value.message_dict["reason"] == ["Give a reason."]
    services.appointment_cancel(actor=actor, appointment=booked[2], reason="Patient has flu")
    booked[2].refresh_from_db()
    assert booked[2].status == Appointment.Status.CANCELLED
    assert booked[2].cancel_reason == "Patient has flu"
    course.refresh_from_db()
    assert course.status == Course.Status.PLANNED
    entry = AuditEntry.objects.filter(object_type="appointment", action="update").latest("seq")
    assert "Patient has flu" in entry.summary
    assert entry.patient_id == clinic_ready.patient.pk
    with pytest.raises(ValidationError):
        services.appointment_cancel(actor=actor, appointment=booked[2], reason="again")
    day = dt.date.fromisoformat(course.planned_dates[2])
    services.course_book(
        actor=actor,
        course=course,
        slots=[
            services.Slot(3, at(clinic_ready, day, dt.time(13, 0)), chair(clinic_ready, "Chair 1"))
        ],
    )
    course.refresh_from_db()
    assert course.status == Course.Status.BOOKED


def test_reschedule_keeps_the_rules_and_records_the_change(clinic_ready: World) -> None:
    course = plan(clinic_ready)
    booked = book_all(clinic_ready, course)
    actor = Actor(user=clinic_ready.nurse)
    day = dt.date.fromisoformat(course.planned_dates[1])
    with pytest.raises(services.BookingRefused) as refused:
        services.appointment_reschedule(
            actor=actor,
            appointment=booked[1],
            starts_at=at(clinic_ready, day - dt.timedelta(days=1), NINE),
            chair=chair(clinic_ready, "Chair 1"),
            nurse=None,
            reason="Patient asked",
        )
    assert "needs at least 2 days between infusions" in refused.value.reasons[0]
    services.appointment_reschedule(
        actor=actor,
        appointment=booked[1],
        starts_at=at(clinic_ready, day, dt.time(14, 0)),
        chair=chair(clinic_ready, "Chair 4"),
        nurse=clinic_ready.nurse,
        reason="Patient works mornings",
    )
    booked[1].refresh_from_db()
    assert services.local(clinic_ready.clinic, booked[1].starts_at).time() == dt.time(14, 0)
    entry = AuditEntry.objects.filter(object_type="appointment", action="update").latest("seq")
    assert entry.detail["changes"]["chair"] == ["Chair 1", "Chair 4"]
    assert entry.detail["reason"] == "Patient works mornings"


# ---- demo -----------------------------------------------------------------------------------


def test_demo_loader_is_idempotent_and_books_a_standard_induction(world: World) -> None:
    actor = Actor.system("demo")
    first = load_demo(actor=actor, clinic=world.clinic, today=timezone.localdate())
    assert first == {"chairs": 4, "opening_hours": 5}
    assert load_demo(actor=actor, clinic=world.clinic, today=timezone.localdate()) == {
        "chairs": 0,
        "opening_hours": 0,
    }
    candidacy = signed_candidacy(world, world.patient)
    start = timezone.localdate() - dt.timedelta(days=3)
    course = demo_course(
        actor=Actor(user=world.prescriber),
        patient=world.patient,
        candidacy=candidacy,
        start_on=start,
    )
    assert course.status == Course.Status.BOOKED
    assert course.appointments.count() == 6
    assert {a.nurse for a in course.appointments.all()} == {world.nurse}
    again = demo_course(
        actor=Actor(user=world.prescriber),
        patient=world.patient,
        candidacy=candidacy,
        start_on=start,
    )
    assert again.pk == course.pk
    assert Appointment.objects.count() == 6
    depression = signed_candidacy(world, world.other_patient)
    depression.indications = ["depression"]
    depression.save()
    other = demo_course(
        actor=Actor(user=world.prescriber),
        patient=world.other_patient,
        candidacy=depression,
        start_on=start,
    )
    assert other.drug_library_key == "ketamine-depression"
    assert other.appointments.count() == 6
    assert {a.chair.name for a in other.appointments.all()} == {"Chair 2"}


# ---- the web pages --------------------------------------------------------------------------


def _treatment_urls() -> list[str]:
    names: list[str] = []
    for entry in get_resolver().url_patterns:
        module = getattr(entry, "urlconf_module", None)
        if isinstance(entry, URLResolver) and getattr(module, "__name__", "") == (
            "ketaflow.treatment.urls"
        ):
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern)
                assert pattern.name
                names.append(pattern.name)
    return names


TREATMENT_URLS = _treatment_urls()


def test_the_url_list_covers_the_app() -> None:
    assert set(TREATMENT_URLS) == {
        "chair_board",
        "course_plan",
        "course_detail",
        "course_book",
        "appointment_cancel",
        "appointment_reschedule",
    }


def url_for(name: str, *, patient: int = 1, course: int = 1, appointment: int = 1) -> str:
    pattern = get_resolver().reverse_dict.getlist(name)[0][0][0][1]
    params = {
        key: value
        for key, value in (
            ("patient_id", patient),
            ("course_id", course),
            ("appointment_id", appointment),
        )
        if key in pattern
    }
    return reverse(name, kwargs=params)


@pytest.mark.parametrize("name", TREATMENT_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_requests_go_to_login(db: None, name: str, method: str) -> None:
    response = getattr(Client(), method)(url_for(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.fixture
def booked(clinic_ready: World) -> tuple[World, Course, list[Appointment]]:
    course = plan(clinic_ready)
    return clinic_ready, course, book_all(clinic_ready, course, nurse=clinic_ready.nurse)


def _urls(course: Course, appointments: list[Appointment]) -> dict[str, str]:
    return {
        name: url_for(
            name, patient=course.patient_id, course=course.pk, appointment=appointments[0].pk
        )
        for name in TREATMENT_URLS
    }


def test_prescriber_plans_a_course_in_the_browser_form(
    clinic_ready: World, client_for: Any
) -> None:
    c = client_for(clinic_ready.prescriber)
    url = reverse("course_plan", args=[clinic_ready.patient.pk])
    page = c.get(url).content.decode()
    assert 'name="dose_mg_per_kg" value="0.5"' in page
    assert 'name="duration_min" value="40.0"' in page
    assert 'name="infusions_planned" value="6"' in page
    assert 'name="weight_kg" value="72.5"' in page  # from the signed intake
    form = {
        "drug_library_key": "ketamine-ptsd",
        "kind": "induction",
        "dose_mg_per_kg": "0.5",
        "duration_min": "40",
        "weight_basis": "actual",
        "weight_kg": "72.5",
        "pattern": "three_a_week",
        "infusions_planned": "6",
        "start_on": next_monday().isoformat(),
    }
    preview = c.post(url, {**form, "preview": "1"}).content.decode()
    assert 'id="preview"' in preview
    assert f"Mon {next_monday():%Y-%m-%d}" in preview
    assert "36.3 mg" in preview  # to 0.1 mg, the exact figure one click away
    assert "exact: 36.25 mg" in preview
    # The predicted concentration before saving: both pictures drawn into the page, one row
    # per infusion with its peak and the level before it, and the preview audited.
    assert 'id="preview-concentration"' in preview
    assert "data:image/png" not in preview  # one chart technology: SVG drawn in the page
    assert preview.count('<svg class="chart-svg"') == 6 + 1  # one per infusion, the first close up
    assert preview.count("<tr><td>") >= 6
    assert "500 virtual patients" in preview
    assert AuditEntry.objects.filter(
        patient_id=clinic_ready.patient.pk, summary__contains="predicted concentration"
    ).exists()
    assert not Course.objects.exists()
    # A preview with a refused dose shows no picture.
    refused = c.post(url, {**form, "dose_mg_per_kg": "2", "preview": "1"}).content.decode()
    assert 'id="preview-concentration"' not in refused
    saved = c.post(url, {**form, "save": "1"})
    course = Course.objects.get()
    assert saved["Location"] == reverse("course_detail", args=[course.pk])
    hard = c.post(url, {**form, "dose_mg_per_kg": "2", "save": "1"}).content.decode()
    assert "Please correct the following" in hard
    assert "above the hard maximum 1 mg/kg" in hard
    assert Course.objects.count() == 1


def test_planning_page_refuses_without_a_signed_candidacy(world: World, client_for: Any) -> None:
    load_demo(actor=Actor.system("tests"), clinic=world.clinic, today=timezone.localdate())
    c = client_for(world.prescriber)
    url = reverse("course_plan", args=[world.patient.pk])
    assert "No signed candidacy decision" in c.get(url).content.decode()
    response = c.post(
        url,
        {
            "drug_library_key": "ketamine-ptsd",
            "kind": "induction",
            "dose_mg_per_kg": "0.5",
            "duration_min": "40",
            "weight_basis": "actual",
            "weight_kg": "70",
            "pattern": "three_a_week",
            "infusions_planned": "6",
            "start_on": next_monday().isoformat(),
            "save": "1",
        },
    )
    assert response.status_code == 200
    assert "a prescriber must sign" in response.content.decode()
    assert not Course.objects.exists()


def test_front_desk_books_through_the_form_and_sees_no_dose(
    clinic_ready: World, client_for: Any
) -> None:
    course = plan(clinic_ready)
    c = client_for(clinic_ready.frontdesk)
    url = reverse("course_book", args=[course.pk])
    page = c.get(url).content.decode()
    assert "First free chair" in page
    assert "mg/kg" not in page
    form: dict[str, str] = {"time_of_day": "10:00", "nurse": str(clinic_ready.nurse.pk)}
    for i, day in enumerate(course.planned_dates):
        form[f"date_{i + 1}"] = day
    form["time_5"] = "17:00"  # ends 19:00, after closing: the whole request is refused
    refused = c.post(url, form).content.decode()
    assert "Nothing was booked" in refused
    assert "Infusion 5" in refused
    assert "outside opening hours" in refused
    assert not Appointment.objects.exists()
    form["time_5"] = ""
    form["chair_2"] = str(chair(clinic_ready, "Chair 3").pk)
    assert c.post(url, form)["Location"] == reverse("course_detail", args=[course.pk])
    assert Appointment.objects.count() == 6
    assert Appointment.objects.get(sequence=2).chair.name == "Chair 3"
    detail = c.get(reverse("course_detail", args=[course.pk])).content.decode()
    assert "Alice" in detail
    assert "10:00" in detail
    assert "mg/kg" not in detail
    assert 'id="pk-first"' not in detail
    assert "pk-day-1" not in detail
    board = c.get(reverse("chair_board"), {"day": course.planned_dates[0]}).content.decode()
    assert "Alice Anders" in board
    assert "10:00-12:00" in board
    assert "mg/kg" not in board


def test_clinical_staff_see_the_dose_and_the_concentration_estimate(
    booked: tuple[World, Course, list[Appointment]], client_for: Any
) -> None:
    world, course, _ = booked
    c = client_for(world.nurse)
    detail = c.get(reverse("course_detail", args=[course.pk])).content.decode()
    assert "0.5 mg/kg over 40 min" in detail
    assert "36.3 mg</summary>exact: 36.25 mg</details> per infusion" in detail
    assert 'id="pk-day-1"' in detail
    assert 'id="pk-first"' in detail
    assert "An estimate from a published pharmacokinetic model" in detail
    assert "500 virtual patients" in detail
    assert "Domino EF et al." in detail
    board = c.get(reverse("chair_board"), {"day": course.planned_dates[0]}).content.decode()
    assert "0.5 mg/kg" in board
    assert 'rowspan="4"' in board  # 09:00-11:00 in 30-minute rows


def test_the_course_chart_has_one_panel_per_infusion_day(
    booked: tuple[World, Course, list[Appointment]],
) -> None:
    _, course, _ = booked
    estimate = course_estimate(course)
    days = estimate.days()
    assert [d for d, _ in days] == list(estimate.starts_day)
    assert len(days) == course.infusions_planned
    for _, window in days:
        # A peak after each start, well above the level the nights leave before the next one.
        assert window.peak_low_ng_per_ml <= window.peak_ng_per_ml <= window.peak_high_ng_per_ml
        assert window.before_ng_per_ml < window.peak_ng_per_ml / 10
    dates = [dt.date.fromisoformat(d) for d in course.planned_dates]
    panels = course_charts(estimate, dates)
    assert len(panels) == course.infusions_planned
    assert panels[1].title.startswith(
        f"Infusion 2, {day_text(dates[1])} (day {estimate.starts_day[1]}): peak"
    )
    # Each day's table lists the points drawn: the median's peak is one of them.
    peak = charts_number(days[1][1].peak_ng_per_ml)
    assert peak in [row[1] for row in panels[1].table.rows]


def test_the_chair_board_pages_between_days(
    booked: tuple[World, Course, list[Appointment]], client_for: Any
) -> None:
    world, course, _ = booked
    monday = dt.date.fromisoformat(course.planned_dates[0])
    page = client_for(world.frontdesk).get(reverse("chair_board"), {"day": monday}).content
    text = page.decode()
    assert f"?day={monday - dt.timedelta(days=1):%Y-%m-%d}" in text
    assert f"?day={monday + dt.timedelta(days=1):%Y-%m-%d}" in text
    assert "Chair 4" in text
    sunday = client_for(world.frontdesk).get(
        reverse("chair_board"), {"day": monday - dt.timedelta(days=1)}
    )
    assert "closed on this weekday" in sunday.content.decode()
    assert "Alice" not in sunday.content.decode()


def test_courses_waiting_to_be_booked_are_listed_for_the_front_desk(
    clinic_ready: World, client_for: Any
) -> None:
    course = plan(clinic_ready)
    board = client_for(clinic_ready.frontdesk).get(reverse("chair_board")).content.decode()
    assert reverse("course_book", args=[course.pk]) in board
    entry = AuditEntry.objects.filter(object_type="chair_board").latest("seq")
    assert entry.detail["patient_ids"] == [clinic_ready.patient.pk]


def test_the_chart_lists_courses_for_clinical_staff(
    booked: tuple[World, Course, list[Appointment]], client_for: Any
) -> None:
    world, course, _ = booked
    chart = reverse("patient_chart", args=[world.patient.pk])
    prescriber = client_for(world.prescriber).get(chart).content.decode()
    assert reverse("course_detail", args=[course.pk]) in prescriber
    assert reverse("course_plan", args=[world.patient.pk]) in prescriber
    nurse = client_for(world.nurse).get(chart).content.decode()
    assert reverse("course_detail", args=[course.pk]) in nurse
    assert reverse("course_plan", args=[world.patient.pk]) not in nurse
    frontdesk = client_for(world.frontdesk).get(chart).content.decode()
    assert 'id="courses"' not in frontdesk


def test_nurse_cannot_plan_a_course(clinic_ready: World, client_for: Any) -> None:
    c = client_for(clinic_ready.nurse)
    url = reverse("course_plan", args=[clinic_ready.patient.pk])
    assert c.get(url).status_code == 403
    assert c.post(url, {"save": "1"}).status_code == 403
    assert AuditEntry.objects.filter(
        action="denied", actor_username="nurse", summary="denied: plan_course"
    ).exists()


def test_cancel_and_reschedule_through_the_forms(
    booked: tuple[World, Course, list[Appointment]], client_for: Any
) -> None:
    world, course, appointments = booked
    c = client_for(world.frontdesk)
    cancel = reverse("appointment_cancel", args=[appointments[5].pk])
    assert "This field is required" in c.post(cancel, {"reason": ""}).content.decode()
    assert c.post(cancel, {"reason": "Travelling"}).status_code == 302
    appointments[5].refresh_from_db()
    assert appointments[5].status == Appointment.Status.CANCELLED
    move = reverse("appointment_reschedule", args=[appointments[0].pk])
    form = {
        "on": course.planned_dates[0],
        "at": "17:30",
        "chair": str(chair(world, "Chair 2").pk),
        "reason": "Later",
    }
    refused = c.post(move, form).content.decode()
    assert "Nothing was booked" in refused
    assert "outside opening hours" in refused
    form["at"] = "12:00"
    assert c.post(move, form).status_code == 302
    appointments[0].refresh_from_db()
    assert appointments[0].chair.name == "Chair 2"
    assert appointments[0].nurse is None
    detail = c.get(reverse("course_detail", args=[course.pk])).content.decode()
    assert "Travelling" in detail


@pytest.mark.parametrize("name", [n for n in TREATMENT_URLS if n != "chair_board"])
def test_staff_of_another_clinic_get_not_found(
    booked: tuple[World, Course, list[Appointment]], client_for: Any, name: str
) -> None:
    world, course, appointments = booked
    response = client_for(world.foreign_prescriber).get(_urls(course, appointments)[name])
    assert response.status_code == 404
    assert b"Alice" not in response.content


def test_another_clinics_board_does_not_show_our_patients(
    booked: tuple[World, Course, list[Appointment]], client_for: Any
) -> None:
    world, course, _ = booked
    board = client_for(world.foreign_prescriber).get(
        reverse("chair_board"), {"day": course.planned_dates[0]}
    )
    assert board.status_code == 200
    assert b"Alice" not in board.content


@pytest.mark.parametrize("name", [n for n in TREATMENT_URLS if n != "chair_board"])
def test_a_patient_may_not_open_the_scheduling_pages(
    booked: tuple[World, Course, list[Appointment]], client_for: Any, name: str
) -> None:
    world, course, appointments = booked
    c = client_for(world.patient_user)
    assert c.get(_urls(course, appointments)[name]).status_code == 403
    other = plan(world, world.other_patient)
    other_appointments = book_all(world, other, chair_name="Chair 2")
    response = c.get(_urls(other, other_appointments)[name])
    assert response.status_code == 404
    assert b"Berg" not in response.content
    assert c.get(reverse("chair_board")).status_code == 403


def test_unknown_course_and_appointment_are_not_found(clinic_ready: World, client_for: Any) -> None:
    c = client_for(clinic_ready.prescriber)
    assert c.get(reverse("course_detail", args=[9999])).status_code == 404
    assert c.get(reverse("appointment_cancel", args=[9999])).status_code == 404


@pytest.mark.parametrize(
    ("name", "role", "object_type"),
    [
        ("course_plan", "prescriber", "course"),
        ("course_detail", "frontdesk", "course"),
        ("course_detail", "nurse", "course"),
        ("course_book", "frontdesk", "course"),
        ("appointment_cancel", "nurse", "appointment"),
        ("appointment_reschedule", "frontdesk", "appointment"),
    ],
)
def test_every_page_with_patient_data_is_audited(
    booked: tuple[World, Course, list[Appointment]],
    client_for: Any,
    name: str,
    role: str,
    object_type: str,
) -> None:
    world, course, appointments = booked
    user = world.staff()[role]
    c = client_for(user)
    before = AuditEntry.objects.count()
    response = c.get(_urls(course, appointments)[name])
    assert response.status_code == 200
    entry = AuditEntry.objects.latest("seq")
    assert AuditEntry.objects.count() == before + 1
    assert entry.action == "view"
    assert entry.actor_username == user.username
    assert entry.patient_id == world.patient.pk
    assert entry.object_type == object_type


def test_the_chair_board_is_audited_as_a_list(
    booked: tuple[World, Course, list[Appointment]], client_for: Any
) -> None:
    world, course, _ = booked
    client_for(world.nurse).get(reverse("chair_board"), {"day": course.planned_dates[0]})
    entry = AuditEntry.objects.latest("seq")
    assert entry.object_type == "chair_board"
    assert entry.object_id == course.planned_dates[0]
    assert entry.detail["patient_ids"] == [world.patient.pk]
    assert "1 appointments, 1 patients" in entry.summary


def test_the_nav_shows_the_chair_board_to_staff_only(world: World, client_for: Any) -> None:
    board = reverse("chair_board")
    assert board in client_for(world.frontdesk).get(reverse("patient_list")).content.decode()
    own_chart = reverse("patient_chart", args=[world.patient.pk])
    assert board not in client_for(world.patient_user).get(own_chart).content.decode()
