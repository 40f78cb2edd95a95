"""Sign-in (issue 13): guessing limits on every password and code check, the staff second
factor (enrolment at first login, recovery codes, re-authentication before a change, the
director's reset) and the director's page of their clinic's sign-ins."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pyotp
import pytest
from axes.models import AccessAttempt
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.fixtures import Settings as SettingsWrapper

from ketaflow.accounts.models import User, UserSession
from ketaflow.accounts.second_factor import STEP_SECONDS, enrol_totp, new_secret, secret_of
from ketaflow.audit.models import AuditEntry
from ketaflow.ledger.services import witness_verify
from tests.web.conftest import PASSWORD, World

LOGIN = "/login/"


def _login(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def _code(secret: str, step_offset: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(time.time() + step_offset * STEP_SECONDS))


def _enrolled(user: User) -> str:
    secret = new_secret()
    enrol_totp(user=user, secret=secret, last_t=0)
    return secret


# ---- guessing limits ------------------------------------------------------------------------


def test_ten_wrong_passwords_lock_the_account_even_against_the_right_one(world: World) -> None:
    for _ in range(9):
        assert _login(Client(), "nurse", "wrong password").status_code == 200
    tenth = _login(Client(), "nurse", "wrong password")
    assert tenth.status_code == 429
    refused = _login(Client(), "nurse")  # the right password, during the cool-off
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many failed attempts" in page
    assert "nurse" not in page
    # From another address too: the account itself is locked.
    other = _login(Client(), "nurse", REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 429
    # The lockout is audited in the nurse's clinic's chain.
    lockouts = AuditEntry.objects.filter(object_type="lockout", action="denied")
    assert lockouts.exists()
    assert set(lockouts.values_list("clinic_id", flat=True)) == {world.clinic.pk}
    # After the cool-off the right password works again.
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert _login(Client(), "nurse").status_code == 302


def test_a_lockout_reads_the_same_whether_or_not_the_account_exists(world: World) -> None:
    pages = {}
    for name in ("nurse", "nobody-by-this-name"):
        for _ in range(10):
            last = _login(Client(), name, "wrong password", REMOTE_ADDR=f"10.0.0.{len(name)}")
        assert last.status_code == 429
        pages[name] = last.content.decode().replace(name, "")
    assert pages["nurse"] == pages["nobody-by-this-name"]
    unknown = AuditEntry.objects.filter(object_type="lockout", summary__contains="nobody")
    assert unknown.get().clinic_id is None  # no account: the network chain


def test_ten_failures_from_one_address_lock_the_address(world: World) -> None:
    address = {"REMOTE_ADDR": "203.0.113.20"}
    for n in range(10):
        _login(Client(), f"guess-{n}", "wrong password", **address)
    assert _login(Client(), "prescriber", **address).status_code == 429
    assert _login(Client(), "prescriber", REMOTE_ADDR="203.0.113.21").status_code == 302


def test_the_ledger_witness_password_is_limited_too(world: World) -> None:
    request = RequestFactory().post("/ledger/", REMOTE_ADDR="192.0.2.44")
    for _ in range(10):
        with pytest.raises(ValidationError):
            witness_verify(
                user=world.nurse,
                username="prescriber",
                password="a guess",
                on=timezone.localdate(),
                request=request,
            )
    with pytest.raises(ValidationError, match="paused after too many failed attempts"):
        witness_verify(
            user=world.nurse,
            username="prescriber",
            password=PASSWORD,
            on=timezone.localdate(),
            request=RequestFactory().post("/ledger/", REMOTE_ADDR="192.0.2.45"),
        )
    # The colleague's own login is paused too: the guesses were against their account.
    assert _login(Client(), "prescriber", REMOTE_ADDR="192.0.2.46").status_code == 429


# ---- the staff second factor ----------------------------------------------------------------


def test_a_staff_password_alone_reaches_no_patient_page(
    world: World, settings: SettingsWrapper
) -> None:
    settings.STAFF_SECOND_FACTOR_REQUIRED = True
    c = Client()
    assert _login(c, "director").status_code == 302
    for url in (
        reverse("patient_list"),
        reverse("patient_chart", args=[world.patient.pk]),
        reverse("home"),
        reverse("audit_list"),
        reverse("admin:index"),
        reverse("signin_list"),
    ):
        blocked = c.get(url)
        assert blocked.status_code == 302, url
        assert blocked["Location"].startswith(reverse("account_enrol")), url
    enrol_page = c.get(reverse("account_enrol")).content.decode()
    assert "Alice" not in enrol_page  # no patient, no urgent banner, no navigation
    assert "Patients</a>" not in enrol_page


def test_production_always_requires_the_staff_second_factor(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    env.update(
        KETAFLOW_ENV="production",
        KETAFLOW_SECRET_KEY="s" * 60,
        KETAFLOW_AUDIT_KEY="a" * 40,
        KETAFLOW_ALLOWED_HOSTS="clinic.example.org",
        KETAFLOW_VAR_DIR=str(tmp_path),
        KETAFLOW_STAFF_SECOND_FACTOR="optional",
    )
    code = "import ketaflow.settings as s; print(s.STAFF_SECOND_FACTOR_REQUIRED)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "True"


def test_an_authenticator_code_is_accepted_once(world: World) -> None:
    """A code seen over a shoulder or replayed from a captured request is refused once used,
    as is an older code of the same window (RFC 6238 s. 5.2: a step is accepted once). The
    browser tests' sign-in helper (tests/web/browser.py ``next_code``) forgets the steps a
    test used, to log in more than three times in 30 s; this is where the rule is tested."""
    secret = _enrolled(world.nurse)
    first = Client()
    _login(first, "nurse")
    code = _code(secret)
    assert first.post(reverse("account_verify"), {"code": code}).status_code == 302
    replay = Client()
    _login(replay, "nurse")
    refused = replay.post(reverse("account_verify"), {"code": code})
    assert "does not match" in refused.content.decode()
    older = replay.post(reverse("account_verify"), {"code": _code(secret, -1)})
    assert "does not match" in older.content.decode()
    assert replay.get(reverse("patient_list"))["Location"].startswith(reverse("account_verify"))
    newer = replay.post(reverse("account_verify"), {"code": _code(secret, +1)})
    assert newer.status_code == 302


def test_the_request_s_user_is_the_person_verified_not_a_lazy_wrapper(world: World) -> None:
    """Issue 16: django-otp wrapped Django's lazy user in a second lazy object, and every read
    of ``request.user`` on a page went through both. The second-factor middleware now gives
    the person itself, with django-otp's ``otp_device`` and ``is_verified``, and still drops a
    device the session names that is not the person's (django-otp's rule)."""
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpRequest, HttpResponse
    from django_otp import DEVICE_ID_SESSION_KEY

    from ketaflow.accounts.second_factor import OTPMiddleware, totp_device

    seen: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.user)
        return HttpResponse("")

    chain = SessionMiddleware(cast(Any, AuthenticationMiddleware(OTPMiddleware(view))))
    _enrolled(world.nurse)
    _enrolled(world.prescriber)
    nurse_device, other_device = totp_device(world.nurse), totp_device(world.prescriber)
    assert nurse_device is not None
    assert other_device is not None

    def ask(device_id: str | None, user: User | None) -> HttpRequest:
        c = Client()
        if user is not None:
            c.force_login(user)
        if device_id is not None:
            session = c.session
            session[DEVICE_ID_SESSION_KEY] = device_id
            session.save()
        request = RequestFactory().get("/")
        request.COOKIES.update({k: v.value for k, v in c.cookies.items()})
        chain(request)
        return request

    request = ask(nurse_device.persistent_id, world.nurse)
    assert [type(p) for p in seen] == [User]  # the person, not a LazyObject
    person: Any = seen[-1]
    assert person.pk == world.nurse.pk
    assert person.otp_device == nurse_device
    assert person.is_verified()
    request = ask(other_device.persistent_id, world.nurse)  # someone else's device
    person = seen[-1]
    assert person.otp_device is None
    assert not person.is_verified()
    assert DEVICE_ID_SESSION_KEY not in request.session
    ask(None, None)
    assert [type(p) for p in seen[2:]] == [AnonymousUser]
    visitor: Any = seen[-1]
    assert not visitor.is_verified()


def test_enrolment_at_first_login_then_the_code_and_the_recovery_codes(world: World) -> None:
    c = Client()
    _login(c, "nurse")
    page = c.get(reverse("account_enrol")).content.decode()
    key = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page)
    assert key is not None
    secret = key.group(1).replace(" ", "")
    wrong = c.post(reverse("account_enrol"), {"code": "000000"})
    assert "does not match" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=world.nurse).exists()
    done = c.post(reverse("account_enrol"), {"code": _code(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    assert c.get(reverse("patient_list")).status_code == 200
    assert AuditEntry.objects.filter(
        object_type="second_factor", summary__contains="enrolled", actor=world.nurse
    ).exists()
    # The next login asks for the code; a recovery code works once.
    again = Client()
    _login(again, "nurse")
    assert again.get(reverse("patient_list"))["Location"].startswith(reverse("account_verify"))
    refused = again.post(reverse("account_verify"), {"code": "123456"})
    assert "does not match" in refused.content.decode()
    ok = again.post(reverse("account_verify"), {"code": codes[0]})
    assert ok.status_code == 302
    assert again.get(reverse("patient_list")).status_code == 200
    third = Client()
    _login(third, "nurse")
    assert (
        "does not match"
        in third.post(reverse("account_verify"), {"code": codes[0]}).content.decode()
    )
    assert third.post(reverse("account_verify"), {"code": _code(secret, 1)}).status_code == 302
    assert StaticToken.objects.filter(device__user=world.nurse).count() == 9


def test_ten_wrong_staff_codes_lock_the_account(world: World) -> None:
    secret = _enrolled(world.prescriber)
    for _ in range(2):
        c = Client()
        _login(c, "prescriber")
        for _ in range(5):
            last = c.post(reverse("account_verify"), {"code": "000000"})
    assert last.status_code == 429
    c = Client()
    assert _login(c, "prescriber").status_code == 429
    c.force_login(world.prescriber)
    right = c.post(reverse("account_verify"), {"code": _code(secret)})
    assert right["Location"] == reverse("login")
    assert c.get(reverse("patient_list")).status_code == 302


def test_changing_a_factor_needs_the_password_and_a_code_first(
    world: World, client_for: Any
) -> None:
    c = client_for(world.nurse)
    secret = secret_of(TOTPDevice.objects.get(user=world.nurse))
    # Enrolled and signed in: the enrolment page does not open without re-authentication.
    assert c.get(reverse("account_enrol"))["Location"] == reverse("account_security")
    wrong = c.post(
        reverse("account_security"),
        {"action": "replace", "password": "not it", "code": _code(secret)},
    )
    assert "password or the code is wrong" in wrong.content.decode()
    no_code = c.post(
        reverse("account_security"), {"action": "replace", "password": PASSWORD, "code": "000000"}
    )
    assert "password or the code is wrong" in no_code.content.decode()
    ok = c.post(
        reverse("account_security"),
        {"action": "replace", "password": PASSWORD, "code": _code(secret)},
    )
    assert ok["Location"] == reverse("account_enrol")
    page = c.get(reverse("account_enrol")).content.decode()
    assert "Replace your authenticator app" in page
    new = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page)
    assert new is not None
    replaced = c.post(reverse("account_enrol"), {"code": _code(new.group(1).replace(" ", ""))})
    assert replaced.status_code == 200
    assert secret_of(TOTPDevice.objects.get(user=world.nurse)) == new.group(1).replace(" ", "")
    assert AuditEntry.objects.filter(summary__contains="replaced own authenticator").exists()


def test_new_recovery_codes_after_re_authentication(world: World, client_for: Any) -> None:
    c = client_for(world.prescriber)
    secret = secret_of(TOTPDevice.objects.get(user=world.prescriber))
    done = c.post(
        reverse("account_security"),
        {"action": "codes", "password": PASSWORD, "code": _code(secret)},
    )
    assert done.status_code == 200
    assert len(re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())) == 10


def test_patients_have_no_staff_sign_in_pages(world: World, client_for: Any) -> None:
    patient = client_for(world.patient_user)
    for name in ("account_security", "account_enrol", "account_verify", "signin_list"):
        assert patient.get(reverse(name)).status_code == 404, name
        # 404, or 405 where the page takes no POST (the method is refused before anything else)
        assert patient.post(reverse(name), {"code": "123456"}).status_code in (404, 405), name


# ---- the director: lockouts and resets ------------------------------------------------------


def _other_director(world: World) -> User:
    return User.objects.create_user(
        username="other-director",
        password=PASSWORD,
        role="medical_director",
        clinic=world.other_clinic,
    )


def _refused(world: World, client_for: Any, outsider: User) -> list[Client]:
    """Who may not lift or reset: the other clinic's director, a prescriber, a patient."""
    return [client_for(u) for u in (outsider, world.prescriber, world.patient_user)]


