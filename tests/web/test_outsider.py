"""The outsider sweep (issue 12): the staff and the portal patient of the demo's second clinic,
Harbor Infusion Center, ask for every URL of the app with every record id of the first clinic,
Riverside, and post to every one of them. No response shows anything of Riverside, every
request for a Riverside record is refused, and no row Riverside owns changes.

Both demo clinics are loaded once for the module (one transaction, rolled back at the end); each
test runs in a savepoint of it. The admin and the audit trail are swept in their own tests; the
audit trail is scoped to the director's clinic like every other page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Role
from ketaflow.accounts.second_factor import secret_of, totp_device
from ketaflow.api.services import token_create
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger.models import LedgerEntry, Vial
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Appointment
from ketaflow.web.demo import HARBOR_TOTP_KEY, demo_load
from tests.web import sweep
from tests.web.conftest import logged_in

pytestmark = [pytest.mark.slow, pytest.mark.sweep, pytest.mark.xdist_group("outsider")]

HARBOR_STAFF = ["harbor-director", "harbor-prescriber", "harbor-nurse", "harbor-frontdesk"]
# What a refusal of another clinic's record looks like: not found, forbidden, or not allowed;
# the REST API takes tokens only, so a logged-in session is refused there (401). Every API
# endpoint with another clinic's token is swept in test_api.py.
REFUSED = {401, 403, 404, 405}


@dataclass
class Demo:
    riverside: Clinic
    harbor: Clinic
    secrets: list[str]  # what no Harbor response may show
    named: list[str]  # URLs naming a Riverside record
    others: list[str]  # lists, searches, clinic-wide reports, forms of new records


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[Demo]:
    with django_db_blocker.unblock(), transaction.atomic():
        demo_load()
        riverside = Clinic.objects.get(slug="riverside")
        # An API token of Riverside's, whose revocation the sweep tries as each outsider.
        token_create(
            actor=Actor.system("tests"),
            user=User.objects.get(username="nurse"),
            scopes=["patients:read"],
        )
        named, others = sweep.clinic_urls(riverside, sweep.patterns())
        yield Demo(
            riverside=riverside,
            harbor=Clinic.objects.get(slug="harbor"),
            secrets=sweep.secrets_of(riverside),
            named=named,
            others=others,
        )
        transaction.set_rollback(True)


def _client(username: str) -> Client:
    return logged_in(User.objects.get(username=username))


def _audit(url: str) -> bool:
    return url.startswith("/audit/")


def _not_audit(url: str) -> bool:
    return not _audit(url)


def _shape(url: str) -> str:
    """The URL with its record ids left out: URLs of one shape share one form."""
    return re.sub(r"/\d+", "/#", url.split("?")[0])


def _sample(urls: list[str]) -> list[str]:
    """The first, middle and last URL of each shape (for the roles swept on a sample)."""
    by_shape: dict[str, list[str]] = {}
    for url in urls:
        by_shape.setdefault(_shape(url), []).append(url)
    return [
        u
        for group in by_shape.values()
        for u in dict.fromkeys([group[0], group[len(group) // 2], group[-1]])
    ]


@dataclass
class Sweep:
    """What one outsider asks for: the URLs naming a Riverside record (which must be refused)
    and the others (which must show nothing of Riverside)."""

    named: list[str]
    others: list[str]

    def of(self, keep: Callable[[str], bool]) -> Sweep:
        return Sweep([u for u in self.named if keep(u)], [u for u in self.others if keep(u)])


def _sweep_for(demo: Demo, username: str, keep: Callable[[str], bool] = _not_audit) -> Sweep:
    """The harbor director GETs every URL with every Riverside record; the other roles and the
    patient every URL shape with a sample of Riverside records (the module stays fast)."""
    full = Sweep(demo.named, demo.others).of(keep)
    return full if username == "harbor-director" else Sweep(_sample(full.named), full.others)


def _judge(demo: Demo, method: str, url: str, response: Any, named: bool) -> list[str]:
    """The problems of one response: a Riverside record not refused, a server error, or a
    page that shows something of Riverside."""
    status = response.status_code
    problems = []
    if named and status not in REFUSED:
        problems.append(f"{method} {url}: {status}, not refused")
    # /healthz answers 503 by design while the worker has not run and no backup was made.
    if status >= 500 and not (url == "/healthz" and status == 503):
        problems.append(f"{method} {url}: {status}")
    if status == 200:
        text = sweep.response_text(response)
        problems += [f"{method} {url} shows {s!r}" for s in sweep.leaks(text, demo.secrets)]
    return problems


def _get_sweep(client: Client, demo: Demo, urls: Sweep) -> list[str]:
    """GET every URL; the problems found, one line each."""
    problems: list[str] = []
    for url in urls.named + urls.others:
        problems += _judge(demo, "GET", url, client.get(url), url in urls.named)
    return problems


_FORMS: dict[str, dict[str, str]] = {}  # by URL shape
_ASKED: set[str] = set()  # the URL shapes whose page the owner was asked for


def _owner_forms(urls: list[str]) -> None:
    """Collect the forms Riverside fills in: one GET of each URL shape as its director (as its
    patient in the portal); each form on the page is kept under its action's shape, a form on
    its own page first, with plausible values where a field is empty. Each owner logs in once
    per call (a session lives in the calling test's savepoint), not once per URL shape."""
    owners: dict[str, Client] = {}
    for url in urls:
        shape = _shape(url)
        if shape in _ASKED:
            continue
        _ASKED.add(shape)
        owner = "patient" if url.startswith("/portal/") else "director"
        if owner not in owners:
            owners[owner] = _client(owner)
        response: Any = owners[owner].get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        for action, fields in sweep.forms(response.content.decode(errors="replace")):
            target = shape if action in ("", url) else _shape(action)
            if action in ("", url) or target not in _FORMS:
                _FORMS[target] = fields


def _post_sweep(client: Client, demo: Demo, urls: Sweep) -> list[str]:
    """POST every URL with the form Riverside would send; the problems found."""
    problems: list[str] = []
    for url in urls.named + urls.others:
        response = client.post(url, _FORMS.get(_shape(url), {}))
        problems += _judge(demo, "POST", url, response, url in urls.named)
    return problems


def _unchanged(demo: Demo, before: dict[str, Any], since: int) -> list[str]:
    """Riverside's rows as ``before``, and no audit entry on a Riverside patient since
    ``since`` but refusals."""
    problems = sweep.changes(before, sweep.owned_rows(demo.riverside))
    riverside = Patient.objects.filter(clinic=demo.riverside).values_list("pk", flat=True)
    # Entries are numbered per clinic chain: "since" is the row id. A list page names its
    # patients in the link table, so both ways of naming a patient are checked.
    entries = AuditEntry.objects.filter(id__gt=since).filter(
        Q(patient_id__in=list(riverside)) | Q(patient_links__patient_id__in=list(riverside))
    )
    problems += [
        f"audit #{e.seq} {e.action} by {e.actor_username}: {e.summary}"
        for e in entries.exclude(action=AuditEntry.Action.DENIED)
    ]
    return problems


def _audit_seq() -> int:
    last = AuditEntry.objects.order_by("-id").first()
    return last.pk if last is not None else 0


def _outsider(demo: Demo, username: str, keep: Callable[[str], bool] = _not_audit) -> list[str]:
    """``username`` GETs and then POSTs the sweep; every problem found, Riverside's rows
    compared before and after."""
    urls = _sweep_for(demo, username, keep)
    _owner_forms(urls.named + urls.others)  # before the snapshot: the owner's views are audited
    before, since = sweep.owned_rows(demo.riverside), _audit_seq()
    client = _client(username)
    problems = _get_sweep(client, demo, urls)
    # POST every URL shape with a sample of Riverside records (first, middle, last of a shape).
    problems += _post_sweep(client, demo, Sweep(_sample(urls.named), urls.others))
    return problems + _unchanged(demo, before, since)


def test_harbor_demo_has_full_staff_and_patients_at_their_stages(demo: Demo, db: None) -> None:
    today = timezone.localdate()
    for username, role in zip(
        HARBOR_STAFF,
        [Role.MEDICAL_DIRECTOR, Role.PRESCRIBER, Role.NURSE, Role.FRONT_DESK],
        strict=True,
    ):
        user = User.objects.get(username=username)
        assert (user.clinic, user.role, user.check_password("ketaflow-demo")) == (
            demo.harbor,
            role,
            True,
        )
    for username, act in [
        ("harbor-director", ClinicalAct.SIGN),
        ("harbor-prescriber", ClinicalAct.ORDER),
        ("harbor-nurse", ClinicalAct.ADMINISTER),
    ]:
        assert credential_check(User.objects.get(username=username), act, on=today).ok, username
    patients = Patient.objects.filter(clinic=demo.harbor)
    assert patients.count() == 4
    assessed = CandidacyAssessment.objects.filter(patient__clinic=demo.harbor)
    assert set(assessed.values_list("status", flat=True)) == {"assessed", "signed"}
    assert (
        Appointment.objects.filter(patient__clinic=demo.harbor).values("course").distinct().count()
        == 2
    )
    signed = InfusionSession.objects.get(patient__clinic=demo.harbor)
    assert signed.status == InfusionSession.Status.SIGNED
    portal = User.objects.get(username="harbor-patient")
    assert patients.get(user=portal) == signed.patient
    device = totp_device(portal)
    assert device is not None
    assert secret_of(device) == HARBOR_TOTP_KEY
    # Every demo staff login is enrolled too, with the secret `ketaflow demo` prints.
    for login in demo_load().logins:
        user = User.objects.get(username=login.username)
        enrolled = totp_device(user)
        assert enrolled is not None, login.username
        assert secret_of(enrolled) == login.totp_secret, login.username
    assert Vial.objects.filter(clinic=demo.harbor, lot="HBR-25C044").count() == 6
    # Idempotent: loading again adds nothing.
    counts = (User.objects.count(), Patient.objects.count(), LedgerEntry.objects.count())
    result = demo_load()
    assert (result.created_users, result.created_patients) == (0, 0)
    assert (User.objects.count(), Patient.objects.count(), LedgerEntry.objects.count()) == counts
    harbor_logins = [login.username for login in result.logins if login.clinic == demo.harbor.name]
    assert harbor_logins == [*HARBOR_STAFF, "harbor-patient"]


def test_the_sweep_sees_a_clinic_s_own_data(demo: Demo, db: None) -> None:
    """The checks can fail: Riverside's director sees Riverside's secrets on its pages, in a CSV
    and in a PDF, and Harbor's director sees Harbor's own."""
    client = _client("director")
    morgan = Patient.objects.get(clinic=demo.riverside, family_name="Morgan")
    chart = sweep.response_text(client.get(f"/patients/{morgan.pk}/"))
    assert sweep.leaks(chart, demo.secrets)
    for fmt in ("csv", "pdf"):
        report = sweep.response_text(client.get(f"/ledger/reports/ledger/?format={fmt}"))
        assert "KET-24A117" in sweep.leaks(report, demo.secrets), fmt
    # The owner's forms, posted by the owner, change the owner's rows (and the snapshot sees it).
    urls = [f"/patients/{morgan.pk}/edit/", f"/patients/{morgan.pk}/notes/new/"]
    _owner_forms([f"/patients/{morgan.pk}/", *urls])
    for url in urls:
        before = sweep.owned_rows(demo.riverside)
        assert client.post(url, _FORMS[_shape(url)]).status_code == 302, url
        assert sweep.changes(before, sweep.owned_rows(demo.riverside)), url
    harbor = _client("harbor-director")
    assert "Mbeki, Grace" in sweep.response_text(harbor.get("/patients/"))
    assert "HBR-25C044" in sweep.response_text(harbor.get("/ledger/reports/ledger/?format=pdf"))


@pytest.mark.parametrize("username", HARBOR_STAFF)
def test_harbor_staff_get_and_change_nothing_of_riverside(
    demo: Demo, db: None, username: str
) -> None:
    problems = _outsider(demo, username)
    assert not problems, "\n".join(problems)


def test_harbor_patient_gets_and_changes_nothing_of_riverside(demo: Demo, db: None) -> None:
    """Riverside's records, its patient's own among them (their questionnaires, answers,
    infusion instructions, invitation)."""
    problems = _outsider(demo, "harbor-patient")
    assert not problems, "\n".join(problems)


def test_audit_trail_as_other_director(demo: Demo, db: None) -> None:
    """The audit trail's pages, filtered by a Riverside patient or Riverside staff, show
    Harbor's director nothing of Riverside."""
    urls = _sweep_for(demo, "harbor-director", keep=_audit)
    actors = ["director", "nurse", "prescriber", "patient", "Okafor"]
    urls.others += [f"/audit/?actor={name}" for name in actors] + ["/audit/?page=2"]
    before, since = sweep.owned_rows(demo.riverside), _audit_seq()
    client = _client("harbor-director")
    problems = _get_sweep(client, demo, urls) + _post_sweep(client, demo, urls)
    problems += _unchanged(demo, before, since)
    assert not problems, "\n".join(problems)


def _admin_urls(demo: Demo) -> Sweep:
    """Every registered admin model's changelist and add page, and the change, delete and
    password pages of each of its Riverside rows."""
    owned = sweep.owned_rows(demo.riverside)
    named: list[str] = []
    others: list[str] = []
    for model in admin.site._registry:
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        others += [reverse(f"{base}_changelist"), reverse(f"{base}_add")]
        for pk in owned.get(model._meta.label, {}):
            named += [reverse(f"{base}_change", args=[pk]), reverse(f"{base}_delete", args=[pk])]
            if model is User:
                named.append(reverse("admin:auth_user_password_change", args=[pk]))
    return Sweep(named, others)


def test_admin_as_other_director(demo: Demo, db: None) -> None:
    """Harbor's director in the admin: every changelist and add form shows nothing of
    Riverside; every Riverside row's change, delete and password page is refused (not found,
    forbidden, or sent back to the admin's index) and posting to it changes nothing."""
    urls = _admin_urls(demo)
    assert len(urls.named) > 20
    _owner_forms(urls.named + urls.others)
    before, since = sweep.owned_rows(demo.riverside), _audit_seq()
    client = _client("harbor-director")
    # Harbor's director is in the admin, with Harbor's staff (the sweep is not at a login page).
    staff = client.get(reverse("admin:accounts_user_changelist"))
    assert staff.status_code == 200
    assert "harbor-nurse" in sweep.response_text(staff)
    problems: list[str] = []
    for url in urls.named + urls.others:
        for method in ("get", "post"):
            data = _FORMS.get(_shape(url), {}) if method == "post" else {}
            if url.endswith("/delete/"):
                data = {"post": "yes"} if method == "post" else {}
            response: Any = getattr(client, method)(url, data)
            if response.status_code == 302 and response["Location"].rstrip("/") == "/admin":
                continue  # refused: "no such object", back to the admin's index
            problems += _judge(demo, method.upper(), url, response, url in urls.named)
    problems += _unchanged(demo, before, since)
    assert not problems, "\n".join(problems)
