"""The printable infusion flowsheet: one page per session for the paper chart or a transfer to
an emergency department (vitals table and chart, events, dose, vial and lot, side effects,
CADSS and Aldrete, discharge and signatures).

A read-only selector: it gathers what the page shows, in words (no stored codes) and with the
clinic's time zone for every time; the view audits the read (``services.session_viewed``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from ketaflow.clinical import Action as MonitoringAction
from ketaflow.clinical import Instrument
from ketaflow.clinical.monitoring import AlertLevel, EndOrganSymptom
from ketaflow.infusions import services
from ketaflow.infusions.charts import vitals_chart
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from ketaflow.treatment.services import clinic_zone

LEVEL_TEXT: dict[str, str] = {
    AlertLevel.NORMAL: "Normal",
    AlertLevel.ABNORMAL: "Abnormal",
    AlertLevel.CRITICAL: "Critical",
    AlertLevel.EMERGENCY: "Emergency",
}


def _words(values: list[str], enum: Any) -> list[str]:
    """Labels of stored codes; an unknown code (from an older version) shown as words."""
    out = []
    for value in values:
        try:
            out.append(str(enum(value).label))
        except ValueError:
            out.append(value.replace("_", " "))
    return out


@dataclass(frozen=True)
class VitalsRow:
    entry: VitalsEntry
    struck: bool  # corrected by a later entry: shown struck through, as on paper
    level: str
    symptoms: list[str]
    actions: list[str]


def _vitals_rows(session: InfusionSession) -> list[VitalsRow]:
    entries = list(session.vitals.select_related("by", "corrects"))
    corrected = {v.corrects_id for v in entries if v.corrects_id is not None}
    return [
        VitalsRow(
            entry=v,
            struck=v.pk in corrected,
            level=LEVEL_TEXT.get(v.level, v.level.capitalize()),
            symptoms=_words(list(v.symptoms), EndOrganSymptom),
            actions=_words(list(v.actions), MonitoringAction),
        )
        for v in entries
    ]


def _minutes(start: dt.datetime | None, end: dt.datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() // 60)


def flowsheet(session: InfusionSession, now: dt.datetime) -> dict[str, Any]:
    """Everything the printed flowsheet shows, for the template (times are aware datetimes;
    the template renders them in ``time_zone``, the clinic's)."""
    clinic = session.patient.clinic
    zone = clinic_zone(clinic)
    events = list(session.events.select_related("by"))
    with timezone.override(zone):  # the chart's axis labels in the clinic's time
        chart = vitals_chart(services.effective_vitals(session), events, now)
    until = session.ended_at or now
    return {
        "session": session,
        "patient": session.patient,
        "appointment": session.appointment,
        "clinic": clinic,
        "time_zone": clinic.time_zone,
        "age": session.patient.age_on(timezone.localtime(now, zone).date()),
        "events": events,
        "vitals_rows": _vitals_rows(session),
        "chart": chart,
        "delivered": services.session_delivered(session, until=until),
        "side_effects": list(session.side_effects.select_related("by")),
        "pre": [
            (Instrument(code).label, response)
            for code, response in services.pre_infusion_responses(session).items()
        ],
        "cadss": services.session_responses(session, Instrument.CADSS),
        "aldrete": services.session_responses(session, Instrument.ALDRETE),
        "observed_min": _minutes(session.ended_at, session.discharged_at),
        "addenda": list(session.addenda.select_related("author")),
        "printed_at": now,
    }
