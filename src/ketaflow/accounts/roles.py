"""Roles and what each may do: the one explicit permission table of the app.

Every view and service asks ``has_perm(role, Perm.X)`` (through the access functions in
``ketaflow.accounts.access`` and ``ketaflow.patients.access``); nothing checks a role by name.
The table is tested both ways (may and may not) in ``tests/accounts/test_roles.py``.
"""

from __future__ import annotations

import enum

from ketaflow.clinical.common import ROLE_LABELS, Role
from ketaflow.clinical.dosing import SOFT_LIMIT_OVERRIDE_ROLES

# The roles are defined once, in ketaflow.clinical (labels included); this table grants them.
__all__ = [
    "CLINIC_ROLES",
    "OWN_RECORD_PERMS",
    "PERM_ACTIONS",
    "ROLE_LABELS",
    "ROLE_PERMISSIONS",
    "Perm",
    "Role",
    "refusal",
]


# The roles of a clinic's own staff (each belongs to one clinic): what a clinic's medical
# director may give in the administration. A network administrator belongs to no clinic.
CLINIC_ROLES: tuple[Role, ...] = (
    Role.MEDICAL_DIRECTOR,
    Role.PRESCRIBER,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.PATIENT,
)


class Perm(enum.StrEnum):
    # The clinic's patient registry.
    LIST_PATIENTS = "list_patients"
    VIEW_DEMOGRAPHICS = "view_demographics"  # name, birth date, contact, emergency contact, escort
    EDIT_DEMOGRAPHICS = "edit_demographics"
    REGISTER_PATIENT = "register_patient"
    VIEW_CLINICAL = "view_clinical"  # allergies, medications, diagnoses, treatment history, notes
    EDIT_CLINICAL = "edit_clinical"
    WRITE_NOTE = "write_note"
    EXPORT_CHART = "export_chart"
    # The patient's own record (patient portal).
    VIEW_OWN_RECORD = "view_own_record"
    # Oversight.
    VIEW_AUDIT_TRAIL = "view_audit_trail"
    MANAGE_STAFF = "manage_staff"  # the own clinic's set-up: staff, consent texts, chairs, hours
    MANAGE_REGISTRY = "manage_registry"  # merge duplicate patients, deactivate records
    MANAGE_NETWORK = "manage_network"  # every clinic's set-up (network administrator only)
    # Clinical acts that later capabilities need (they also require current credentials).
    SIGN_CANDIDACY = "sign_candidacy"
    ORDER_INFUSION = "order_infusion"
    OVERRIDE_SOFT_LIMIT = "override_soft_limit"
    ADMINISTER = "administer"
    WITNESS_WASTE = "witness_waste"
    # Scheduling and the infusion day.
    VIEW_SCHEDULE = "view_schedule"  # the chair board: who sits where and when
    BOOK_APPOINTMENT = "book_appointment"
    PLAN_COURSE = "plan_course"  # a course's protocol, dose per kg and schedule
    RECORD_CONSENT = "record_consent"  # witness and record a patient's informed consent
    CHART_INFUSION = "chart_infusion"  # checklist, vitals, events, side effects, discharge
    SIGN_INFUSION_NOTE = "sign_infusion_note"
    # The controlled-substance ledger (ketamine is Schedule III; 21 CFR part 1304).
    LEDGER_VIEW = "ledger_view"  # stock, vial histories, counts, cases and reports
    LEDGER_RECEIVE = "ledger_receive"  # receive stock against an invoice
    LEDGER_DRAW = "ledger_draw"  # draw for a patient, record administration and waste
    LEDGER_COUNT = "ledger_count"  # daily or shift counts
    LEDGER_REPORT_LOSS = "ledger_report_loss"  # report a loss or theft (DEA Form 106 data)
    LEDGER_DESTROY = "ledger_destroy"  # destroy stock with two witnesses (DEA Form 41 data)
    LEDGER_INVENTORY = "ledger_inventory"  # initial and biennial inventory (21 CFR 1304.11)
    LEDGER_RESOLVE = "ledger_resolve"  # resolve a count discrepancy (medical director)
    LEDGER_CORRECT = "ledger_correct"  # write a reversing correction entry (medical director)
    # Outcomes.
    VIEW_OUTCOMES_DASHBOARD = "view_outcomes_dashboard"  # clinic outcome dashboard (director)
    # The clinic's de-identified research export (HIPAA Safe Harbor; docs/research-export.md).
    RESEARCH_EXPORT = "research_export"
    # The patient portal and safety escalation.
    INVITE_PATIENT = "invite_patient"  # create a patient's portal login with an invitation link
    ACKNOWLEDGE_URGENT = "acknowledge_urgent"  # acknowledge an urgent safety task, record action


