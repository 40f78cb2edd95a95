"""The patient's scores over time, one chart per questionnaire on its full scale, through the
web's one chart module (web/charts.py) and the same trajectory the staff see: the outcome
rules' response and remission thresholds and the severity bands' lower edges are dashed,
labelled reference lines (never drawn like the patient's own scores), the infusion days are
marked, and the table says where each answer was given (the portal or the clinic)."""

from __future__ import annotations

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.clinical import Instrument
from ketaflow.clinical.instruments import GAD7_BANDS, PHQ9_BANDS, Severity
from ketaflow.outcomes.charts import measure_references, trajectory_chart
from ketaflow.outcomes.selectors import trajectory
from ketaflow.patients.models import Patient
from ketaflow.web import charts

TITLE: dict[str, str] = {
    Instrument.PCL5.value: "PCL-5 (PTSD symptoms)",
    Instrument.PHQ9.value: "PHQ-9 (depression)",
    Instrument.GAD7.value: "GAD-7 (anxiety)",
}
# The severity bands of ketaflow.clinical (PHQ-9: Kroenke 2001; GAD-7: Spitzer 2006).
BANDS: dict[str, tuple[tuple[int, Severity], ...]] = {
    Instrument.PHQ9.value: PHQ9_BANDS,
    Instrument.GAD7.value: GAD7_BANDS,
}
SOURCE_TEXT: dict[str, str] = {
    InstrumentResponse.Source.PORTAL: "in the portal",
    InstrumentResponse.Source.CLINIC: "at the clinic",
}


def severity_references(code: str) -> list[charts.Reference]:
    """Each severity band's lower edge above zero, e.g. "Moderate from 10"."""
    return [
        charts.Reference(f"{severity.value.capitalize()} from {lower}", lower)
        for lower, severity in BANDS.get(code, ())
        if lower > 0
    ]


def score_charts(patient: Patient) -> list[charts.SvgChart]:
    """The patient's PCL-5, PHQ-9 and GAD-7 charts, those with at least one answer."""
    traj = trajectory(patient)
    sources = {
        pk: f", {SOURCE_TEXT.get(source, source)}"
        for pk, source in InstrumentResponse.objects.filter(patient=patient).values_list(
            "pk", "source"
        )
    }
    out = []
    for code, title in TITLE.items():
        measure = traj.measure(code)
        if measure is None or not measure.points:
            continue
        out.append(
            trajectory_chart(
                traj,
                measure,
                chart_id=f"chart-{code}",
                title=title,
                point_text=sources,
                references=[*measure_references(measure), *severity_references(code)],
            )
        )
    return out
