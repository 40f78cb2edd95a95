"""Thin views over the ledger: access check, form, service or selector, template. Every page is
audited. The pages with a form share one shape (:func:`_form_page`): GET shows the form, a valid
POST calls the service and redirects, a refusal shows the form again with the error on its
field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.clinical.common import count_text
from ketaflow.ledger import reports, selectors, services
from ketaflow.ledger.access import (
    case_for_user,
    count_for_user,
    entry_for_user,
    inventory_for_user,
    ledger_for_user,
    receipt_for_user,
    vial_for_user,
)
from ketaflow.ledger.forms import (
    DUPLICATE_INVOICE_FIELD,
    CorrectForm,
    CountForm,
    DestroyForm,
    DrawForm,
    InventoryForm,
    LossForm,
    PaperAdministrationForm,
    ProductForm,
    ReceiptReverseForm,
    ReceiveForm,
    ResolveForm,
    WasteForm,
)
from ketaflow.ledger.models import DiscrepancyCase, LedgerEntry
from ketaflow.web.auth import request_user
from ketaflow.web.forms import apply_validation_error

Kind = LedgerEntry.Kind
T = TypeVar("T")


def _ctx(request: HttpRequest) -> tuple[User, Actor]:
    return request_user(request), Actor.from_request(request)


def _form_page(
    request: HttpRequest,
    actor: Actor,
    form: forms.BaseForm,
    *,
    save: Callable[[dict[str, Any]], T],
    done: Callable[[T], HttpResponse],
    seen: dict[str, Any],
    context: Callable[[], dict[str, Any]] = dict,
    template: str = "ledger/form.html",
    refused: Callable[[ValidationError], None] | None = None,
) -> HttpResponse:
    """The one shape of a ledger form page. A valid POST calls ``save`` with the form's data and
    answers ``done(result)``; a refusal (ValidationError) puts its messages on the form's fields
    (after ``refused``, if given). Otherwise the page is shown, its reading audited with
    ``seen`` (the arguments of :func:`services.record_viewed`)."""
    if request.method == "POST" and form.is_valid():
        try:
            result = save(form.cleaned_data)
        except ValidationError as exc:
            if refused is not None:
                refused(exc)
            apply_validation_error(form, exc)
        else:
            return done(result)
    services.record_viewed(actor=actor, **seen)
    return render(request, template, {"form": form, **context()})


def _succeeded(request: HttpRequest, text: str, to: str, **kwargs: Any) -> HttpResponse:
    messages.success(request, text)
    response: HttpResponse = redirect(to, **kwargs)
    return response


def _stock_lines(form: CountForm | InventoryForm) -> list[dict[str, Any]]:
    data = form.cleaned_data
    return [
        {
            "vial_id": vial.pk,
            "present": bool(data.get(f"present_{vial.pk}")),
            "measured_volume_ml": data.get(f"volume_{vial.pk}"),
            "estimated": bool(data.get(f"estimated_{vial.pk}")),
        }
        for vial in form.vials
    ]


# ---- home, stock ----------------------------------------------------------------------------


@login_required
def ledger_home(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_VIEW, actor=actor)
    page = selectors.home_page(user, clinic)
    services.ledger_viewed(actor=actor, what="stock on hand", patient_ids=page.patient_ids)
    may = {
        "receive": user.may(Perm.LEDGER_RECEIVE),
        "count": user.may(Perm.LEDGER_COUNT),
        "inventory": user.may(Perm.LEDGER_INVENTORY),
    }
    return render(request, "ledger/home.html", {**page.context(), "may": may})


@login_required
@require_http_methods(["GET", "POST"])
def product_new(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_RECEIVE, actor=actor)
    return _form_page(
        request,
        actor,
        ProductForm(request.POST or None),
        save=lambda data: services.product_create(
            actor=actor,
            clinic=clinic,
            name=data["name"],
            ndc=data["ndc"],
            concentration_mg_per_ml=data["concentration_mg_per_ml"],
            volume_per_vial_ml=data["volume_per_vial_ml"],
        ),
        done=lambda product: _succeeded(request, f"Product {product} added.", "ledger_receive"),
        seen={"what": "new product form"},
        context=lambda: {"title": "New product"},
    )


@login_required
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_RECEIVE, actor=actor)
    form = ReceiveForm(request.POST or None, products=selectors.products(clinic))

    def refused(exc: ValidationError) -> None:
        if any(e.code == "duplicate_invoice" for e in exc.error_dict.get("invoice_number", [])):
            form.ask_duplicate_confirmation()

    def done(receipt: Any) -> HttpResponse:
        labels = ", ".join(selectors.receipt_vial_labels(receipt))
        return _succeeded(
            request,
            f"Received {receipt.vial_count} vials (invoice {receipt.invoice_number}): {labels}.",
            "ledger_home",
        )

    return _form_page(
        request,
        actor,
        form,
        save=lambda data: services.stock_receive(
            actor=actor,
            product=data["product"],
            lot=data["lot"],
            expires_on=data["expires_on"],
            vial_count=data["vial_count"],
            supplier_name=data["supplier_name"],
            supplier_address=data["supplier_address"],
            supplier_dea_number=data["supplier_dea_number"],
            invoice_number=data["invoice_number"],
            note=data["note"],
            duplicate_invoice_confirmed=bool(data.get(DUPLICATE_INVOICE_FIELD)),
        ),
        done=done,
        refused=refused,
        seen={"what": "receive stock form"},
        template="ledger/receive.html",
        context=lambda: {
            **selectors.receive_page(clinic).context(),
            "may_reverse": user.may(Perm.LEDGER_CORRECT),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def receipt_reverse(request: HttpRequest, receipt_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    receipt = receipt_for_user(user, receipt_id, need=Perm.LEDGER_CORRECT, actor=actor)

    def done(corrections: list[LedgerEntry]) -> HttpResponse:
        return _succeeded(
            request,
            f"Receipt of invoice {receipt.invoice_number} reversed: {len(corrections)} "
            f"vials, entries #{corrections[0].seq} to #{corrections[-1].seq}, witnessed by "
            f"{corrections[0].witness_username}.",
            "ledger_receive",
        )

    return _form_page(
        request,
        actor,
        ReceiptReverseForm(request.POST or None),
        save=lambda data: services.receipt_reverse(
            actor=actor,
            receipt=receipt,
            reason=data["reason"],
            witness_username=data["witness_username"],
            witness_password=data["witness_password"],
            request=request,
        ),
        done=done,
        seen={"what": f"reverse receipt {receipt.pk}", "record": receipt},
        template="ledger/receipt_reverse.html",
        context=lambda: {
            **selectors.receipt_reverse_page(receipt).context(),
            "witness_note": "The witness is a second, credentialed member of staff who checks "
            "the vials of this receipt now and signs with their own username and password.",
        },
    )


@login_required
def vial_detail(request: HttpRequest, vial_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    vial = vial_for_user(user, vial_id, need=Perm.LEDGER_VIEW, actor=actor)
    page = selectors.vial_page(vial)
    services.record_viewed(
        actor=actor, what=f"vial {vial.label}", record=vial, patient_ids=page.patient_ids
    )
    in_stock = vial.status in services.IN_STOCK
    may = {
        "draw": in_stock and user.may(Perm.LEDGER_DRAW),
        "destroy": in_stock and user.may(Perm.LEDGER_DESTROY),
        "loss": in_stock and user.may(Perm.LEDGER_REPORT_LOSS),
    }
    return render(request, "ledger/vial.html", {**page.context(), "may": may})


# ---- draw, administer, waste ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def draw(request: HttpRequest, vial_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    vial = vial_for_user(user, vial_id, need=Perm.LEDGER_DRAW, actor=actor)
    day = clinic_today(vial.clinic)
    patients = selectors.draw_patients(user, day)
    session_qs = selectors.draw_sessions(user, day, vial.lot)
    sessions = list(session_qs)
    return _form_page(
        request,
        actor,
        DrawForm(request.POST or None, patients=patients, sessions=session_qs),
        save=lambda data: services.draw_record(
            actor=actor,
            vial=vial,
            volume_ml=data["volume_ml"],
            patient=data["patient"],
            session=data["session"],
            note=data["note"],
        ),
        done=lambda entry: _succeeded(
            request,
            f"Drew {entry.quantity_mg} mg from vial {vial.label} (entry #{entry.seq}).",
            "ledger_vial",
            vial_id=vial.pk,
        ),
        seen={
            "what": f"draw form, vial {vial.label}",
            "patient_ids": [p.pk for p in patients] + [s.patient_id for s in sessions],
        },
        context=lambda: {"title": f"Draw from vial {vial.label}", "vial": vial},
    )


@login_required
@require_POST
def administer(request: HttpRequest, entry_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    draw_entry = entry_for_user(user, entry_id, need=Perm.LEDGER_DRAW, actor=actor)
    form = PaperAdministrationForm(request.POST)
    typed = form.cleaned_data["amount_mg"] if form.is_valid() else None
    try:
        entry = services.administration_record(actor=actor, draw=draw_entry, amount_mg=typed)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Recorded {entry.quantity_mg} mg given ({entry.reason}), entry #{entry.seq}.",
        )
    return redirect("ledger_vial", vial_id=draw_entry.vial_id)


@login_required
@require_http_methods(["GET", "POST"])
def waste(request: HttpRequest, vial_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    vial = vial_for_user(user, vial_id, need=Perm.LEDGER_DRAW, actor=actor)
    draws = selectors.vial_open_draws(vial)
    initial = {"draw": request.GET.get("draw", "")}
    form = WasteForm(request.POST or None, draws=selectors.waste_choices(draws), initial=initial)
    return _form_page(
        request,
        actor,
        form,
        save=lambda data: services.waste_record(
            actor=actor,
            vial=vial,
            amount_mg=data["amount_mg"],
            reason=data["reason"],
            witness_username=data["witness_username"],
            witness_password=data["witness_password"],
            draw=next((d for d in draws if d.pk == data["draw"]), None),
            request=request,
        ),
        done=lambda entry: _succeeded(
            request,
            f"Wasted {entry.quantity_mg} mg, witnessed by {entry.witness_username} "
            f"(entry #{entry.seq}).",
            "ledger_vial",
            vial_id=vial.pk,
        ),
        seen={
            "what": f"waste form, vial {vial.label}",
            "patient_ids": [d.patient_id for d in draws if d.patient_id is not None],
        },
        context=lambda: {
            "title": f"Waste from vial {vial.label}",
            "vial": vial,
            "witness_note": "The witness is a second, credentialed member of staff who sees "
            "the waste now and signs with their own username and password.",
        },
    )


# ---- destruction, loss ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def destroy(request: HttpRequest, vial_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    vial = vial_for_user(user, vial_id, need=Perm.LEDGER_DESTROY, actor=actor)
    return _form_page(
        request,
        actor,
        DestroyForm(request.POST or None),
        save=lambda data: services.destruction_record(
            actor=actor,
            vial=vial,
            witnesses=[
                (data["witness_username"], data["witness_password"]),
                (data["witness2_username"], data["witness2_password"]),
            ],
            method=data["method"],
            location=data["location"],
            reason=data["reason"],
            request=request,
        ),
        done=lambda entry: _succeeded(
            request,
            f"Destroyed {entry.quantity_mg} mg (entry #{entry.seq}).",
            "ledger_entry",
            entry_id=entry.pk,
        ),
        seen={"what": f"destruction form, vial {vial.label}"},
        context=lambda: {
            "title": f"Destroy vial {vial.label} (DEA Form 41)",
            "vial": vial,
            "witness_note": "On-site destruction is witnessed by two authorised employees who "
            "sign now (DEA Form 41; 21 CFR 1317).",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def loss(request: HttpRequest, vial_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    vial = vial_for_user(user, vial_id, need=Perm.LEDGER_REPORT_LOSS, actor=actor)

    def done(entry: LedgerEntry) -> HttpResponse:
        messages.error(
            request,
            "Notify the DEA Field Division in writing by "
            f"{entry.form_data['notify_field_division_by']} (21 CFR 1301.76(b)).",
        )
        return redirect("ledger_entry", entry_id=entry.pk)

    return _form_page(
        request,
        actor,
        LossForm(request.POST or None),
        save=lambda data: services.loss_record(
            actor=actor,
            vial=vial,
            loss_kind=data["loss_kind"],
            discovered_at=data["discovered_at"],
            circumstances=data["circumstances"],
            amount_mg=data["amount_mg"],
            police_report=data["police_report"],
        ),
        done=done,
        seen={"what": f"loss report form, vial {vial.label}"},
        context=lambda: {
            "title": f"Report a loss or theft: vial {vial.label} (DEA Form 106)",
            "vial": vial,
            "witness_note": "A theft or significant loss must be notified in writing to the "
            "DEA Field Division within one business day of discovery (21 CFR 1301.76(b)); "
            "the deadline is shown once the report is saved.",
        },
    )


# ---- entries, corrections -------------------------------------------------------------------


@login_required
def entry_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    entry = entry_for_user(user, entry_id, need=Perm.LEDGER_VIEW, actor=actor)
    page = selectors.entry_page(entry)
    shown = [entry.patient_id] if entry.patient_id else []
    services.record_viewed(actor=actor, what=f"entry #{entry.seq}", record=entry, patient_ids=shown)
    return render(
        request,
        "ledger/entry.html",
        {
            **page.context(),
            "may_correct": user.may(Perm.LEDGER_CORRECT) and not page.corrected,
            "may_administer": user.may(Perm.LEDGER_DRAW) and page.open_draw,
            "paper_form": PaperAdministrationForm(),
            "correct_form": CorrectForm(),
        },
    )


@login_required
@require_POST
def correct(request: HttpRequest, entry_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    entry = entry_for_user(user, entry_id, need=Perm.LEDGER_CORRECT, actor=actor)
    form = CorrectForm(request.POST)
    if form.is_valid():
        try:
            correction = services.entry_correct(
                actor=actor, entry=entry, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Entry #{entry.seq} reversed by #{correction.seq}.")
    else:
        messages.error(request, "Give the reason for the correction.")
    return redirect("ledger_entry", entry_id=entry.pk)


# ---- counts, cases, inventories -------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def count_new(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_COUNT, actor=actor)
    second = selectors.second_counter_required(clinic)
    form = CountForm(
        request.POST or None, vials=selectors.stock_on_hand(user), second_counter=second
    )

    def done(count: Any) -> HttpResponse:
        cases = selectors.cases_opened(count)
        if cases:
            messages.error(
                request,
                f"Count saved: {count_text(cases, 'discrepancy case')} opened for the director.",
            )
        else:
            messages.success(request, "Count saved: every vial matches the ledger.")
        return redirect("ledger_count", count_id=count.pk)

    return _form_page(
        request,
        actor,
        form,
        save=lambda data: services.count_record(
            actor=actor,
            clinic=clinic,
            shift=data["shift"],
            lines=[
                services.CountInput(
                    vial_id=line["vial_id"],
                    present=line["present"],
                    measured_volume_ml=line["measured_volume_ml"],
                )
                for line in _stock_lines(form)
            ],
            note=data["note"],
            second_counter_username=data.get("second_counter_username", ""),
            second_counter_password=data.get("second_counter_password", ""),
            request=request,
        ),
        done=done,
        seen={"what": "count form"},
        template="ledger/count_form.html",
        context=lambda: {"title": "Count the stock", "second_counter": second},
    )


@login_required
def count_detail(request: HttpRequest, count_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    count = count_for_user(user, count_id, need=Perm.LEDGER_VIEW, actor=actor)
    services.record_viewed(actor=actor, what=f"count {count.pk}", record=count)
    return render(request, "ledger/count.html", selectors.count_page(count).context())


@login_required
@require_http_methods(["GET", "POST"])
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    need = Perm.LEDGER_RESOLVE if request.method == "POST" else Perm.LEDGER_VIEW
    case = case_for_user(user, case_id, need=need, actor=actor)
    return _form_page(
        request,
        actor,
        ResolveForm(request.POST or None),
        save=lambda data: services.case_resolve(
            actor=actor, case=case, outcome=data["outcome"], reason=data["reason"]
        ),
        done=lambda resolved: _succeeded(
            request, f"Discrepancy {case.pk} resolved.", "ledger_case", case_id=case.pk
        ),
        seen={"what": f"discrepancy {case.pk}", "record": case},
        template="ledger/case.html",
        context=lambda: {
            **selectors.case_page(case).context(),
            "may_resolve": user.may(Perm.LEDGER_RESOLVE)
            and case.status == DiscrepancyCase.Status.OPEN,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def inventory_new(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_INVENTORY, actor=actor)
    form = InventoryForm(request.POST or None, vials=selectors.stock_on_hand(user))
    return _form_page(
        request,
        actor,
        form,
        save=lambda data: services.inventory_take(
            actor=actor,
            clinic=clinic,
            kind=data["kind"],
            timing=data["timing"],
            lines=[
                services.InventoryInput(
                    vial_id=line["vial_id"],
                    present=line["present"],
                    measured_volume_ml=line["measured_volume_ml"],
                    estimated=line["estimated"],
                )
                for line in _stock_lines(form)
            ],
            note=data["note"],
        ),
        done=lambda inventory: _succeeded(
            request,
            f"{inventory.get_kind_display()} recorded and frozen.",
            "ledger_inventory",
            inventory_id=inventory.pk,
        ),
        seen={"what": "inventory form"},
        template="ledger/count_form.html",
        context=lambda: {"title": "Take an inventory"},
    )


@login_required
def inventory_detail(request: HttpRequest, inventory_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    inventory = inventory_for_user(user, inventory_id, need=Perm.LEDGER_VIEW, actor=actor)
    services.record_viewed(actor=actor, what=f"inventory {inventory.pk}", record=inventory)
    return render(
        request,
        "ledger/report.html",
        {
            "report": reports.inventory_report(inventory),
            "export": {"name": "inventory", "query": f"inventory={inventory.pk}"},
        },
    )


# ---- reports, reconciliation, verification --------------------------------------------------


def _date_param(request: HttpRequest, name: str, default: dt.date) -> dt.date:
    text = request.GET.get(name, "")
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Http404(f"{name}: not a date") from None


@login_required
def reports_index(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_VIEW, actor=actor)
    page = selectors.reports_index(clinic)
    services.ledger_viewed(actor=actor, what="reports")
    return render(request, "ledger/reports.html", page.context())


DATED_REPORTS = ("administration", "ledger")


@login_required
def report(request: HttpRequest, name: str) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_VIEW, actor=actor)
    today = clinic_today(clinic)
    start = _date_param(request, "start", today - dt.timedelta(days=31))
    end = _date_param(request, "end", today)
    query = f"start={start.isoformat()}&end={end.isoformat()}"
    builders: dict[str, Callable[[], reports.Report]] = {
        "administration": lambda: reports.administration_record(clinic, start, end),
        "ledger": lambda: reports.full_ledger(clinic, start, end),
        "discrepancies": lambda: reports.discrepancy_history(clinic),
    }
    if name == "vial":
        vial = vial_for_user(user, _int_param(request, "vial"), need=Perm.LEDGER_VIEW, actor=actor)
        builders["vial"] = lambda: reports.vial_history(vial)
        query = f"vial={vial.pk}"
    elif name == "inventory":
        inventory = inventory_for_user(
            user, _int_param(request, "inventory"), need=Perm.LEDGER_VIEW, actor=actor
        )
        builders["inventory"] = lambda: reports.inventory_report(inventory)
        query = f"inventory={inventory.pk}"
    if name not in builders:
        raise Http404("No such report.")
    built = builders[name]()
    fmt = request.GET.get("format", "html")
    if fmt == "csv":
        services.report_exported(
            actor=actor, report=name, fmt="csv", rows=len(built.rows), patient_ids=built.patient_ids
        )
        response = HttpResponse(reports.to_csv(built), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="ledger-{name}-{today}.csv"'
        return response
    if fmt == "pdf":
        services.report_exported(
            actor=actor, report=name, fmt="pdf", rows=len(built.rows), patient_ids=built.patient_ids
        )
        response = HttpResponse(reports.to_pdf(built), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="ledger-{name}-{today}.pdf"'
        return response
    if fmt != "html":
        raise Http404("No such format.")
    services.ledger_viewed(
        actor=actor,
        what=f"report {name}",
        object_type="ledger_report",
        object_id=name,
        patient_ids=built.patient_ids,
    )
    return render(
        request,
        "ledger/report.html",
        {
            "report": built,
            "export": {"name": name, "query": query},
            # The period's fields only where the report is of a period (a vial's history and the
            # discrepancies are whole): a filter that filters nothing is not offered.
            "start": start if name in DATED_REPORTS else None,
            "end": end,
        },
    )


def _int_param(request: HttpRequest, name: str) -> int:
    text = request.GET.get(name, "")
    if not text.isdigit():
        raise Http404(f"{name}: give a number")
    return int(text)


@login_required
def reconcile(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_VIEW, actor=actor)
    day = _date_param(request, "day", clinic_today(clinic))
    result = services.reconcile_clinic(clinic, day)
    services.ledger_viewed(
        actor=actor,
        what=f"reconciliation of {day.isoformat()}",
        patient_ids=result.patient_ids,
    )
    return render(request, "ledger/reconcile.html", {"result": result, "day": day})


@login_required
@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    ledger_for_user(user, need=Perm.LEDGER_VIEW, actor=actor)
    result = services.ledger_verify()
    services.ledger_viewed(actor=actor, what=f"chain verification: {result.message}")
    if result.ok:
        messages.success(request, result.message)
    else:
        messages.error(request, f"LEDGER CHAIN BROKEN: {result.message}")
    return redirect("ledger_reports")
