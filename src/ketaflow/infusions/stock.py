"""The vial at the chair comes from the clinic's ledger stock (issue 11, item 8).

The nurse picks a vial the clinic holds: its lot, strength and expiry come from the vial record,
never typed. Picking it writes the draw to the controlled-substance ledger at that moment, tied
to the session, in the same transaction as the session's change (both audited). Picking another
vial (before the start, or after it with a reason) reverses the standing draw with a correcting
ledger entry and draws from the new vial; nothing is edited. After the infusion the amount given
is recorded from the infusion record and the remainder wasted with a witness who signs with
their own password (``ketaflow.ledger.services.witness_verify``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpRequest

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.clinical.dosing import SYRINGE_RESOLUTION_ML
from ketaflow.infusions import services
from ketaflow.infusions.models import InfusionSession
from ketaflow.infusions.services.base import (
    _audit,
    _bump,
    _check_version,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
)
from ketaflow.infusions.services.checklist import _to_checklist
from ketaflow.ledger import services as ledger
from ketaflow.ledger.models import LedgerEntry, Vial
from ketaflow.prepared import Prepared
from ketaflow.treatment.services import clinic_today

Status = InfusionSession.Status
Kind = LedgerEntry.Kind

# A vial the nurse may draw from: in stock, not yet opened or open.
DRAWABLE = (Vial.Status.SEALED, Vial.Status.OPEN)
# After the start the vial may still be corrected until the patient has left.
CORRECTABLE = services.INFUSING | services.AFTER_STOP
DEFAULT_WASTE_REASON = "remainder in the syringe, bag and line after the infusion"


def stock_on_hand(clinic: Clinic, *, on: dt.date) -> list[Vial]:
    """The clinic's vials that may be drawn from on ``on`` (clinic day): sealed or open, with
    something left, not expired. Only this clinic's."""
    return _STOCK.all(clinic_id=clinic.pk, on=on)


# The clinic's drawable vials (the infusion page's vial form), in a statement compiled once per
# process (ketaflow.prepared, issue 16).
_STOCK = Prepared(
    lambda clinic_id, on: (
        Vial.objects.filter(
            clinic_id=clinic_id, status__in=DRAWABLE, in_vial_mg__gt=0, expires_on__gte=on
        )
        .select_related("product")
        .order_by("expires_on", "label")
    )
)


@dataclass(frozen=True)
class SessionVial:
    """What the session page shows of the vial: the standing draw, what of it the ledger
    records as given or wasted, what is left, and whether the remainder is still to be
    wasted (the infusion has ended)."""

    draw: LedgerEntry | None
    dispositions: list[LedgerEntry]
    remaining_mg: Decimal | None
    waste_due: bool


def session_vial(session: InfusionSession) -> SessionVial:
    """The card, from one read of the session's ledger entries with their vial."""
    found = ledger.session_ledger(session)
    draw, dispositions = found.draw, found.dispositions
    if draw is None:
        return SessionVial(None, [], None, False)
    remaining = ledger.remaining_after(draw, dispositions)
    administered = any(d.kind == Kind.ADMINISTERED for d in dispositions)
    due = session.ended_at is not None and (not administered or remaining > 0)
    return SessionVial(draw, dispositions, remaining, due)


def vial_choice_label(vial: Vial) -> str:
    volume = vial.in_vial_mg / vial.product.concentration_mg_per_ml
    return (
        f"{vial.label}: lot {vial.lot}, {vial.product.strength}, expires "
        f"{vial.expires_on.isoformat()}, {volume.normalize():f} mL left"
    )