def _lock(username: str) -> None:
    for _ in range(10):
        _login(Client(), username, "wrong password", REMOTE_ADDR="198.51.100.99")


def test_the_director_sees_and_lifts_a_lockout_of_their_clinic_only(
    world: World, client_for: Any
) -> None:
    _lock("nurse")
    director = client_for(world.director)
    page = director.get(reverse("signin_list")).content.decode()
    assert "nurse" in page
    assert "paused" in page
    assert "foreign" not in page  # another clinic's staff are not listed
    lift = reverse("signin_lift", args=[world.nurse.pk])
    # Refused: the other clinic's director, a nurse, a patient (404, nothing changes).
    outsider = _other_director(world)
    for client in _refused(world, client_for, outsider):
        assert client.post(lift).status_code == 404
    for client in (client_for(world.prescriber), client_for(world.patient_user)):
        assert client.get(reverse("signin_list")).status_code == 404
    assert (
        "nurse"
        not in client_for(outsider).get(reverse("signin_list"), follow=True).content.decode()
    )
    assert AccessAttempt.objects.filter(username="nurse").exists()
    assert director.get(lift).status_code == 405
    assert director.post(lift).status_code == 302
    assert not AccessAttempt.objects.filter(username="nurse").exists()
    entry = AuditEntry.objects.get(object_type="lockout", action="update")
    assert entry.clinic_id == world.clinic.pk
    assert entry.actor_id == world.director.pk
    assert _login(Client(), "nurse", REMOTE_ADDR="198.51.100.100").status_code == 302


