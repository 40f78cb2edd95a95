"""Thin views over the infusion session: access check, form, one service, render.

Every form of the session page posts to :func:`session_action`. Without JavaScript it answers
with a redirect (or the page with the form's errors); ``session.js`` sends the header
``X-KetaFlow-Fragment`` and gets JSON with the re-rendered page fragments instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.roles import Perm
from ketaflow.assessments.services import parse_answers
from ketaflow.audit.context import Actor
from ketaflow.clinical import Instrument
from ketaflow.infusions import selectors, services, stock
from ketaflow.infusions.access import (
    appointment_for_user,
    infusion_day_for_user,
    session_for_user,
)
from ketaflow.infusions.forms import (
    ALDRETE_ITEMS,
    AddendumForm,
    AldreteForm,
    BaselineOverrideForm,
    CadssForm,
    ChecklistForm,
    CorrectionForm,
    CosignForm,
    DecisionForm,
    DischargeForm,
    DoseForm,
    EventForm,
    RiskAcknowledgeForm,
    ScreeningForm,
    SideEffectForm,
    SignForm,
    VialForm,
    VitalsForm,
    WasteForm,
)
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from ketaflow.infusions.offline import replay_check
from ketaflow.infusions.questionnaires import CHAIR_INSTRUMENTS, ItemsForm, preview, sheet
from ketaflow.infusions.selectors import ACTION_TEXT, SessionPage
from ketaflow.treatment.services import clinic_today
from ketaflow.web.auth import request_user
from ketaflow.web.forms import apply_validation_error
from ketaflow.web.fragments import render_fragments
from ketaflow.web.templatetags.display import score

FRAGMENT_HEADER = "X-KetaFlow-Fragment"

# Fragments of the session page (ids ``frag-<name>``), each a template ``_<name>.html``.
FRAGMENTS = (
    "status",
    "controls",
    "checklist",
    "dose",
    "pump",
    "vitals",
    "side-effects",
    "scores",
    "discharge",
    "addenda",
)
_VERSIONED = ("status", "checklist", "dose", "discharge")


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request)


def _wants_fragments(request: HttpRequest) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


def _when(cleaned: dict[str, Any], field: str) -> dt.datetime | None:
    explicit = cleaned.get(field)
    if isinstance(explicit, dt.datetime):
        return explicit
    entered = cleaned.get("entered_at")
    return entered if isinstance(entered, dt.datetime) else None


def _forms(page: SessionPage, bound: dict[str, forms.Form]) -> dict[str, Any]:
    """The forms the page's state shows (a form a card does not show is not built): each the
    bound form with its errors when it was just refused, else a fresh one."""
    session = page.session
    version = {"version": session.version}
    chart = page.may_chart
    out: dict[str, Any] = {}

    def add(
        key: str, name: str, cls: type[forms.Form], initial: dict[str, Any] | None = None
    ) -> None:
        out[key] = bound.get(name) or cls(initial=initial or {})

    if chart and page.before_start:
        course = page.appointment.course
        add(
            "checklist_form",
            "checklist",
            ChecklistForm,
            {
                **version,
                "fasting_confirmed": session.fasting_confirmed,
                "escort_confirmed": session.escort_confirmed,
                "pregnancy_test": session.pregnancy_test,
                "weight_kg": session.weight_kg,
                "weight_measured_on": session.weight_measured_on or page.today,
                "height_cm": session.height_cm,
            },
        )
        add(
            "dose_form",
            "dose",
            DoseForm,
            {
                **version,
                "indication": session.indication or course.indication,
                "weight_basis": session.weight_basis or course.weight_basis,
                "dose_mg_per_kg": session.dose_mg_per_kg or course.dose_mg_per_kg,
                "duration_min": session.duration_min or course.duration_min,
                "vial_concentration_mg_per_ml": session.vial_concentration_mg_per_ml,
                "final_volume_ml": session.final_volume_ml,
            },
        )
        add(
            "start_form",
            "start",
            EventForm,
            {"kind": "start", "rate_ml_per_h": session.rate_ml_per_h},
        )
        add("screening_form", "screening", ScreeningForm)
    if chart and (page.before_start or page.vial_correctable):
        card = page.vial_card
        vial_form = bound.get("vial") or VialForm(
            initial={
                **version,
                "vial": card.draw.vial_id if card.draw is not None else None,
                "drawn_volume_ml": session.drawn_volume_ml or session.drug_volume_ml,
            }
        )
        if isinstance(vial_form, VialForm):
            vial_form.offer([(v.pk, stock.vial_choice_label(v)) for v in page.stock_vials])
        out["vial_form"] = vial_form
    if chart and page.vial_card.waste_due:
        add("waste_form", "waste", WasteForm, {"reason": stock.DEFAULT_WASTE_REASON})
    if chart and page.infusing:
        add("rate_form", "rate_change", EventForm, {"kind": "rate_change"})
        for kind in ("pause", "resume", "stop", "complete"):
            out[f"{kind}_form"] = EventForm(initial={"kind": kind})
    if chart:
        add("vitals_form", "vitals", VitalsForm)
        add("side_effect_form", "side-effect", SideEffectForm)
        add("cadss_form", "cadss", CadssForm)
    if chart and page.after_stop:
        add("aldrete_form", "aldrete", AldreteForm)
        add(
            "discharge_form",
            "discharge",
            DischargeForm,
            {
                **version,
                "escort_present": session.escort_present,
                "instructions_given": session.instructions_given,
            },
        )
    if page.may_acknowledge and page.before_start and not session.locked:
        add("risk_form", "acknowledge", RiskAcknowledgeForm)
        add("override_form", "override-baseline", BaselineOverrideForm)
    if page.may_acknowledge and chart and page.awaiting_decision is not None:
        add("decision_form", "decision", DecisionForm)
    if page.may_acknowledge and session.status == InfusionSession.Status.COSIGN:
        add("cosign_form", "cosign", CosignForm)
    if page.may_sign and session.status == InfusionSession.Status.DISCHARGED:
        add("sign_form", "sign", SignForm)
    if page.may_addendum and session.locked:
        add("addendum_form", "addendum", AddendumForm)
    return out


def _page_context(
    request: HttpRequest,
    session: InfusionSession,
    bound: dict[str, forms.Form] | None = None,
    *,
    as_read: bool = False,
) -> dict[str, Any]:
    """The session page: its data from the selector, the forms its state shows, and the
    fragments' names. ``as_read``: ``session`` is the access check's read of this request (a
    GET: nothing written since), used as it is; else the session is read afresh (a write may
    just have changed it)."""
    bound = bound or {}
    fresh = session if as_read else selectors.session_reread(session.pk)
    page = selectors.session_page(request_user(request), fresh, timezone.now())
    return {
        **page.context(),
        **_forms(page, bound),
        "event_errors": bound.get("event"),
        "correction_form": bound.get("correct"),
        "fragments": FRAGMENTS,
    }


@login_required
@require_GET
def session_page(request: HttpRequest, session_id: int) -> HttpResponse:
    actor = _actor(request)
    session = session_for_user(
        request_user(request), session_id, need=Perm.VIEW_CLINICAL, actor=actor, for_page=True
    )
    services.session_viewed(actor=actor, session=session, what="session page")
    context = _page_context(request, session, as_read=True)
    if _wants_fragments(request):  # session.js: a timer came due; every card, fresh
        return JsonResponse({"ok": True, **_fragments_json(request, context)})
    return render(request, "infusions/session.html", context)


def _fragments_json(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Every card of the page rendered from one context (one read of the session at one
    ``now``), so no card can show an older state than another; the context processors run
    once for all of them (``render_fragments``)."""
    templates = {name: f"infusions/_{name}.html" for name in FRAGMENTS}
    return {
        "version": context["session"].version,
        "fragments": render_fragments(request, templates, context),
    }


