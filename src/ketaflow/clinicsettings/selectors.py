"""Reads of a clinic's clinical settings: the effective settings objects the rules take, and
each setting's value and sign-off as people read them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketaflow.accounts.models import Clinic
from ketaflow.clinical.clinic_settings import (
    DEFAULT_CLINICAL_SETTINGS,
    REGISTRY,
    SPECS,
    ClinicalSettings,
    ClinicSettingError,
    SettingSpec,
    build_settings,
    specs_for_rule,
)
from ketaflow.clinicsettings.models import ClinicSetting

logger = logging.getLogger(__name__)

AWAITING = "awaiting the medical director's sign-off"


def _rows(clinic: Clinic | None) -> dict[str, ClinicSetting]:
    if clinic is None:
        return {}
    rows = ClinicSetting.objects.filter(clinic=clinic).select_related("signed_by")
    return {row.key: row for row in rows if row.key in SPECS}


def clinical_settings_for(clinic: Clinic | None) -> ClinicalSettings:
    """The settings every rule of the clinic uses: its values where it set them, else the
    registry's defaults. A stored value that the registry no longer allows (a release narrowed
    the bounds) falls back to the defaults, which are the safer values, and is logged."""
    rows = _rows(clinic)
    if not rows:
        return DEFAULT_CLINICAL_SETTINGS
    try:
        return build_settings({key: row.value for key, row in rows.items()})
    except ClinicSettingError as exc:
        logger.error("clinic %s: stored clinical settings refused (%s); defaults used", clinic, exc)
        return DEFAULT_CLINICAL_SETTINGS


def anchor_for(key: str) -> str:
    """The HTML id of a setting on the settings page."""
    return "setting-" + key.replace(".", "-").replace("_", "-")


@dataclass(frozen=True)
class SettingState:
    """One setting of one clinic as the pages show it."""

    spec: SettingSpec
    value: float | None
    row: ClinicSetting | None
    status: str  # "clinic setting, signed by ... on ..." / "default, awaiting ..."

    @property
    def shown(self) -> str:
        return self.spec.show(self.value)

    @property
    def is_default(self) -> bool:
        return self.value == self.spec.default

    @property
    def signed(self) -> bool:
        return self.row is not None and self.row.is_signed

    @property
    def needs_sign_off(self) -> bool:
        return not self.signed and (self.spec.evidence.needs_sign_off or not self.is_default)

    @property
    def anchor(self) -> str:
        return anchor_for(self.spec.key)


def _status(
    spec: SettingSpec, value: float | None, row: ClinicSetting | None, zone: ZoneInfo
) -> str:
    what = "default" if value == spec.default else "clinic setting"
    if row is not None and row.is_signed and row.signed_at is not None:
        signer = row.signed_by
        who = (signer.get_full_name() or signer.username) if signer is not None else "?"
        when = row.signed_at.astimezone(zone)
        return f"{what}, signed by {who} on {when.day} {when:%b %Y}"
    if spec.evidence.needs_sign_off or value != spec.default:
        return f"{what}, {AWAITING}"
    return "sourced default"


def setting_states(clinic: Clinic) -> list[SettingState]:
    """Every setting of the clinic, the ones needing sign-off first (registry order within)."""
    rows = _rows(clinic)
    zone = ZoneInfo(clinic.time_zone)
    states = []
    for spec in REGISTRY:
        row = rows.get(spec.key)
        value = row.value if row is not None else spec.default
        states.append(SettingState(spec, value, row, _status(spec, value, row, zone)))
    return sorted(states, key=lambda s: not s.needs_sign_off)


def setting_states_by_key(clinic: Clinic) -> Mapping[str, SettingState]:
    return {s.spec.key: s for s in setting_states(clinic)}


def settings_for_rule(states: Mapping[str, SettingState], rule_id: str) -> list[SettingState]:
    """The clinic's settings that change an eligibility rule's result, for a patient's page."""
    return [states[spec.key] for spec in specs_for_rule(rule_id)]
