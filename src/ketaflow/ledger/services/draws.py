"""Draws: ketamine drawn from a vial for a patient (and their infusion session); what of a
draw is not yet given or wasted; a session's draw reversed at the chair."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch, Q

from ketaflow.accounts.clinictime import clinic_day
from ketaflow.accounts.models import Clinic
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger.models import (
    LedgerEntry,
    Vial,
)
from ketaflow.ledger.services.append import append_entry
from ketaflow.ledger.services.base import (
    ZERO,
    Kind,
    Status,
    entry_time,
    live_among,
    live_entries,
    lock_vial,
    mg_text,
    person,
    quantise_mg,
    refuse,
    same_clinic,
)
from ketaflow.ledger.services.corrections import reverse_entry
from ketaflow.patients.models import Patient
from ketaflow.prepared import Prepared


def draw_remaining_mg(draw: LedgerEntry) -> Decimal:
    """What of a draw is not yet recorded as given or wasted."""
    # The corrections of every disposition in one query (live_entries asks each one).
    disposed = draw.dispositions.exclude(kind=Kind.CORRECTION).prefetch_related("corrections")
    return remaining_after(draw, live_entries(disposed))


def remaining_after(draw: LedgerEntry, live_dispositions: list[LedgerEntry]) -> Decimal:
    """What of a draw is left after its standing dispositions (corrections are not given or
    wasted): for a caller that has read them already."""
    used = sum((e.quantity_mg for e in live_dispositions if e.kind != Kind.CORRECTION), ZERO)
    return draw.quantity_mg - used


def draw_record(
    *,
    actor: Actor,
    vial: Vial,
    volume_ml: Decimal,
    patient: Patient,
    session: InfusionSession | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Draw ``volume_ml`` from ``vial`` for ``patient`` (and their infusion ``session``)."""
    user = person(actor, Perm.LEDGER_DRAW)
    same_clinic(user, vial.clinic_id, "The vial")
    same_clinic(user, patient.clinic_id, "The patient")
    if not volume_ml.is_finite() or volume_ml <= 0:
        raise refuse("volume_ml", "give the drawn volume in mL")
    if not patient.active:
        raise refuse(
            "patient", f"{patient.mrn} is an inactive record: ketamine is not drawn for it"
        )
    if signed_candidacy_for(patient) is None:
        raise refuse("patient", "no signed candidacy decision: ketamine is not drawn for them")
    if current_consent_for(patient) is None:
        raise refuse("patient", "no current informed consent: ketamine is not drawn for them")
    if session is not None:
        if session.patient_id != patient.pk:
            raise refuse("session", "the infusion session is another patient's")
        if session.vial_lot and session.vial_lot != vial.lot:
            raise refuse(
                "vial",
                f"the infusion record names lot {session.vial_lot}; vial {vial.label} is lot "
                f"{vial.lot}",
            )
        if session.drawn_volume_ml is not None and session.drawn_volume_ml != volume_ml:
            raise refuse(
                "volume_ml",
                f"the infusion record says {session.drawn_volume_ml} mL was drawn",
            )
        earlier = live_entries(LedgerEntry.objects.filter(session=session, kind=Kind.DRAWN))
        if earlier:
            raise refuse("session", f"a draw is already recorded for session {session.pk}")
    with transaction.atomic():
        locked = lock_vial(vial)
        if locked.status not in (Status.SEALED, Status.OPEN):
            raise refuse("vial", f"vial {locked.label} is {locked.get_status_display().lower()}")
        day = clinic_day(locked.clinic, entry_time(at))
        if locked.expires_on < day:
            raise refuse("vial", f"vial {locked.label} expired on {locked.expires_on}")
        amount = quantise_mg(volume_ml * locked.product.concentration_mg_per_ml)
        entry = append_entry(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.DRAWN,
            quantity_mg=amount,
            amount_mg=-amount,
            pending_change_mg=amount,
            volume_ml=volume_ml,
            patient=patient,
            session=session,
            note=note,
            at=at,
            summary=f"drew {volume_ml} mL ({mg_text(amount)} mg) from vial {locked.label}",
        )
    return entry