def _tier(action: str, session: InfusionSession, form: forms.Form) -> str:
    """The alert tier of a saved vitals entry (its confirmation takes the tier's colour)."""
    if action not in ("vitals", "correct"):
        return ""
    entry = selectors.vitals_entry_sent(session, form.cleaned_data["client_uuid"])
    return entry.level if entry is not None else ""


@dataclass(frozen=True)
class Handler:
    form: Callable[[Any], forms.Form]
    run: Callable[[Actor, InfusionSession, forms.Form], str]
    fragments: tuple[str, ...]
    need: Perm = Perm.CHART_INFUSION
    anchor: str = ""


def _checklist(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    services.checklist_update(
        actor=actor,
        session=session,
        expected_version=c["version"],
        fasting_confirmed=c["fasting_confirmed"],
        escort_confirmed=c["escort_confirmed"],
        pregnancy_test=c["pregnancy_test"],
        weight_kg=c["weight_kg"],
        weight_measured_on=c["weight_measured_on"],
        height_cm=c["height_cm"],
        weight_change_confirmed=c["weight_change_confirmed"],
        weight_entered=c.get("weight_entered", ""),
    )
    return "Checklist saved."


def _dose(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    plan = services.dose_compute(
        actor=actor,
        session=session,
        expected_version=c["version"],
        indication=c["indication"],
        weight_basis=c["weight_basis"],
        dose_mg_per_kg=c["dose_mg_per_kg"],
        vial_concentration_mg_per_ml=c["vial_concentration_mg_per_ml"],
        final_volume_ml=c["final_volume_ml"],
        duration_min=c["duration_min"],
        override_reason=c["override_reason"],
    )
    return f"Dose computed: {plan.dose_mg:.2f} mg, pump {plan.rate_ml_per_h} mL/h."


def _vial(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    entry = stock.vial_pick(
        actor=actor,
        session=session,
        expected_version=c["version"],
        vial_id=c["vial"],
        drawn_volume_ml=c["drawn_volume_ml"],
        reason=c["reason"],
    )
    return (
        f"Vial {entry.vial.label} (lot {entry.vial.lot}) drawn: {entry.quantity_mg} mg, "
        f"ledger entry #{entry.seq}."
    )


def _waste(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    entries = stock.remainder_waste(
        actor=actor,
        session=session,
        witness_username=c["witness_username"],
        witness_password=c["witness_password"],
        reason=c["reason"],
    )
    return "Recorded in the ledger: " + "; ".join(
        f"{e.get_kind_display().lower()} {e.quantity_mg} mg (#{e.seq})" for e in entries
    )


def _event(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    event = services.event_record(
        actor=actor,
        session=session,
        kind=c["kind"],
        client_uuid=c["client_uuid"],
        at=_when(c, "at"),
        rate_ml_per_h=c["rate_ml_per_h"],
        note=c["note"],
        reason=c.get("reason") or "",
        confirm_early_stop=bool(c.get("confirm_early_stop")),
    )
    local_at = clinic_local(session.patient.clinic, event.at)
    return f"{event.get_kind_display()} recorded at {local_at:%H:%M:%S}."


def _override_baseline(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    services.baseline_override(actor=actor, session=session, reason=form.cleaned_data["reason"])
    return "Baseline override recorded; the infusion may start."


def _decision(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    row = services.decision_record(
        actor=actor,
        session=session,
        decision=c["decision"],
        note=c["note"],
        client_uuid=c["client_uuid"],
    )
    return f"Prescriber's decision recorded: {row.get_decision_display()}."


def _cosign(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    services.session_cosign(actor=actor, session=session)
    return "Infusion note co-signed and locked."


def _vitals_common(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "client_uuid": c["client_uuid"],
        "systolic_mmhg": c["systolic_mmhg"],
        "diastolic_mmhg": c["diastolic_mmhg"],
        "heart_rate_bpm": c["heart_rate_bpm"],
        "spo2_percent": c["spo2_percent"],
        "respiratory_rate_per_min": c["respiratory_rate_per_min"],
        "symptoms": c["symptoms"],
        "measured_at": _when(c, "measured_at"),
    }


def _vitals_message(entry: VitalsEntry) -> str:
    if entry.level == "normal":
        return f"Vitals saved ({entry}): within limits."
    actions = "; ".join(ACTION_TEXT.get(a, a) for a in entry.actions)
    return f"Vitals saved ({entry}): {entry.level.upper()}. {actions}."


def _vitals(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    entry = services.vitals_record(
        actor=actor, session=session, **_vitals_common(form.cleaned_data)
    )
    return _vitals_message(entry)


def _correct(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    original = selectors.vitals_entry(session, c["corrects"])
    if original is None:
        raise ValidationError({"corrects": ["no such vitals entry in this session"]})
    # A correction is of the original reading: its time is the original's to the second
    # unless the nurse gives another (never the time the correction was typed).
    entry = services.vitals_record(
        actor=actor,
        session=session,
        corrects=original,
        correction_reason=c["correction_reason"],
        **{**_vitals_common(c), "measured_at": _correction_time(c, original)},
    )
    return "Correction saved; the original stays in the record. " + _vitals_message(entry)


def _correction_time(c: dict[str, Any], original: VitalsEntry) -> dt.datetime:
    """The time the form shows is the original's cut to the second or the minute (a
    datetime-local input): unchanged, the correction keeps the original's exact time, so it
    sorts where the original did and the newest reading stays the newest."""
    given = c.get("measured_at")
    exact = original.measured_at
    if not isinstance(given, dt.datetime) or given in (
        exact.replace(microsecond=0),
        exact.replace(second=0, microsecond=0),
    ):
        return exact
    return given


def _parse(instrument: Instrument, text: str) -> list[int] | list[bool]:
    try:
        return parse_answers(instrument, text)
    except ValueError as exc:
        raise ValidationError({"answers": [str(exc)]}) from None


def _screening(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    instrument = Instrument(form.cleaned_data["instrument"])
    response = services.screening_record(
        actor=actor,
        session=session,
        instrument=instrument,
        answers=_parse(instrument, form.cleaned_data["answers"]),
    )
    flag = (
        " Suicide-risk flag: a prescriber must acknowledge." if response.suicide_risk_flag else ""
    )
    return f"{instrument.label} recorded: total {score(response.total)}.{flag}"


def _acknowledge(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    services.risk_acknowledge(actor=actor, session=session, note=form.cleaned_data["note"])
    return "Suicide-risk flag acknowledged."


def _cadss(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    response = services.screening_record(
        actor=actor,
        session=session,
        instrument=Instrument.CADSS,
        answers=_parse(Instrument.CADSS, form.cleaned_data["answers"]),
    )
    return f"CADSS recorded: total {score(response.total)}."


def _aldrete(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    answers = [int(form.cleaned_data[name]) for name, _ in ALDRETE_ITEMS]
    response = services.screening_record(
        actor=actor, session=session, instrument=Instrument.ALDRETE, answers=answers
    )
    return f"Modified Aldrete recorded: {score(response.total)} of 10."


def _side_effect(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    effect = services.side_effect_record(
        actor=actor,
        session=session,
        client_uuid=c["client_uuid"],
        kind=c["kind"],
        severity=c["severity"],
        onset_at=_when(c, "onset_at"),
        other_description=c["other_description"],
        medication=c["medication"],
        dose_amount=c["dose_amount"],
        dose_unit=c["dose_unit"],
        route=c["route"],
        note=c["note"],
    )
    return f"Side effect recorded: {effect}."


def _discharge(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    c = form.cleaned_data
    services.session_discharge(
        actor=actor,
        session=session,
        expected_version=c["version"],
        escort_present=c["escort_present"],
        instructions_given=c["instructions_given"],
    )
    return "Patient discharged."


def _sign(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    signed = services.session_sign(actor=actor, session=session)
    if signed.status == InfusionSession.Status.COSIGN:
        return "Infusion note signed; it waits for the prescriber's co-signature."
    return "Infusion note signed and locked."


def _addendum(actor: Actor, session: InfusionSession, form: forms.Form) -> str:
    services.addendum_add(
        actor=actor,
        session=session,
        text=form.cleaned_data["text"],
        client_uuid=form.cleaned_data["client_uuid"],
    )
    return "Addendum saved."


HANDLERS: dict[str, Handler] = {
    "checklist": Handler(ChecklistForm, _checklist, _VERSIONED, anchor="frag-checklist"),
    "dose": Handler(DoseForm, _dose, (*_VERSIONED, "pump"), anchor="frag-dose"),
    "vial": Handler(VialForm, _vial, _VERSIONED, anchor="frag-dose"),
    "waste": Handler(WasteForm, _waste, ("status", "dose"), anchor="frag-dose"),
    "event": Handler(
        EventForm, _event, ("status", "pump", "vitals", "scores", "discharge"), anchor="frag-pump"
    ),
    "vitals": Handler(VitalsForm, _vitals, ("status", "checklist", "vitals"), anchor="frag-vitals"),
    "correct": Handler(CorrectionForm, _correct, ("status", "vitals"), anchor="frag-vitals"),
    "screening": Handler(
        ScreeningForm, _screening, ("status", "checklist"), anchor="frag-checklist"
    ),
    "acknowledge": Handler(
        RiskAcknowledgeForm,
        _acknowledge,
        ("status", "checklist"),
        need=Perm.ORDER_INFUSION,
        anchor="frag-checklist",
    ),
    "cadss": Handler(CadssForm, _cadss, ("status", "scores"), anchor="frag-scores"),
    "aldrete": Handler(
        AldreteForm, _aldrete, ("status", "scores", "discharge"), anchor="frag-scores"
    ),
    "side-effect": Handler(
        SideEffectForm, _side_effect, ("side-effects",), anchor="frag-side-effects"
    ),
    "discharge": Handler(DischargeForm, _discharge, FRAGMENTS, anchor="frag-discharge"),
    "sign": Handler(
        SignForm, _sign, FRAGMENTS, need=Perm.SIGN_INFUSION_NOTE, anchor="frag-discharge"
    ),
    "addendum": Handler(AddendumForm, _addendum, ("addenda",), anchor="frag-addenda"),
    "override-baseline": Handler(
        BaselineOverrideForm,
        _override_baseline,
        ("status", "checklist", "pump"),
        need=Perm.ORDER_INFUSION,
        anchor="frag-checklist",
    ),
    "decision": Handler(
        DecisionForm,
        _decision,
        ("status", "pump", "vitals"),
        need=Perm.ORDER_INFUSION,
        anchor="frag-pump",
    ),
    "cosign": Handler(
        CosignForm, _cosign, FRAGMENTS, need=Perm.ORDER_INFUSION, anchor="frag-discharge"
    ),
}


def _error_list(form: forms.Form) -> list[str]:
    lines: list[str] = []
    for field, errors in form.errors.items():
        label = form.fields[field].label or field if field in form.fields else ""
        for error in errors:
            lines.append(f"{label}: {error}" if label else str(error))
    return lines


@login_required
@require_POST
def session_action(request: HttpRequest, session_id: int, action: str) -> HttpResponse:
    handler = HANDLERS.get(action)
    if handler is None:
        raise Http404("No such action.")
    actor = _actor(request)
    session = session_for_user(request_user(request), session_id, need=handler.need, actor=actor)
    form = handler.form(request.POST)
    message = ""
    ok = False
    if form.is_valid():
        try:
            replay_check(actor=actor, session=session, queued_by=request.POST.get("queued_by", ""))
            message = handler.run(actor, session, form)
        except ValidationError as exc:
            _show_refusal(form, exc)
        else:
            ok = True
    errors = _error_list(form)
    bound_key = "event" if action == "event" else action
    if action == "event" and form.is_bound:
        kind = request.POST.get("kind", "")
        if kind in ("start", "rate_change"):
            bound_key = kind
    if _wants_fragments(request):
        bound = {} if ok else {bound_key: form}
        context = _page_context(request, session, bound)
        if not ok:  # a successful write is audited by its service; a refusal shows the page
            services.session_viewed(actor=actor, session=session, what=f"{action} refused")
        if not ok and action == "event":
            # The flash line carries the refusal once (session.js); the card does not repeat it.
            context["event_errors"] = []
        return JsonResponse(
            {
                "ok": ok,
                "message": message or "Not saved: " + "; ".join(errors),
                "errors": errors,
                "tier": _tier(action, session, form) if ok else "",
                **_fragments_json(request, context),
            },
            status=200 if ok else 400,
        )
    if ok:
        messages.success(request, message)
        return redirect(reverse("infusion_session", args=[session.pk]) + f"#{handler.anchor}")
    context = _page_context(request, session, {bound_key: form})
    if action == "event":
        context["event_errors"] = errors  # shown once, in the pump card
    else:
        messages.error(request, "Not saved: " + "; ".join(errors))
    services.session_viewed(actor=actor, session=session, what="session page after a refusal")
    return render(request, "infusions/session.html", context, status=400)


@login_required
@require_GET
def correction_form(request: HttpRequest, session_id: int, entry_id: int) -> HttpResponse:
    actor = _actor(request)
    session = session_for_user(
        request_user(request), session_id, need=Perm.CHART_INFUSION, actor=actor
    )
    entry = selectors.vitals_entry(session, entry_id)
    if entry is None:
        raise Http404("No such vitals entry.")
    form = CorrectionForm(
        initial={
            "corrects": entry.pk,
            "systolic_mmhg": entry.systolic_mmhg,
            "diastolic_mmhg": entry.diastolic_mmhg,
            "heart_rate_bpm": entry.heart_rate_bpm,
            "spo2_percent": entry.spo2_percent,
            "respiratory_rate_per_min": entry.respiratory_rate_per_min,
            "symptoms": entry.symptoms,
            "measured_at": clinic_local(session.patient.clinic, entry.measured_at),
        }
    )
    services.session_viewed(
        actor=actor, session=session, what=f"correction form of vitals {entry.pk}"
    )
    return render(
        request,
        "infusions/correct.html",
        {"session": session, "patient": session.patient, "entry": entry, "form": form},
    )


@login_required
@require_GET
def discharge_instructions(request: HttpRequest, session_id: int) -> HttpResponse:
    actor = _actor(request)
    session = session_for_user(
        request_user(request), session_id, need=Perm.VIEW_CLINICAL, actor=actor
    )
    services.session_viewed(actor=actor, session=session, what="discharge instructions")
    return render(
        request,
        "infusions/instructions.html",
        {
            "session": session,
            "patient": session.patient,
            "clinic": session.patient.clinic,
            "today": clinic_today(session.patient.clinic),
        },
    )


@login_required
@require_GET
def today(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    user = request_user(request)
    clinic = infusion_day_for_user(user, actor=actor)
    page = selectors.today_page(user, clinic, timezone.now())
    services.sessions_listed(
        actor=actor,
        day=page.day,
        appointment_ids=page.appointment_ids,
        patient_ids=page.patient_ids,
    )
    return render(request, "infusions/today.html", page.context())


@login_required
@require_POST
def open_session(request: HttpRequest, appointment_id: int) -> HttpResponse:
    actor = _actor(request)
    appointment = appointment_for_user(
        request_user(request), appointment_id, need=Perm.CHART_INFUSION, actor=actor
    )
    try:
        session = services.session_open(actor=actor, appointment=appointment)
    except ValidationError as exc:
        messages.error(request, "; ".join(" ".join(v) for v in exc.message_dict.values()))
        return redirect("infusion_today")
    return redirect("infusion_session", session_id=session.pk)


def _show_refusal(form: forms.Form, exc: ValidationError) -> None:
    apply_validation_error(form, exc, prefixes={"version": "Form out of date"})


@login_required
@require_GET
def flowsheet_page(request: HttpRequest, session_id: int) -> HttpResponse:
    """The printable infusion flowsheet (one page per session), read like the session page."""
    actor = _actor(request)
    session = session_for_user(
        request_user(request), session_id, need=Perm.VIEW_CLINICAL, actor=actor
    )
    services.session_viewed(actor=actor, session=session, what="printable flowsheet")
    return render(
        request,
        "infusions/flowsheet.html",
        selectors.flowsheet_page(session, timezone.now()).context(),
    )


@login_required
@require_http_methods(["GET", "POST"])
def questionnaire_page(request: HttpRequest, session_id: int, instrument: str) -> HttpResponse:
    """A questionnaire at the chair item by item: a plain radio-button form posting to the same
    service as every other answer (``screening_record``), so a flag raises the urgent task.
    ``questionnaire.js`` adds digits and arrows and the live total; a request it marks as a
    preview only scores the answers (nothing is recorded)."""
    chosen = next((i for i in CHAIR_INSTRUMENTS if i.value == instrument), None)
    if chosen is None:
        raise Http404("No such questionnaire at the chair.")
    actor = _actor(request)
    session = session_for_user(
        request_user(request), session_id, need=Perm.CHART_INFUSION, actor=actor
    )
    the_sheet = sheet(chosen)
    form = ItemsForm(the_sheet, request.POST or None)
    back = reverse("infusion_session", args=[session.pk]) + (
        "#frag-scores" if chosen is Instrument.CADSS else "#frag-checklist"
    )
    if request.method == "POST" and request.headers.get("X-KetaFlow-Preview") == "1":
        found = preview(the_sheet, form.answers() if form.is_valid() else None)
        return JsonResponse({"total": found.total, "complete": found.complete, "flag": found.flag})
    if request.method == "POST" and form.is_valid():
        try:
            response = services.screening_record(
                actor=actor, session=session, instrument=chosen, answers=form.answers()
            )
        except ValidationError as exc:
            apply_validation_error(form, exc, prefixes={"answers": chosen.label})
        else:
            flag = (
                " Suicide-risk flag: a prescriber must acknowledge."
                if response.suicide_risk_flag
                else ""
            )
            messages.success(
                request, f"{chosen.label} recorded: total {response.total.normalize()}.{flag}"
            )
            return redirect(back)
    services.session_viewed(actor=actor, session=session, what=f"{chosen.label} item by item")
    return render(
        request,
        "infusions/questionnaire.html",
        {
            "session": session,
            "patient": session.patient,
            "form": form,
            "sheet": the_sheet,
            "back": back,
        },
        status=400 if form.is_bound else 200,
    )
