"""The patient chart's database queries, pinned to a ceiling: the page is read by one selector
(:func:`ketaflow.patients.selectors.chart_page`), whose queries do not grow with the number of
records on the chart. Measured with Django's CaptureQueriesContext."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients import services
from ketaflow.patients.models import Allergy
from tests.infusions.builders import session_in
from tests.web.conftest import World

# Measured before the chart moved into a selector: 44 queries (prescriber), 17 (front desk);
# after: 43 and 16 (the clinic read with the patient by patient_for_user); session 9: 34 and 12
# (the session saved once a minute, the user read with their clinic, the outcome scores in one
# query, the urgent banner counted only when full).
# Session 14: 28, the infusions' appointments and signers read with them, and one audit entry
# for the page (the outcomes section wrote a second one: six statements).
# PostgreSQL takes one more: the audit chain's head is locked (SELECT ... FOR UPDATE) for the
# page's audit entry.
CHART_QUERIES_MAX = {"sqlite": 28, "postgresql": 29}


def _chart_queries(client: Any, patient_id: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("patient_chart", args=[patient_id]))
    assert response.status_code == 200
    return len(queries)


def test_the_patient_chart_reads_a_bounded_number_of_queries(world: World, client_for: Any) -> None:
    prescriber = client_for(world.prescriber)
    frontdesk = client_for(world.frontdesk)
    pk = world.patient.pk
    _chart_queries(prescriber, pk)  # sessions and caches warmed (a session is saved at its
    _chart_queries(frontdesk, pk)  # first page, then once a minute)
    before = {
        "prescriber": _chart_queries(prescriber, pk),
        "frontdesk": _chart_queries(frontdesk, pk),
    }
    for substance in ("penicillin", "latex", "iodine"):
        services.record_add(
            actor=Actor(user=world.prescriber),
            patient=world.patient,
            record=Allergy(substance=substance, reaction="rash"),
        )
    # Two signed infusions, each with its course and appointment: the list of infusions read
    # each one's appointment and signer with a query of its own (four more here).
    for _ in range(2):
        session_in(
            world,
            world.patient,
            InfusionSession.Status.SIGNED,
            locked=True,
            signed_by=world.prescriber,
            signed_at=timezone.now(),
        )
    after = {
        "prescriber": _chart_queries(prescriber, pk),
        "frontdesk": _chart_queries(frontdesk, pk),
    }
    print(f"patient chart queries: {before} then, with more records, {after}")
    assert after == before, "the chart's queries grow with its records"
    assert max(after.values()) <= CHART_QUERIES_MAX[connection.vendor]


def test_a_patients_own_chart_neither_reads_nor_audits_the_infusion_list(world: World) -> None:
    """The infusion list is staff only: the template hid it from the patient's own view while
    the selector still read it and the audit entry named it as shown."""
    from ketaflow.audit.models import AuditEntry
    from tests.portal.builders import verified_client

    session_in(world, world.patient, InfusionSession.Status.SIGNED)
    url = reverse("patient_chart", args=[world.patient.pk])
    with CaptureQueriesContext(connection) as queries:
        page = verified_client(world.patient_user).get(url).content.decode()
    assert 'id="courses"' in page
    assert 'id="infusion-sessions"' not in page
    # The list's read (with each signer); the outcomes section reads the infusion days itself.
    listed = [
        q["sql"]
        for q in queries
        if 'FROM "infusions_infusionsession"' in q["sql"] and 'JOIN "accounts_user"' in q["sql"]
    ]
    assert listed == []
    own = (
        AuditEntry.objects.filter(patient_id=world.patient.pk, object_type="patient", action="view")
        .order_by("id")
        .last()
    )
    assert own is not None
    assert "infusion sessions" not in own.summary
    assert "courses" in own.summary