def _drawable_vial(session: InfusionSession, vial_id: int | None, today: dt.date) -> Vial:
    """The vial, refused naming the field ``vial`` unless it is this clinic's stock."""
    if vial_id is None:
        raise _refuse("vial", "pick the vial from the clinic's stock")
    vial = (
        Vial.objects.select_related("product")
        .filter(pk=vial_id, clinic_id=session.patient.clinic_id)
        .first()
    )
    if vial is None:
        raise _refuse("vial", f"vial {vial_id} is not in this clinic's stock")
    if vial.status not in DRAWABLE:
        raise _refuse(
            "vial", f"vial {vial.label} is {vial.get_status_display().lower()}; pick one in stock"
        )
    if vial.in_vial_mg <= 0:
        raise _refuse("vial", f"vial {vial.label} is empty")
    if vial.expires_on < today:
        raise _refuse(
            "vial", f"vial {vial.label} (lot {vial.lot}) expired on {vial.expires_on.isoformat()}"
        )
    return vial


def _check_strength(session: InfusionSession, vial: Vial) -> None:
    """The dose plan must be computed for the picked vial's concentration; never changed
    silently: before the start the nurse recomputes the dose (the message says what the drug
    volume would be), after it a vial of another strength cannot replace the running one."""
    strength = vial.product.concentration_mg_per_ml
    planned = session.vial_concentration_mg_per_ml
    if planned is not None and Decimal(planned) == strength:
        return
    planned_text = f"{Decimal(planned).normalize():f} mg/mL" if planned is not None else "none"
    if session.status in services.BEFORE_START:
        volume = Decimal(repr(session.dose_mg or 0)) / strength
        raise _refuse(
            "vial",
            f"vial {vial.label} is {vial.product.strength}; the dose was computed for "
            f"{planned_text}: recompute the dose at {vial.product.strength} (the drug volume "
            f"would be {volume.quantize(Decimal('0.01'))} mL)",
        )
    raise _refuse(
        "vial",
        f"vial {vial.label} is {vial.product.strength}; the infusion runs on a plan for "
        f"{planned_text}, so only a vial of that strength can replace the vial",
    )