def live_session_draw(session: InfusionSession) -> LedgerEntry | None:
    """The session's draw from stock that stands (not reversed by a correction), if any."""
    draws = LedgerEntry.objects.filter(session=session, kind=Kind.DRAWN).select_related(
        "vial", "vial__product"
    )
    live = live_entries(draws.prefetch_related("corrections").order_by("-seq"))
    return live[0] if live else None


@dataclass(frozen=True)
class SessionLedger:
    """A session's standing draw (None: none stands) and its standing dispositions (given,
    wasted; oldest first), from one read of the session's ledger entries."""

    draw: LedgerEntry | None
    dispositions: list[LedgerEntry]


# A session's ledger entries with their vial (every infusion page), in a statement compiled once
# per process (ketaflow.prepared, issue 16).
_SESSION_ENTRIES = Prepared(
    lambda session_id: (
        LedgerEntry.objects.filter(session_id=session_id)
        .select_related("vial", "vial__product")
        .order_by("seq")
    )
)


def session_ledger(session: InfusionSession) -> SessionLedger:
    """The session's standing draw and dispositions in one query: every entry of a session's
    draw names the session (the draw, its administration and waste copy it, and a correction
    copies the session of the entry it reverses; ledger entries are append-only), so the
    session's entries hold every correction of them. The same draw as :func:`live_session_draw`
    (the latest standing one) and the same dispositions as ``draw.dispositions`` less the
    corrected ones."""
    entries = _SESSION_ENTRIES.all(session_id=session.pk)
    live = live_among(entries)
    draws = [e for e in live if e.kind == Kind.DRAWN]
    if not draws:
        return SessionLedger(None, [])
    draw = draws[-1]
    return SessionLedger(draw, [e for e in live if e.draw_id == draw.pk])


def session_draw_reverse(*, actor: Actor, draw: LedgerEntry, reason: str) -> LedgerEntry:
    """Reverse a session's draw at the chair, when the nurse picked another vial: allowed to the
    person who may draw (not only the medical director) while nothing of the draw is recorded as
    given or wasted; a new entry names the draw and says why, nothing is edited."""
    user = person(actor, Perm.LEDGER_DRAW)
    same_clinic(user, draw.clinic_id, "The draw")
    if draw.kind != Kind.DRAWN or draw.session_id is None:
        raise refuse("vial", "only an infusion session's draw is corrected at the chair")
    if draw.corrections.exists():
        raise refuse("vial", f"draw #{draw.seq} is already corrected")
    if live_entries(draw.dispositions.all()):
        raise refuse(
            "vial",
            f"the administration or waste of draw #{draw.seq} is recorded; the medical "
            "director corrects those in the ledger first",
        )
    if not reason.strip():
        raise refuse("reason", "say why the vial is corrected")
    return reverse_entry(actor=actor, user=user, entry=draw, reason=reason, at=None)


def open_draws(clinic: Clinic) -> list[LedgerEntry]:
    """Draws with an amount not yet recorded as given or wasted."""
    # Each draw's corrections and its dispositions with theirs read for every draw at once
    # (four queries however many draws; draw_remaining_mg would ask three per draw).
    disposed = LedgerEntry.objects.exclude(kind=Kind.CORRECTION).prefetch_related("corrections")
    draws = (
        LedgerEntry.objects.filter(clinic=clinic, kind=Kind.DRAWN)
        .filter(Q(vial__drawn_pending_mg__gt=0))
        .select_related("vial", "patient", "session")
        .prefetch_related("corrections", Prefetch("dispositions", queryset=disposed))
        .order_by("-seq")
    )
    return [
        d
        for d in draws
        if not d.corrections.exists() and remaining_after(d, live_entries(d.dispositions.all())) > 0
    ]
