from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import Credential
from tests.web.conftest import World


def test_current_credentials_allow_every_act_the_role_has(world: World) -> None:
    today = timezone.localdate()
    for act in ClinicalAct:
        assert credential_check(world.prescriber, act, on=today).ok, act
    assert credential_check(world.nurse, ClinicalAct.ADMINISTER, on=today).ok
    assert credential_check(world.nurse, ClinicalAct.WITNESS, on=today).ok


def test_role_without_the_act_is_refused_even_with_credentials(world: World) -> None:
    check = credential_check(world.nurse, ClinicalAct.ORDER, on=timezone.localdate())
    assert not check.ok
    assert any("may not order" in p for p in check.problems)
    assert any("DEA" in p for p in check.problems)


def test_front_desk_may_not_witness(world: World) -> None:
    check = credential_check(world.frontdesk, ClinicalAct.WITNESS, on=timezone.localdate())
    assert not check
    assert "no Professional licence on record" in check.problems


def test_expired_credential_blocks_and_names_the_date(world: World) -> None:
    later = timezone.localdate() + dt.timedelta(days=31)
    check = credential_check(world.nurse, ClinicalAct.ADMINISTER, on=later)
    assert not check.ok
    expiry = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    assert f"Professional licence expired on {expiry}" in check.problems


def test_acls_or_bls_either_satisfies_administration(world: World) -> None:
    today = timezone.localdate()
    Credential.objects.filter(user=world.nurse, kind="bls").delete()
    assert not credential_check(world.nurse, ClinicalAct.ADMINISTER, on=today).ok
    Credential.objects.create(
        user=world.nurse, kind="acls", number="A-1", expires_on=today + dt.timedelta(days=1)
    )
    assert credential_check(world.nurse, ClinicalAct.ADMINISTER, on=today).ok


def test_inactive_account_is_refused(world: World) -> None:
    world.prescriber.is_active = False
    world.prescriber.save()
    check = credential_check(world.prescriber, ClinicalAct.SIGN, on=timezone.localdate())
    assert "the account is inactive" in check.problems


@pytest.mark.parametrize("days", [-1, 0])
def test_credential_not_yet_issued_or_expiring_today(world: World, days: int) -> None:
    today = timezone.localdate()
    cred = Credential(
        kind="bls", number="x", issued_on=today, expires_on=today + dt.timedelta(days)
    )
    assert cred.is_current(today) is (days == 0)
