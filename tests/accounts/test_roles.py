"""Each role's permissions, both ways: what it may do and what it may not.

The expected table is written out here by hand, independently of ketaflow.accounts.roles,
so that a change to a role's permissions has to be made twice, on purpose."""

from __future__ import annotations

import pytest

from ketaflow.accounts.roles import Perm, Role, has_perm

P = Perm
EXPECTED: dict[Role, set[Perm]] = {
    Role.MEDICAL_DIRECTOR: set(Perm) - {P.VIEW_OWN_RECORD, P.MANAGE_NETWORK},
    Role.PRESCRIBER: set(Perm)
    - {
        P.VIEW_OWN_RECORD,
        P.VIEW_AUDIT_TRAIL,
        P.MANAGE_STAFF,
        P.MANAGE_REGISTRY,
        P.MANAGE_NETWORK,
        P.LEDGER_RESOLVE,
        P.LEDGER_CORRECT,
        P.VIEW_OUTCOMES_DASHBOARD,
        P.RESEARCH_EXPORT,
    },
    Role.NURSE: {
        P.VIEW_SCHEDULE,
        P.BOOK_APPOINTMENT,
        P.RECORD_CONSENT,
        P.CHART_INFUSION,
        P.SIGN_INFUSION_NOTE,
        P.LIST_PATIENTS,
        P.VIEW_DEMOGRAPHICS,
        P.EDIT_DEMOGRAPHICS,
        P.VIEW_CLINICAL,
        P.EDIT_CLINICAL,
        P.WRITE_NOTE,
        P.ADMINISTER,
        P.WITNESS_WASTE,
        P.LEDGER_VIEW,
        P.LEDGER_RECEIVE,
        P.LEDGER_DRAW,
        P.LEDGER_COUNT,
        P.LEDGER_REPORT_LOSS,
        P.INVITE_PATIENT,
        P.ACKNOWLEDGE_URGENT,
    },
    Role.FRONT_DESK: {
        P.LIST_PATIENTS,
        P.VIEW_DEMOGRAPHICS,
        P.EDIT_DEMOGRAPHICS,
        P.REGISTER_PATIENT,
        P.VIEW_SCHEDULE,
        P.BOOK_APPOINTMENT,
        P.INVITE_PATIENT,
    },
    Role.PATIENT: {P.VIEW_OWN_RECORD},
    Role.NETWORK_ADMIN: {P.MANAGE_NETWORK},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("perm", list(Perm))
def test_role_permission_table(role: Role, perm: Perm) -> None:
    assert has_perm(role, perm) is (perm in EXPECTED[role])


def test_only_director_reads_audit_trail() -> None:
    assert [r for r in Role if has_perm(r, P.VIEW_AUDIT_TRAIL)] == [Role.MEDICAL_DIRECTOR]


def test_front_desk_and_patient_never_see_clinical_data_of_others() -> None:
    for role in (Role.FRONT_DESK, Role.PATIENT):
        assert not has_perm(role, P.VIEW_CLINICAL)
        assert not has_perm(role, P.EXPORT_CHART)
        assert not has_perm(role, P.CHART_INFUSION)


def test_only_prescribers_and_director_sign_candidacy_and_plan_courses() -> None:
    for perm in (P.SIGN_CANDIDACY, P.PLAN_COURSE, P.ORDER_INFUSION):
        assert {r for r in Role if has_perm(r, perm)} == {Role.MEDICAL_DIRECTOR, Role.PRESCRIBER}


def test_only_the_director_resolves_and_corrects_the_ledger() -> None:
    for perm in (P.LEDGER_RESOLVE, P.LEDGER_CORRECT):
        assert [r for r in Role if has_perm(r, perm)] == [Role.MEDICAL_DIRECTOR]


def test_unknown_role_is_an_error() -> None:
    with pytest.raises(ValueError, match="janitor"):
        has_perm("janitor", P.LIST_PATIENTS)


def test_only_the_director_sees_the_outcome_dashboard() -> None:
    assert [r for r in Role if has_perm(r, P.VIEW_OUTCOMES_DASHBOARD)] == [Role.MEDICAL_DIRECTOR]
