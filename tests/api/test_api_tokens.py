"""API tokens: per user and clinic, scoped, expiring, stored hashed, revocable, listed for the
owner and the director; created by the command and the settings page; audited and throttled."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.urls import reverse

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.api.models import ApiToken
from ketaflow.api.services import token_create, token_digest, token_revoke
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.cli import main
from tests.api.api_helpers import call, token_for
from tests.web.conftest import World

SYSTEM = Actor.system("tests")


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Any:
    cache.clear()
    yield
    cache.clear()


def test_a_token_is_stored_as_its_digest_only(world: World) -> None:
    created = token_create(actor=SYSTEM, user=world.nurse, scopes=["patients:read"])
    record = ApiToken.objects.get(pk=created.record.pk)
    assert created.token.startswith(f"kf_{record.prefix}_")
    assert record.digest == token_digest(created.token)
    row = ApiToken.objects.filter(pk=record.pk).values().get()
    stored = " ".join(str(v) for v in row.values())
    assert created.token not in stored
    assert record.clinic_id == world.clinic.pk
    assert record.scopes == ["patients:read"]
    entry = AuditEntry.objects.filter(object_type="api_token", action="create").get()
    assert entry.clinic_id == world.clinic.pk
    assert record.prefix in entry.summary
    assert created.token not in entry.summary + str(entry.detail)


@pytest.mark.parametrize(
    ("who", "scopes", "days", "field", "words"),
    [
        ("frontdesk", ["vitals:read"], 30, "scope", "role does not have"),
        ("nurse", ["audit:read"], 30, "scope", "role does not have"),
        ("nurse", ["patients:delete"], 30, "scope", "is not a scope"),
        ("nurse", [], 30, "scope", "at least one"),
        ("nurse", ["patients:read"], 0, "days", "1 to 365"),
        ("nurse", ["patients:read"], 366, "days", "1 to 365"),
        ("patient_user", ["patients:read"], 30, "scope", "role does not have"),
    ],
)
def test_a_token_is_refused_naming_the_field_and_rule(
    world: World, who: str, scopes: list[str], days: int, field: str, words: str
) -> None:
    user: User = getattr(world, who)
    with pytest.raises(ValidationError) as caught:
        token_create(actor=SYSTEM, user=user, scopes=scopes, days=days)
    assert field in caught.value.message_dict
    assert words in " ".join(caught.value.message_dict[field])
    assert not ApiToken.objects.exists()


def test_network_administrator_gets_no_token(db: None) -> None:
    network = User.objects.create_user(username="net", password="x" * 20, role=Role.NETWORK_ADMIN)
    with pytest.raises(ValidationError):
        token_create(actor=SYSTEM, user=network, scopes=["patients:read"])


def test_a_person_creates_tokens_for_themselves_only(world: World) -> None:
    with pytest.raises(PermissionDenied):
        token_create(actor=Actor(user=world.director), user=world.nurse, scopes=["patients:read"])


def test_a_call_needs_an_active_token(world: World) -> None:
    token = token_for(world.nurse, "patients:read")
    ok = call("GET", "/api/token/", token)
    assert ok.status_code == 200
    assert ok.json()["user"] == "nurse"
    assert ok.json()["scopes"] == ["patients:read"]
    assert ok["Content-Type"] == "application/json; charset=utf-8"

    for bad in (None, "kf_nothing_here", "not-a-token", token + "x"):
        refused = call("GET", "/api/token/", bad)
        assert refused.status_code == 401, bad
        assert refused.json()["detail"]
        assert refused["WWW-Authenticate"].startswith("Bearer")
    # The session of a logged-in person is no way in: the API takes tokens only.
    from tests.web.conftest import logged_in

    assert logged_in(world.nurse).get("/api/token/").status_code == 401


def test_an_expired_token_is_refused_and_audited(world: World) -> None:
    created = token_create(actor=SYSTEM, user=world.nurse, scopes=["patients:read"], days=1)
    assert call("GET", "/api/token/", created.token).status_code == 200
    ApiToken.objects.filter(pk=created.record.pk).update(
        expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    refused = call("GET", "/api/token/", created.token)
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    denied = AuditEntry.objects.filter(action="denied", object_type="api_token").get()
    assert "expired" in denied.summary
    assert denied.clinic_id == world.clinic.pk


def test_a_revoked_token_or_a_deactivated_owner_is_refused(world: World) -> None:
    created = token_create(actor=SYSTEM, user=world.nurse, scopes=["patients:read"])
    token_revoke(actor=Actor(user=world.nurse), token=created.record)
    refused = call("GET", "/api/token/", created.token)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    other = token_for(world.prescriber, "patients:read")
    User.objects.filter(pk=world.prescriber.pk).update(is_active=False)
    assert call("GET", "/api/token/", other).status_code == 401


def test_an_owner_who_moved_clinic_loses_the_token(world: World) -> None:
    token = token_for(world.nurse, "patients:read")
    User.objects.filter(pk=world.nurse.pk).update(clinic=world.other_clinic)
    refused = call("GET", "/api/token/", token)
    assert refused.status_code == 401
    assert "clinic" in refused.json()["detail"]


def test_who_may_revoke(world: World) -> None:
    created = token_create(actor=SYSTEM, user=world.nurse, scopes=["patients:read"])
    with pytest.raises(PermissionDenied):
        token_revoke(actor=Actor(user=world.prescriber), token=created.record)
    with pytest.raises(PermissionDenied):
        token_revoke(actor=Actor(user=world.foreign_prescriber), token=created.record)
    token_revoke(actor=Actor(user=world.director), token=created.record)
    entry = AuditEntry.objects.filter(object_type="api_token", action="update").get()
    assert entry.actor_id == world.director.pk
    assert created.record.prefix in entry.summary


@override_settings(API_RATE="3/min")
def test_calls_are_throttled_per_token(world: World) -> None:
    token = token_for(world.nurse, "patients:read")
    other = token_for(world.prescriber, "patients:read")
    for _ in range(3):
        assert call("GET", "/api/token/", token).status_code == 200
    throttled = call("GET", "/api/token/", token)
    assert throttled.status_code == 429
    assert "Too many" in throttled.json()["detail"]
    assert int(throttled["Retry-After"]) >= 1
    assert call("GET", "/api/token/", other).status_code == 200  # another token's own count


# ---- the command ------------------------------------------------------------------------------


def test_command_prints_the_token_once(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "api",
                "token",
                "create",
                "--user",
                "nurse",
                "--scope",
                "patients:read",
                "--scope",
                "vitals:read,vitals:write",
                "--days",
                "7",
                "--name",
                "letters",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert token.startswith("kf_")
    assert "\n" not in token
    assert token not in captured.err
    assert "patients:read, vitals:read, vitals:write" in captured.err
    record = ApiToken.objects.get()
    assert record.digest == token_digest(token)
    assert record.name == "letters"
    assert record.created_by.startswith("system:")
    assert call("GET", "/api/token/", token).status_code == 200
    assert main(["api", "token", "list", "--clinic", "test"]) == 0
    listed = capsys.readouterr().out
    assert record.prefix in listed
    assert "active" in listed
    assert token not in listed
    assert main(["api", "token", "revoke", record.prefix]) == 0
    assert call("GET", "/api/token/", token).status_code == 401


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--user", "nobody", "--scope", "patients:read"], "--user: no user named 'nobody'"),
        (["--user", "frontdesk", "--scope", "vitals:write"], "--scope: 'vitals:write' needs"),
        (["--user", "nurse", "--scope", "patients:read", "--days", "400"], "--days: a token"),
        (["--user", "patient", "--scope", "patients:read"], "--scope:"),
    ],
)
def test_command_refuses_in_one_line(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    assert main(["api", "token", "create", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not ApiToken.objects.exists()


# ---- the settings page ------------------------------------------------------------------------


def test_settings_page_creates_a_token_shown_once(world: World, client_for: Any) -> None:
    client = client_for(world.nurse)
    page = client.get(reverse("api_tokens"))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'value="vitals:write"' in text
    assert 'value="audit:read"' not in text
    created = client.post(
        reverse("api_tokens"),
        {"name": "questionnaire app", "scopes": ["questionnaires:write"], "days": "30"},
    )
    record = ApiToken.objects.get()
    body = created.content.decode()
    token = body.split('<code class="secret">')[1].split("</code>")[0]
    assert record.digest == token_digest(token)
    assert record.user_id == world.nurse.pk
    again = client.get(reverse("api_tokens")).content.decode()
    assert token not in again
    assert record.prefix in again
    refused = client.post(
        reverse("api_tokens"), {"name": "x", "scopes": ["audit:read"], "days": "30"}
    )
    assert refused.status_code == 200
    assert ApiToken.objects.count() == 1
    assert "audit:read is not one of the available choices" in refused.content.decode()


def test_settings_page_lists_own_tokens_and_the_directors_clinic(
    world: World, client_for: Any
) -> None:
    nurse_token = token_create(actor=SYSTEM, user=world.nurse, scopes=["patients:read"]).record
    rx_token = token_create(actor=SYSTEM, user=world.prescriber, scopes=["patients:read"]).record
    foreign = token_create(
        actor=SYSTEM, user=world.foreign_prescriber, scopes=["patients:read"]
    ).record
    nurse_page = client_for(world.nurse).get(reverse("api_tokens")).content.decode()
    assert nurse_token.prefix in nurse_page
    assert rx_token.prefix not in nurse_page
    director = client_for(world.director)
    director_page = director.get(reverse("api_tokens")).content.decode()
    assert nurse_token.prefix in director_page
    assert rx_token.prefix in director_page
    assert foreign.prefix not in director_page
    # Revoking: the director in their clinic; nobody across clinics or someone else's as staff.
    assert director.post(reverse("api_token_revoke", args=[foreign.pk])).status_code == 404
    nurse = client_for(world.nurse)
    assert nurse.post(reverse("api_token_revoke", args=[rx_token.pk])).status_code == 404
    assert director.post(reverse("api_token_revoke", args=[rx_token.pk])).status_code == 302
    assert ApiToken.objects.get(pk=rx_token.pk).revoked_at is not None
    assert ApiToken.objects.get(pk=foreign.pk).revoked_at is None


def test_patients_have_no_tokens_page(world: World, client_for: Any) -> None:
    assert client_for(world.patient_user).get(reverse("api_tokens")).status_code == 403
