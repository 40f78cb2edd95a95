"""What a token may reach: one scope per resource and access (read or write), each needing a
permission of the token owner's role. A token never grants more than its owner's role: the
endpoints still go through the access functions, which check the role; the scope narrows it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ketaflow.accounts.roles import Perm, Role


@dataclass(frozen=True)
class Scope:
    key: str  # "resource:access"
    label: str
    needs: Perm  # the owner's role must grant this


SCOPES: dict[str, Scope] = {
    s.key: s
    for s in (
        Scope("patients:read", "Patients: list and read demographics", Perm.LIST_PATIENTS),
        Scope("candidacy:read", "Candidacy decisions: read", Perm.VIEW_CLINICAL),
        Scope("courses:read", "Courses and appointments: read", Perm.VIEW_CLINICAL),
        Scope("sessions:read", "Infusion sessions: read", Perm.VIEW_CLINICAL),
        Scope("vitals:read", "Vitals: read", Perm.VIEW_CLINICAL),
        Scope("vitals:write", "Vitals: record", Perm.CHART_INFUSION),
        Scope("questionnaires:write", "Questionnaire responses: record", Perm.EDIT_CLINICAL),
        Scope("outcomes:read", "Outcomes: read", Perm.VIEW_CLINICAL),
        Scope("ledger:read", "Controlled-substance ledger reports: read", Perm.LEDGER_VIEW),
        Scope("audit:read", "Audit trail: read (medical director)", Perm.VIEW_AUDIT_TRAIL),
        # FHIR R4 (/fhir/): one read scope for the record's resources (the access functions
        # still check the role per resource), one write scope (questionnaire import), and the
        # clinic's bulk export for the medical director.
        Scope("fhir:read", "FHIR: read the clinical record", Perm.VIEW_CLINICAL),
        Scope("fhir:write", "FHIR: import questionnaire responses", Perm.EDIT_CLINICAL),
        Scope(
            "fhir:export", "FHIR: bulk export of the clinic (medical director)", Perm.MANAGE_STAFF
        ),
    )
}

# Tokens last at most a year; 90 days unless asked otherwise.
DEFAULT_DAYS = 90
MAX_DAYS = 365


def scopes_for_role(role: Role | str) -> list[Scope]:
    """The scopes a user of ``role`` may put on a token: those whose permission the role grants
    (none for patients and the network administrator, whose permissions no scope needs: they
    get no tokens)."""
    from ketaflow.accounts.roles import has_perm

    return [s for s in SCOPES.values() if has_perm(role, s.needs)]


def parse_scopes(values: Iterable[str], role: Role | str) -> list[str]:
    """The scope keys asked for (each ``resource:access``; commas separate several), checked
    against the table and the role. Raises ValueError naming the scope and the rule."""
    asked: list[str] = []
    for value in values:
        asked += [v.strip() for v in value.split(",") if v.strip()]
    if not asked:
        raise ValueError("scope: give at least one scope, e.g. patients:read")
    allowed = {s.key for s in scopes_for_role(role)}
    for key in asked:
        if key not in SCOPES:
            raise ValueError(f"scope: {key!r} is not a scope; the scopes are {', '.join(SCOPES)}")
        if key not in allowed:
            needs = SCOPES[key].needs.value.replace("_", " ")
            raise ValueError(
                f"scope: {key!r} needs the permission to {needs}, "
                "which this user's role does not have"
            )
    return sorted(set(asked), key=list(SCOPES).index)