_CLINICAL_READ = {
    Perm.LIST_PATIENTS,
    Perm.VIEW_DEMOGRAPHICS,
    Perm.VIEW_CLINICAL,
    Perm.VIEW_SCHEDULE,
}
_INFUSION_DAY = {
    Perm.BOOK_APPOINTMENT,
    Perm.RECORD_CONSENT,
    Perm.CHART_INFUSION,
    Perm.SIGN_INFUSION_NOTE,
}
_PORTAL_CLINICAL = {Perm.INVITE_PATIENT, Perm.ACKNOWLEDGE_URGENT}
_LEDGER_WORK = {
    Perm.LEDGER_VIEW,
    Perm.LEDGER_RECEIVE,
    Perm.LEDGER_DRAW,
    Perm.LEDGER_COUNT,
    Perm.LEDGER_REPORT_LOSS,
}

_ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.MEDICAL_DIRECTOR: frozenset(
        _CLINICAL_READ
        | _INFUSION_DAY
        | _LEDGER_WORK
        | _PORTAL_CLINICAL
        | {
            Perm.EDIT_DEMOGRAPHICS,
            Perm.REGISTER_PATIENT,
            Perm.EDIT_CLINICAL,
            Perm.WRITE_NOTE,
            Perm.EXPORT_CHART,
            Perm.VIEW_AUDIT_TRAIL,
            Perm.MANAGE_STAFF,
            Perm.MANAGE_REGISTRY,
            Perm.PLAN_COURSE,
            Perm.SIGN_CANDIDACY,
            Perm.ORDER_INFUSION,
            Perm.ADMINISTER,
            Perm.WITNESS_WASTE,
            Perm.LEDGER_DESTROY,
            Perm.LEDGER_INVENTORY,
            Perm.LEDGER_RESOLVE,
            Perm.LEDGER_CORRECT,
            Perm.VIEW_OUTCOMES_DASHBOARD,
            Perm.RESEARCH_EXPORT,
        }
    ),
    Role.PRESCRIBER: frozenset(
        _CLINICAL_READ
        | _INFUSION_DAY
        | _LEDGER_WORK
        | _PORTAL_CLINICAL
        | {
            Perm.PLAN_COURSE,
            Perm.EDIT_DEMOGRAPHICS,
            Perm.REGISTER_PATIENT,
            Perm.EDIT_CLINICAL,
            Perm.WRITE_NOTE,
            Perm.EXPORT_CHART,
            Perm.SIGN_CANDIDACY,
            Perm.ORDER_INFUSION,
            Perm.ADMINISTER,
            Perm.WITNESS_WASTE,
            Perm.LEDGER_DESTROY,
            Perm.LEDGER_INVENTORY,
        }
    ),
    Role.NURSE: frozenset(
        _CLINICAL_READ
        | _INFUSION_DAY
        | _LEDGER_WORK
        | _PORTAL_CLINICAL
        | {
            Perm.EDIT_DEMOGRAPHICS,
            Perm.EDIT_CLINICAL,
            Perm.WRITE_NOTE,
            Perm.ADMINISTER,
            Perm.WITNESS_WASTE,
        }
    ),
    Role.FRONT_DESK: frozenset(
        {
            Perm.LIST_PATIENTS,
            Perm.VIEW_DEMOGRAPHICS,
            Perm.EDIT_DEMOGRAPHICS,
            Perm.REGISTER_PATIENT,
            Perm.VIEW_SCHEDULE,
            Perm.BOOK_APPOINTMENT,
            Perm.INVITE_PATIENT,
        }
    ),
    Role.PATIENT: frozenset({Perm.VIEW_OWN_RECORD}),
    Role.NETWORK_ADMIN: frozenset({Perm.MANAGE_NETWORK}),
}


