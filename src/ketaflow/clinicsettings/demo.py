"""The demo clinic's clinical settings: some signed by its medical director, the rest awaiting
sign-off, so that both states can be seen (idempotent)."""

from __future__ import annotations

from ketaflow.accounts.models import Clinic, User
from ketaflow.audit.context import Actor
from ketaflow.clinical.clinic_settings import spec
from ketaflow.clinicsettings.services import clinic_setting_sign

# The director reviewed the vital-sign alarms and the adjusted-weight factor and kept the
# defaults; the adequacy tables and dose caps still wait for the review.
SIGNED_IN_DEMO = (
    "monitoring.bp_rise_critical_percent",
    "monitoring.systolic_critical_mmhg",
    "monitoring.diastolic_critical_mmhg",
    "monitoring.spo2_critical_percent",
    "dosing.adjusted_bw_factor",
    "resistance.ptsd_dose.sertraline",
)


def load_demo(*, clinic: Clinic, director: User) -> None:
    actor = Actor(user=director)
    for key in SIGNED_IN_DEMO:
        clinic_setting_sign(actor=actor, clinic=clinic, key=key, value=spec(key).default)