def vial_pick(
    *,
    actor: Actor,
    session: InfusionSession,
    expected_version: int | None,
    vial_id: int | None,
    drawn_volume_ml: Decimal,
    reason: str = "",
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Pick the vial from stock and draw ``drawn_volume_ml`` from it for the session: the
    session's lot, expiry and drawn volume come from the vial record, the draw is written to the
    ledger now, tied to the session. Picking again reverses the standing draw first (a
    correcting entry); after the start that needs a reason."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    with transaction.atomic():
        session = _locked_row(session)
        _require_unlocked(session)
        _check_version(session, expected_version)
        started = session.status not in services.BEFORE_START
        if started and session.status not in CORRECTABLE:
            raise _refuse(
                NON_FIELD_ERRORS,
                f"vial: the session is {session.get_status_display().lower()}; "
                "the vial can no longer change",
            )
        if session.drug_volume_ml_exact is None:
            raise _refuse(NON_FIELD_ERRORS, "vial: compute the dose first")
        today = clinic_today(session.patient.clinic)
        vial = _drawable_vial(session, vial_id, today)
        _check_strength(session, vial)
        difference = abs(Fraction(drawn_volume_ml) - Fraction(session.drug_volume_ml_exact))
        if not drawn_volume_ml.is_finite() or difference > Fraction(SYRINGE_RESOLUTION_ML):
            raise _refuse(
                "drawn_volume_ml",
                f"{drawn_volume_ml} mL differs from the computed drug volume "
                f"{session.drug_volume_ml} mL by more than the syringe resolution 0.01 mL; "
                "redraw, or recompute the dose",
            )
        previous = ledger.live_session_draw(session)
        if started and previous is None:
            raise _refuse(
                "vial", "the infusion started without a draw from stock; ask the director"
            )
        if started and not reason.strip():
            raise _refuse("reason", "say why the vial is corrected after the infusion started")
        if previous is not None:
            ledger.session_draw_reverse(
                actor=actor,
                draw=previous,
                reason=reason.strip() or f"vial {vial.label} picked instead before the start",
            )
        session.vial_lot = vial.lot
        session.vial_expires_on = vial.expires_on
        session.drawn_volume_ml = drawn_volume_ml
        session.vial_recorded_by = user
        entry = ledger.draw_record(
            actor=actor,
            vial=vial,
            volume_ml=drawn_volume_ml,
            patient=session.patient,
            session=session,
            note=f"infusion session {session.pk}",
            at=at,
        )
        if not started:
            _to_checklist(session)
        _bump(session, user)
        session.full_clean()
        session.save()
        corrected = (
            f"; corrects draw #{previous.seq} from vial {previous.vial.label}"
            if previous is not None
            else ""
        )
        _audit(
            actor,
            Action.UPDATE,
            session,
            f"vial {vial.label} from stock (lot {vial.lot}, {vial.product.strength}, expires "
            f"{vial.expires_on.isoformat()}): drew {drawn_volume_ml} mL = {entry.quantity_mg} "
            f"mg, ledger #{entry.seq}{corrected}",
            detail={
                "vial": vial.label,
                "lot": vial.lot,
                "expires_on": vial.expires_on.isoformat(),
                "ledger_seq": entry.seq,
                "corrects_seq": previous.seq if previous is not None else None,
                "reason": reason.strip(),
            },
        )
    return entry


def remainder_waste(
    *,
    actor: Actor,
    session: InfusionSession,
    witness_username: str,
    witness_password: str,
    reason: str = DEFAULT_WASTE_REASON,
    request: HttpRequest | None = None,
) -> list[LedgerEntry]:
    """After the infusion: record what the patient was given (from the infusion record) and
    waste the remainder of the session's draw, witnessed by a second person who signs with their
    own username and password. Returns the ledger entries written."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    if not user.may(Perm.LEDGER_DRAW):
        raise _refuse(NON_FIELD_ERRORS, "your role may not record ledger waste")
    if session.ended_at is None:
        raise _refuse(NON_FIELD_ERRORS, "waste: the infusion has not ended")
    draw = ledger.live_session_draw(session)
    if draw is None:
        raise _refuse("vial", "no vial was drawn from stock for this session")
    if not reason.strip():
        raise _refuse("reason", "say why the remainder is wasted")
    given_recorded = bool(ledger.live_entries(draw.dispositions.filter(kind=Kind.ADMINISTERED)))
    if given_recorded and ledger.draw_remaining_mg(draw) == 0:
        raise _refuse(NON_FIELD_ERRORS, f"draw #{draw.seq} is already accounted for")
    # Checked before the transaction, so that a failed witness log-in stays in the audit trail.
    witness = ledger.witness_verify(
        user=user,
        username=witness_username,
        password=witness_password,
        on=clinic_today(session.patient.clinic),
        request=request,
    )
    return _waste_remainder(actor=actor, session=session, draw=draw, witness=witness, reason=reason)


def _entry_text(entry: LedgerEntry) -> str:
    return f"#{entry.seq} {entry.get_kind_display().lower()} {entry.quantity_mg} mg"


def _waste_remainder(
    *,
    actor: Actor,
    session: InfusionSession,
    draw: LedgerEntry,
    witness: User,
    reason: str,
    at: dt.datetime | None = None,
) -> list[LedgerEntry]:
    """The entries, for a witness already authenticated (the form above; the demo loader)."""
    user = actor.person()
    entries: list[LedgerEntry] = []
    with transaction.atomic():
        if not ledger.live_entries(draw.dispositions.filter(kind=Kind.ADMINISTERED)):
            entries.append(ledger.administration_record(actor=actor, draw=draw, at=at))
        remaining = ledger.draw_remaining_mg(draw)
        if remaining > 0:
            entries.append(
                ledger.waste_witnessed(
                    actor=actor,
                    user=user,
                    vial=draw.vial,
                    amount=remaining,
                    reason=reason.strip(),
                    witness=witness,
                    draw=draw,
                    at=at,
                )
            )
        _audit(
            actor,
            Action.UPDATE,
            session,
            f"ledger for the vial of draw #{draw.seq}: "
            + "; ".join(_entry_text(e) for e in entries)
            + f" (witness {witness.get_username()})",
            detail={"ledger_seqs": [e.seq for e in entries], "witness": witness.get_username()},
        )
    return entries