# Who may override a drug-library soft limit is decided once, in ketaflow.clinical.dosing
# (SOFT_LIMIT_OVERRIDE_ROLES); the permission follows it.
ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    role: perms | ({Perm.OVERRIDE_SOFT_LIMIT} if role in SOFT_LIMIT_OVERRIDE_ROLES else set())
    for role, perms in _ROLE_PERMISSIONS.items()
}


def has_perm(role: Role | str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[Role(role)]


# What a patient may do with their own record (and nothing with anyone else's).
OWN_RECORD_PERMS: frozenset[Perm] = frozenset({Perm.VIEW_DEMOGRAPHICS, Perm.VIEW_CLINICAL})


# What each permission lets a person do, as a refusal says it ("Front desk cannot open clinical
# notes"): no permission code reaches a page.
PERM_ACTIONS: dict[Perm, str] = {
    Perm.LIST_PATIENTS: "list the clinic's patients",
    Perm.VIEW_DEMOGRAPHICS: "see patients' details",
    Perm.EDIT_DEMOGRAPHICS: "change patients' details",
    Perm.REGISTER_PATIENT: "register patients",
    Perm.VIEW_CLINICAL: "open clinical notes",
    Perm.EDIT_CLINICAL: "change clinical records",
    Perm.WRITE_NOTE: "write clinical notes",
    Perm.EXPORT_CHART: "export a patient's chart",
    Perm.VIEW_OWN_RECORD: "see this record",
    Perm.VIEW_AUDIT_TRAIL: "read the audit trail",
    Perm.MANAGE_STAFF: "change the clinic's set-up",
    Perm.MANAGE_REGISTRY: "merge or deactivate patient records",
    Perm.MANAGE_NETWORK: "change the network's clinics",
    Perm.SIGN_CANDIDACY: "sign a candidacy decision",
    Perm.ORDER_INFUSION: "order an infusion",
    Perm.OVERRIDE_SOFT_LIMIT: "override a dose limit",
    Perm.ADMINISTER: "give ketamine",
    Perm.WITNESS_WASTE: "witness a waste",
    Perm.VIEW_SCHEDULE: "see the chair board",
    Perm.BOOK_APPOINTMENT: "book appointments",
    Perm.PLAN_COURSE: "plan a course",
    Perm.RECORD_CONSENT: "record a consent",
    Perm.CHART_INFUSION: "chart an infusion",
    Perm.SIGN_INFUSION_NOTE: "sign an infusion note",
    Perm.LEDGER_VIEW: "open the controlled-substance ledger",
    Perm.LEDGER_RECEIVE: "receive stock",
    Perm.LEDGER_DRAW: "draw or waste ketamine",
    Perm.LEDGER_COUNT: "count the stock",
    Perm.LEDGER_REPORT_LOSS: "report a loss",
    Perm.LEDGER_DESTROY: "destroy stock",
    Perm.LEDGER_INVENTORY: "take an inventory",
    Perm.LEDGER_RESOLVE: "resolve a count discrepancy",
    Perm.LEDGER_CORRECT: "correct a ledger entry",
    Perm.VIEW_OUTCOMES_DASHBOARD: "see the outcomes dashboard",
    Perm.RESEARCH_EXPORT: "export de-identified research data",
    Perm.INVITE_PATIENT: "invite a patient to the portal",
    Perm.ACKNOWLEDGE_URGENT: "acknowledge an urgent safety task",
}


def refusal(role: str | Role, perm: Perm) -> str:
    """A refusal in words: "Front desk cannot open clinical notes."."""
    try:
        who = ROLE_LABELS[Role(role)]
    except ValueError:
        who = "This account"
    return f"{who} cannot {PERM_ACTIONS[perm]}."
