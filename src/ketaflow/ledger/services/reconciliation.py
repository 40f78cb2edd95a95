"""Reconciliation: where every milligram of a vial, a session, a draw and the stock went."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketaflow.accounts.models import Clinic
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger.models import (
    LedgerEntry,
    Vial,
)
from ketaflow.ledger.services.administration import session_given_mg, syringe_tolerance_mg
from ketaflow.ledger.services.base import (
    ZERO,
    Kind,
    live_entries,
    mg_text,
)
from ketaflow.ledger.services.draws import draw_remaining_mg


@dataclass
class VialReconciliation:
    """Per vial: received (+ count adjustments) = given + wasted + destroyed + lost + on hand,
    each category from the entries' quantities (a correction counts against the kind it
    corrects), on hand from the running balance of the last entry."""

    vial: Vial
    received_mg: Decimal = ZERO
    adjusted_mg: Decimal = ZERO  # signed
    drawn_mg: Decimal = ZERO
    given_mg: Decimal = ZERO
    wasted_mg: Decimal = ZERO
    destroyed_mg: Decimal = ZERO
    lost_mg: Decimal = ZERO
    in_vial_mg: Decimal = ZERO
    pending_mg: Decimal = ZERO
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def on_hand_mg(self) -> Decimal:
        return self.in_vial_mg + self.pending_mg

    @property
    def accounted_mg(self) -> Decimal:
        return self.given_mg + self.wasted_mg + self.destroyed_mg + self.lost_mg + self.on_hand_mg

    @property
    def balanced(self) -> bool:
        return not self.problems


_CATEGORY = {
    Kind.RECEIVED: "received_mg",
    Kind.DRAWN: "drawn_mg",
    Kind.ADMINISTERED: "given_mg",
    Kind.WASTED: "wasted_mg",
    Kind.DESTROYED: "destroyed_mg",
    Kind.LOST: "lost_mg",
}


def reconcile_vial(vial: Vial, *, until: dt.datetime | None = None) -> VialReconciliation:
    result = VialReconciliation(vial=vial)
    entries = LedgerEntry.objects.filter(vial=vial).select_related("corrects").order_by("seq")
    if until is not None:
        entries = entries.filter(at__lte=until)
    in_vial = ZERO
    pending = ZERO
    for entry in entries:
        result.entries += 1
        in_vial += entry.amount_mg
        pending += entry.pending_change_mg
        if entry.balance_after_mg != in_vial or entry.pending_after_mg != pending:
            result.problems.append(
                f"entry #{entry.seq}: running balance {mg_text(entry.balance_after_mg)} mg "
                f"does not follow from the amounts ({mg_text(in_vial)} mg)"
            )
        if entry.kind == Kind.ADJUSTED:
            result.adjusted_mg += entry.amount_mg
            continue
        sign = Decimal(1)
        kind = entry.kind
        if entry.kind == Kind.CORRECTION and entry.corrects is not None:
            sign, kind = Decimal(-1), entry.corrects.kind
        attribute = _CATEGORY.get(Kind(kind))
        if attribute is not None:
            setattr(result, attribute, getattr(result, attribute) + sign * entry.quantity_mg)
    result.in_vial_mg, result.pending_mg = in_vial, pending
    if result.received_mg + result.adjusted_mg != result.accounted_mg:
        result.problems.append(
            f"vial {vial.label}: received {mg_text(result.received_mg)} mg "
            f"(adjusted {mg_text(result.adjusted_mg)} mg) but "
            f"{mg_text(result.accounted_mg)} mg accounted for"
        )
    if until is None and (vial.in_vial_mg, vial.drawn_pending_mg) != (in_vial, pending):
        result.problems.append(
            f"vial {vial.label}: the stored balance {mg_text(vial.in_vial_mg)} mg differs "
            f"from the ledger's {mg_text(in_vial)} mg"
        )
    return result


@dataclass
class SessionCheck:
    """One infusion session in which ketamine was given (or that has a draw): its draws from
    stock, what the ledger records as given and wasted, what its infusion record says was
    delivered, and what does not reconcile."""

    session: InfusionSession
    draws: list[LedgerEntry]
    drawn_mg: Decimal
    recorded_given_mg: Decimal
    wasted_mg: Decimal
    infusion_given_mg: Decimal | None
    remaining_mg: Decimal
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def draw(self) -> LedgerEntry | None:
        return self.draws[0] if self.draws else None


@dataclass
class DrawCheck:
    """A draw for a patient that names no infusion session."""

    draw: LedgerEntry
    given_mg: Decimal
    remaining_mg: Decimal
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _disposed_mg(draw: LedgerEntry, kind: str) -> Decimal:
    return sum((e.quantity_mg for e in live_entries(draw.dispositions.filter(kind=kind))), ZERO)


def _session_check(
    session: InfusionSession, draws: list[LedgerEntry], until: dt.datetime
) -> SessionCheck:
    given = sum((_disposed_mg(d, Kind.ADMINISTERED) for d in draws), ZERO)
    drawn = sum((d.quantity_mg for d in draws), ZERO)
    check = SessionCheck(
        session=session,
        draws=draws,
        drawn_mg=drawn,
        recorded_given_mg=given,
        wasted_mg=sum((_disposed_mg(d, Kind.WASTED) for d in draws), ZERO),
        infusion_given_mg=session_given_mg(session),
        remaining_mg=sum((draw_remaining_mg(d) for d in draws), ZERO),
    )
    infusion = check.infusion_given_mg
    name = f"session {session.pk}"
    if not draws:
        check.problems.append(
            f"{name}: {infusion} mg given per the infusion record, but no draw from the "
            "ledger's stock names the session"
        )
        return check
    tolerance = sum((syringe_tolerance_mg(d.vial) for d in draws), ZERO)
    if infusion is not None and infusion > drawn + tolerance:
        check.problems.append(
            f"{name}: given more than drawn: the infusion record says {infusion} mg delivered, "
            f"{mg_text(drawn)} mg was drawn"
        )
    finished = session.ended_at is not None and session.ended_at <= until
    within_syringe = (
        infusion is not None and given == drawn and given < infusion <= given + tolerance
    )
    if finished and within_syringe:
        check.notes.append(
            f"{name}: the infusion record says {infusion} mg, "
            f"{mg_text(given)} mg was drawn and given (within the syringe resolution)"
        )
    elif finished and infusion != given:
        check.problems.append(
            f"{name}: the ledger records {mg_text(given)} mg given, the "
            f"infusion record {infusion} mg delivered"
        )
    if finished and check.remaining_mg != 0:
        seqs = ", ".join(f"#{d.seq}" for d in draws)
        check.problems.append(
            f"{name}: {mg_text(check.remaining_mg)} mg of draw {seqs} "
            "is not accounted for (given or wasted)"
        )
    return check


def session_checks(clinic: Clinic, *, until: dt.datetime | None = None) -> list[SessionCheck]:
    """Every session of the clinic in which ketamine was given (its infusion started and its
    record says more than 0 mg delivered), and every session with a draw from stock, by
    ``until``: a session without a draw, given more than drawn, what the ledger records as
    given against what the infusion record says was delivered, and every finished session's
    draw fully accounted for (given + wasted)."""
    until = until or timezone.now()
    draws = LedgerEntry.objects.filter(
        clinic=clinic, kind=Kind.DRAWN, session__isnull=False, at__lte=until
    ).select_related("vial", "vial__product")
    by_session: dict[int, list[LedgerEntry]] = {}
    for d in live_entries(draws.order_by("seq")):
        if d.session_id is not None:
            by_session.setdefault(d.session_id, []).append(d)
    given = InfusionSession.objects.filter(
        patient__clinic=clinic,
        started_at__isnull=False,
        started_at__lte=until,
        delivered_dose_mg__gt=0,
    ).values_list("pk", flat=True)
    sessions = InfusionSession.objects.filter(pk__in={*given, *by_session}).select_related(
        "patient"
    )
    return [
        _session_check(s, by_session.get(s.pk, []), until)
        for s in sessions.order_by("started_at", "pk")
    ]


def draws_without_session(clinic: Clinic, *, until: dt.datetime | None = None) -> list[DrawCheck]:
    """Every draw (not reversed) that names no infusion session. One given per a paper infusion
    record (the ledger's way for an infusion charted outside KetaFlow) and fully accounted for
    is noted; any other is a problem."""
    until = until or timezone.now()
    draws = LedgerEntry.objects.filter(
        clinic=clinic, kind=Kind.DRAWN, session__isnull=True, at__lte=until
    ).select_related("vial", "patient")
    checks: list[DrawCheck] = []
    for d in live_entries(draws.order_by("seq")):
        check = DrawCheck(
            draw=d, given_mg=_disposed_mg(d, Kind.ADMINISTERED), remaining_mg=draw_remaining_mg(d)
        )
        name = f"draw #{d.seq} ({mg_text(d.quantity_mg)} mg from vial {d.vial.label})"
        if check.given_mg == 0:
            check.problems.append(
                f"{name}: a draw without a session: no infusion session names it and no "
                "paper infusion record is recorded for it"
            )
        else:
            check.notes.append(f"{name}: given per the paper infusion record, no session")
        if check.remaining_mg != 0:
            check.problems.append(
                f"{name}: {mg_text(check.remaining_mg)} mg is not accounted for (given or wasted)"
            )
        checks.append(check)
    return checks


@dataclass
class ClinicReconciliation:
    clinic: Clinic
    day: dt.date
    until: dt.datetime
    vials: list[VialReconciliation]
    sessions: list[SessionCheck]
    unlinked_draws: list[DrawCheck] = field(default_factory=list)

    def total(self, attribute: str) -> Decimal:
        return sum((getattr(v, attribute) for v in self.vials), ZERO)

    @property
    def problems(self) -> list[str]:
        return (
            [p for v in self.vials for p in v.problems]
            + [p for s in self.sessions for p in s.problems]
            + [p for d in self.unlinked_draws for p in d.problems]
        )

    @property
    def balanced(self) -> bool:
        return not self.problems

    @property
    def patient_ids(self) -> list[int]:
        """Every patient the reconciliation shows (for the audit entry of a page showing it)."""
        ids = [s.session.patient_id for s in self.sessions]
        ids += [d.draw.patient_id for d in self.unlinked_draws if d.draw.patient_id is not None]
        return list(dict.fromkeys(ids))


def reconcile_clinic(clinic: Clinic, day: dt.date) -> ClinicReconciliation:
    """Where every milligram of the clinic's stock was at the end of ``day`` (clinic time)."""
    tz = ZoneInfo(clinic.time_zone)
    until = dt.datetime.combine(day, dt.time.max).replace(tzinfo=tz)
    vials = Vial.objects.filter(clinic=clinic, receipt__received_at__lte=until).select_related(
        "product"
    )
    today_open = until >= timezone.now()
    return ClinicReconciliation(
        clinic=clinic,
        day=day,
        until=until,
        vials=[reconcile_vial(v, until=None if today_open else until) for v in vials],
        sessions=session_checks(clinic, until=until),
        unlinked_draws=draws_without_session(clinic, until=until),
    )
