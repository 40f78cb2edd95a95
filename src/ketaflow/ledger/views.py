"""Thin views over the ledger: access check, form, service, template. Every page is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.ledger import reports, selectors, services
from ketaflow.ledger.access import (
    case_for_user,
    count_for_user,
    entry_for_user,
    inventory_for_user,
    ledger_for_user,
    receipt_for_user,
    vial_for_user,
    vials_for_user,
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
from ketaflow.ledger.models import (
    Count,
    DiscrepancyCase,
    Inventory,
    LedgerEntry,
    Product,
    Receipt,
    Vial,
)
from ketaflow.treatment.services import clinic_today
from ketaflow.web.auth import request_user
from ketaflow.web.forms import apply_validation_error

Kind = LedgerEntry.Kind


def _ctx(request: HttpRequest) -> tuple[User, Actor]:
    return request_user(request), Actor.from_request(request)


def _in_stock(user: User) -> list[Vial]:
    return list(vials_for_user(user).filter(status__in=services.IN_STOCK).order_by("pk"))


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
    today = clinic_today(clinic)
    vials = _in_stock(user)
    open_cases = DiscrepancyCase.objects.filter(
        clinic=clinic, status=DiscrepancyCase.Status.OPEN
    ).select_related("vial")
    todays_counts = Count.objects.filter(clinic=clinic, at__date=today).select_related("counted_by")
    losses = (
        LedgerEntry.objects.filter(clinic=clinic, kind=Kind.LOST)
        .select_related("vial")
        .order_by("-seq")[:10]
    )
    draws = services.open_draws(clinic)
    services.ledger_viewed(
        actor=actor,
        what="stock on hand",
        patient_ids=[d.patient_id for d in draws if d.patient_id is not None],
    )
    return render(
        request,
        "ledger/home.html",
        {
            "clinic": clinic,
            "vials": vials,
            "total_mg": sum((v.on_hand_mg for v in vials), services.ZERO),
            "open_cases": open_cases,
            "todays_counts": todays_counts,
            "losses": losses,
            "open_draws": draws,
            "today": today,
            "may": {
                "receive": user.may(Perm.LEDGER_RECEIVE),
                "count": user.may(Perm.LEDGER_COUNT),
                "inventory": user.may(Perm.LEDGER_INVENTORY),
            },
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_new(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_RECEIVE, actor=actor)
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(
                actor=actor,
                clinic=clinic,
                name=form.cleaned_data["name"],
                ndc=form.cleaned_data["ndc"],
                concentration_mg_per_ml=form.cleaned_data["concentration_mg_per_ml"],
                volume_per_vial_ml=form.cleaned_data["volume_per_vial_ml"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Product {product} added.")
            return redirect("ledger_receive")
    services.ledger_viewed(actor=actor, what="new product form")
    return render(request, "ledger/form.html", {"form": form, "title": "New product"})


@login_required
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_RECEIVE, actor=actor)
    products = Product.objects.filter(clinic=clinic)
    form = ReceiveForm(request.POST or None, products=products)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            receipt = services.stock_receive(
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
            )
        except ValidationError as exc:
            if any(e.code == "duplicate_invoice" for e in exc.error_dict.get("invoice_number", [])):
                form.ask_duplicate_confirmation()
            apply_validation_error(form, exc)
        else:
            labels = ", ".join(receipt.vials.order_by("label").values_list("label", flat=True))
            messages.success(
                request,
                f"Received {receipt.vial_count} vials "
                f"(invoice {receipt.invoice_number}): {labels}.",
            )
            return redirect("ledger_home")
    services.ledger_viewed(actor=actor, what="receive stock form")
    return render(
        request,
        "ledger/receive.html",
        {
            "form": form,
            "receipts": Receipt.objects.filter(clinic=clinic).select_related("product")[:20],
            "reversed": set(
                Vial.objects.filter(clinic=clinic, status=Vial.Status.REVERSED).values_list(
                    "receipt_id", flat=True
                )
            ),
            "may_reverse": user.may(Perm.LEDGER_CORRECT),
            "has_products": products.exists(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def receipt_reverse(request: HttpRequest, receipt_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    receipt = receipt_for_user(user, receipt_id, need=Perm.LEDGER_CORRECT, actor=actor)
    form = ReceiptReverseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            corrections = services.receipt_reverse(
                actor=actor,
                receipt=receipt,
                reason=data["reason"],
                witness_username=data["witness_username"],
                witness_password=data["witness_password"],
                request=request,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                f"Receipt of invoice {receipt.invoice_number} reversed: {len(corrections)} "
                f"vials, entries #{corrections[0].seq} to #{corrections[-1].seq}, witnessed by "
                f"{corrections[0].witness_username}.",
            )
            return redirect("ledger_receive")
    services.ledger_viewed(
        actor=actor,
        what=f"reverse receipt {receipt.pk}",
        object_type="ledger_receipt",
        object_id=receipt.pk,
    )
    return render(
        request,
        "ledger/receipt_reverse.html",
        {
            "form": form,
            "receipt": receipt,
            "vials": receipt.vials.order_by("label"),
            "problems": services.receipt_reversal_problems(receipt),
            "witness_note": "The witness is a second, credentialed member of staff who checks "
            "the vials of this receipt now and signs with their own username and password.",
        },
    )


@login_required
def vial_detail(request: HttpRequest, vial_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    vial = vial_for_user(user, vial_id, need=Perm.LEDGER_VIEW, actor=actor)
    report = reports.vial_history(vial)
    entries = list(
        LedgerEntry.objects.filter(vial=vial)
        .select_related("patient", "corrects", "session")
        .order_by("seq")
    )
    services.ledger_viewed(
        actor=actor,
        what=f"vial {vial.label}",
        object_type="ledger_vial",
        object_id=vial.pk,
        patient_ids=report.patient_ids,
    )
    in_stock = vial.status in services.IN_STOCK
    return render(
        request,
        "ledger/vial.html",
        {
            "vial": vial,
            "entries": entries,
            "reconciliation": services.reconcile_vial(vial),
            "open_draws": [d for d in services.open_draws(vial.clinic) if d.vial_id == vial.pk],
            "may": {
                "draw": in_stock and user.may(Perm.LEDGER_DRAW),
                "destroy": in_stock and user.may(Perm.LEDGER_DESTROY),
                "loss": in_stock and user.may(Perm.LEDGER_REPORT_LOSS),
            },
        },
    )


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
    form = DrawForm(request.POST or None, patients=patients, sessions=session_qs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.draw_record(
                actor=actor,
                vial=vial,
                volume_ml=data["volume_ml"],
                patient=data["patient"],
                session=data["session"],
                note=data["note"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request, f"Drew {entry.quantity_mg} mg from vial {vial.label} (entry #{entry.seq})."
            )
            return redirect("ledger_vial", vial_id=vial.pk)
    services.ledger_viewed(
        actor=actor,
        what=f"draw form, vial {vial.label}",
        patient_ids=[p.pk for p in patients] + [s.patient_id for s in sessions],
    )
    return render(
        request,
        "ledger/form.html",
        {"form": form, "title": f"Draw from vial {vial.label}", "vial": vial},
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
    draws = [d for d in services.open_draws(vial.clinic) if d.vial_id == vial.pk]
    choices = [
        (
            d.pk,
            f"#{d.seq} {d.patient.display_name if d.patient else ''}: "
            f"{services.draw_remaining_mg(d)} mg not yet accounted for",
        )
        for d in draws
    ]
    initial = {"draw": request.GET.get("draw", "")}
    form = WasteForm(request.POST or None, draws=choices, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = next((d for d in draws if d.pk == data["draw"]), None)
        try:
            entry = services.waste_record(
                actor=actor,
                vial=vial,
                amount_mg=data["amount_mg"],
                reason=data["reason"],
                witness_username=data["witness_username"],
                witness_password=data["witness_password"],
                draw=chosen,
                request=request,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                f"Wasted {entry.quantity_mg} mg, witnessed by {entry.witness_username} "
                f"(entry #{entry.seq}).",
            )
            return redirect("ledger_vial", vial_id=vial.pk)
    services.ledger_viewed(
        actor=actor,
        what=f"waste form, vial {vial.label}",
        patient_ids=[d.patient_id for d in draws if d.patient_id is not None],
    )
    return render(
        request,
        "ledger/form.html",
        {
            "form": form,
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
    form = DestroyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.destruction_record(
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
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Destroyed {entry.quantity_mg} mg (entry #{entry.seq}).")
            return redirect("ledger_entry", entry_id=entry.pk)
    services.ledger_viewed(actor=actor, what=f"destruction form, vial {vial.label}")
    return render(
        request,
        "ledger/form.html",
        {
            "form": form,
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
    form = LossForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.loss_record(
                actor=actor,
                vial=vial,
                loss_kind=data["loss_kind"],
                discovered_at=data["discovered_at"],
                circumstances=data["circumstances"],
                amount_mg=data["amount_mg"],
                police_report=data["police_report"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.error(
                request,
                "Notify the DEA Field Division in writing by "
                f"{entry.form_data['notify_field_division_by']} (21 CFR 1301.76(b)).",
            )
            return redirect("ledger_entry", entry_id=entry.pk)
    services.ledger_viewed(actor=actor, what=f"loss report form, vial {vial.label}")
    return render(
        request,
        "ledger/form.html",
        {
            "form": form,
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
    deadline = None
    if entry.kind == Kind.LOST and entry.form_data.get("notify_field_division_by"):
        deadline = dt.datetime.fromisoformat(entry.form_data["notify_field_division_by"])
    session_check = None
    open_draw = (
        entry.kind == Kind.DRAWN
        and not entry.corrections.exists()
        and not entry.dispositions.filter(kind=Kind.ADMINISTERED).exists()
    )
    if entry.kind == Kind.DRAWN and entry.session is not None:
        session_check = {
            "infusion_mg": services.session_given_mg(entry.session),
            "remaining_mg": services.draw_remaining_mg(entry),
            "ended": entry.session.ended_at is not None,
        }
    services.ledger_viewed(
        actor=actor,
        what=f"entry #{entry.seq}",
        object_type="ledger_entry",
        object_id=entry.pk,
        patient_ids=[entry.patient_id] if entry.patient_id else [],
    )
    return render(
        request,
        "ledger/entry.html",
        {
            "entry": entry,
            "deadline": deadline,
            "overdue": deadline is not None and deadline < timezone.now(),
            "session_check": session_check,
            "corrections": entry.corrections.all(),
            "may_correct": user.may(Perm.LEDGER_CORRECT) and not entry.corrections.exists(),
            "may_administer": user.may(Perm.LEDGER_DRAW) and open_draw,
            "remaining_mg": services.draw_remaining_mg(entry) if entry.kind == Kind.DRAWN else None,
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
    vials = _in_stock(user)
    second = services.ledger_settings_for(clinic.pk).second_counter_required
    form = CountForm(request.POST or None, vials=vials, second_counter=second)
    if request.method == "POST" and form.is_valid():
        lines = [
            services.CountInput(
                vial_id=line["vial_id"],
                present=line["present"],
                measured_volume_ml=line["measured_volume_ml"],
            )
            for line in _stock_lines(form)
        ]
        try:
            count = services.count_record(
                actor=actor,
                clinic=clinic,
                shift=form.cleaned_data["shift"],
                lines=lines,
                note=form.cleaned_data["note"],
                second_counter_username=form.cleaned_data.get("second_counter_username", ""),
                second_counter_password=form.cleaned_data.get("second_counter_password", ""),
                request=request,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            cases = DiscrepancyCase.objects.filter(count_line__count=count).count()
            if cases:
                messages.error(
                    request, f"Count saved: {cases} discrepancy case(s) opened for the director."
                )
            else:
                messages.success(request, "Count saved: every vial matches the ledger.")
            return redirect("ledger_count", count_id=count.pk)
    services.ledger_viewed(actor=actor, what="count form")
    return render(
        request,
        "ledger/count_form.html",
        {"form": form, "title": "Count the stock", "second_counter": second},
    )


@login_required
def count_detail(request: HttpRequest, count_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    count = count_for_user(user, count_id, need=Perm.LEDGER_VIEW, actor=actor)
    services.ledger_viewed(
        actor=actor, what=f"count {count.pk}", object_type="ledger_count", object_id=count.pk
    )
    lines = count.lines.select_related("vial", "vial__product")
    cases = {c.count_line_id: c for c in DiscrepancyCase.objects.filter(count_line__count=count)}
    return render(
        request,
        "ledger/count.html",
        {"count": count, "rows": [(line, cases.get(line.pk)) for line in lines]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    need = Perm.LEDGER_RESOLVE if request.method == "POST" else Perm.LEDGER_VIEW
    case = case_for_user(user, case_id, need=need, actor=actor)
    form = ResolveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.case_resolve(
                actor=actor,
                case=case,
                outcome=form.cleaned_data["outcome"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Discrepancy {case.pk} resolved.")
            return redirect("ledger_case", case_id=case.pk)
    services.ledger_viewed(
        actor=actor, what=f"discrepancy {case.pk}", object_type="ledger_case", object_id=case.pk
    )
    return render(
        request,
        "ledger/case.html",
        {
            "case": case,
            "form": form,
            "may_resolve": user.may(Perm.LEDGER_RESOLVE)
            and case.status == DiscrepancyCase.Status.OPEN,
            "adjustments": case.entries.all(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def inventory_new(request: HttpRequest) -> HttpResponse:
    user, actor = _ctx(request)
    clinic = ledger_for_user(user, need=Perm.LEDGER_INVENTORY, actor=actor)
    vials = _in_stock(user)
    form = InventoryForm(request.POST or None, vials=vials)
    if request.method == "POST" and form.is_valid():
        lines = [
            services.InventoryInput(
                vial_id=line["vial_id"],
                present=line["present"],
                measured_volume_ml=line["measured_volume_ml"],
                estimated=line["estimated"],
            )
            for line in _stock_lines(form)
        ]
        try:
            inventory = services.inventory_take(
                actor=actor,
                clinic=clinic,
                kind=form.cleaned_data["kind"],
                timing=form.cleaned_data["timing"],
                lines=lines,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"{inventory.get_kind_display()} recorded and frozen.")
            return redirect("ledger_inventory", inventory_id=inventory.pk)
    services.ledger_viewed(actor=actor, what="inventory form")
    return render(request, "ledger/count_form.html", {"form": form, "title": "Take an inventory"})


@login_required
def inventory_detail(request: HttpRequest, inventory_id: int) -> HttpResponse:
    user, actor = _ctx(request)
    inventory = inventory_for_user(user, inventory_id, need=Perm.LEDGER_VIEW, actor=actor)
    services.ledger_viewed(
        actor=actor,
        what=f"inventory {inventory.pk}",
        object_type="ledger_inventory",
        object_id=inventory.pk,
    )
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
    today = clinic_today(clinic)
    services.ledger_viewed(actor=actor, what="reports")
    return render(
        request,
        "ledger/reports.html",
        {
            "start": today - dt.timedelta(days=31),
            "end": today,
            "inventories": Inventory.objects.filter(clinic=clinic).select_related("taken_by"),
            "biennial_due": services.biennial_due(clinic),
            "counts": Count.objects.filter(clinic=clinic).select_related("counted_by")[:30],
        },
    )


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
        {"report": built, "export": {"name": name, "query": query}, "start": start, "end": end},
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