def test_the_director_resets_a_staff_members_second_factor(world: World, client_for: Any) -> None:
    _enrolled(world.frontdesk)
    reset = reverse("signin_reset", args=[world.frontdesk.pk])
    for client in _refused(world, client_for, _other_director(world)):
        assert client.post(reset).status_code == 404
    assert TOTPDevice.objects.filter(user=world.frontdesk).exists()
    director = client_for(world.director)
    assert director.post(reset).status_code == 302
    assert not TOTPDevice.objects.filter(user=world.frontdesk).exists()
    entry = AuditEntry.objects.get(summary__contains="reset the second factor")
    assert entry.clinic_id == world.clinic.pk
    # The next login enrols anew.
    c = Client()
    _login(c, "frontdesk")
    assert c.get(reverse("home"))["Location"].startswith(reverse("account_enrol"))
    # A patient's factor is not reset here (a new invitation does it).
    _enrolled(world.patient_user)
    director.post(reverse("signin_reset", args=[world.patient_user.pk]))
    assert TOTPDevice.objects.filter(user=world.patient_user).exists()


def test_existing_patient_secrets_move_to_django_otp(world: World) -> None:
    """Migration portal/0004 turns each portal secret into a django-otp device with the same
    key: the patient's app keeps working."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("ketaflow.portal.migrations.0004_totp_devices_to_django_otp")
    secret = pyotp.random_base32()

    class Old:
        user_id = world.patient_user.pk
        last_step = 5

    class OldManager:
        @staticmethod
        def all() -> list[Any]:
            item = Old()
            item.secret = secret  # type: ignore[attr-defined]
            return [item]

    class FakeApps:
        @staticmethod
        def get_model(app: str, name: str) -> Any:
            if name == "TotpDevice":
                return type("TotpDevice", (), {"objects": OldManager})
            return apps.get_model(app, name)

    migration.forwards(FakeApps, None)
    device = TOTPDevice.objects.get(user=world.patient_user)
    assert secret_of(device) == secret
    assert device.last_t == 5
    c = Client()
    _login(c, "patient")
    ok = c.post(reverse("portal_verify"), {"code": _code(secret)})
    assert ok.status_code == 302
    assert c.get(reverse("portal_home")).status_code == 200


# ---- sessions -------------------------------------------------------------------------------


def test_a_session_ends_at_its_absolute_lifetime_however_active(
    world: World, client_for: Any, settings: SettingsWrapper
) -> None:
    c = client_for(world.nurse)
    assert c.get(reverse("patient_list")).status_code == 200
    UserSession.objects.filter(user=world.nurse).update(
        started_at=timezone.now() - dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS + 1)
    )
    ended = c.get(reverse("patient_list"))
    assert ended.status_code == 302
    assert ended["Location"] == reverse("login")
    assert c.get(reverse("patient_list"))["Location"].startswith(reverse("login"))


def test_a_person_sees_their_sessions_and_ends_the_others(world: World, client_for: Any) -> None:
    here = client_for(world.prescriber)
    there = client_for(world.prescriber)
    elsewhere = client_for(world.nurse)  # someone else's session is not touched
    page = here.get(reverse("account_sessions")).content.decode()
    assert page.count("<tr>") == 3  # the header and two sessions
    assert "this session" in page
    assert here.post(reverse("account_sessions")).status_code == 302
    assert there.get(reverse("patient_list"))["Location"].startswith(reverse("login"))
    assert here.get(reverse("patient_list")).status_code == 200
    assert elsewhere.get(reverse("patient_list")).status_code == 200
    entry = AuditEntry.objects.get(object_type="session")
    assert entry.actor_id == world.prescriber.pk
    assert "ended 1 other session" in entry.summary
    # A patient sees their own sessions too, and nothing of anyone else's.
    patient = client_for(world.patient_user)
    mine = patient.get(reverse("account_sessions")).content.decode()
    assert mine.count("<tr>") == 2
    assert patient.post(reverse("account_sessions")).status_code == 302
    assert here.get(reverse("patient_list")).status_code == 200


class _Clock:
    """``django.utils.timezone.now`` held at a time the test moves on."""

    def __init__(self) -> None:
        self.at = timezone.now()

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Any:
    from unittest import mock

    now = _Clock()
    with mock.patch("django.utils.timezone.now", now):
        yield now


def _session_saves(c: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert c.get(url).status_code == 200
    return sum('UPDATE "django_session"' in q["sql"] for q in queries.captured_queries)


def test_an_idle_session_ends_after_the_idle_time_and_an_active_one_lives_on(
    world: World, client_for: Any, clock: _Clock, settings: SettingsWrapper
) -> None:
    from ketaflow.accounts.sessions import touch_seconds

    idle = settings.SESSION_IDLE_SECONDS
    assert idle + touch_seconds() == settings.SESSION_COOKIE_AGE
    c = client_for(world.nurse)
    url = reverse("patient_list")
    assert c.get(url).status_code == 200
    # Active: a request just inside the idle time, three times over, well past one idle time
    # since the login, each time after the session's last save.
    for _ in range(3):
        clock.advance(idle - 1)
        assert c.get(url).status_code == 200
    # Idle: never ended before the idle time, always by the idle time plus the save interval.
    clock.advance(idle + touch_seconds() + 1)
    ended = c.get(url)
    assert ended.status_code == 302
    assert ended["Location"].startswith(reverse("login"))


def test_an_active_session_is_saved_once_a_minute_not_at_every_page(
    world: World, client_for: Any, clock: _Clock
) -> None:
    from ketaflow.accounts.sessions import touch_seconds

    c = client_for(world.nurse)
    url = reverse("patient_list")
    assert _session_saves(c, url) == 1  # the first page after the login notes its save time
    clock.advance(touch_seconds() - 1)
    assert _session_saves(c, url) == 0
    assert _session_saves(c, url) == 0
    clock.advance(1)
    assert _session_saves(c, url) == 1
