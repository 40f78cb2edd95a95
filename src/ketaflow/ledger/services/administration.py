"""Administration: what the patient was given from a draw (the infusion record's delivered
dose, or a paper record's typed amount)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.clinical.dosing import SYRINGE_RESOLUTION_ML
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger.models import (
    LedgerEntry,
    Vial,
)
from ketaflow.ledger.services.append import append_entry
from ketaflow.ledger.services.base import (
    MG_RESOLUTION_RULE,
    Kind,
    exact_mg,
    live_entries,
    lock_vial,
    mg_text,
    person,
    quantise_mg,
    refuse,
    same_clinic,
)
from ketaflow.ledger.services.draws import draw_remaining_mg


def syringe_tolerance_mg(vial: Vial) -> Decimal:
    """How far the infusion record's delivered dose may exceed what was drawn: the drawn volume
    is read to the syringe resolution (0.01 mL, ketaflow.clinical.dosing.SYRINGE_RESOLUTION_ML,
    which the infusion record itself allows between drawn and computed volume), times the
    vial's concentration. Exact: no rounding."""
    return SYRINGE_RESOLUTION_ML * vial.product.concentration_mg_per_ml


def session_given_mg(session: InfusionSession) -> Decimal | None:
    """What the infusion record says was delivered, at the ledger's resolution."""
    if session.delivered_dose_mg is None:
        return None
    return quantise_mg(session.delivered_dose_mg)


def administration_record(
    *,
    actor: Actor,
    draw: LedgerEntry,
    amount_mg: Decimal | None = None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Record what the patient was given from ``draw``.

    For a draw made for an infusion session the amount is the infusion record's delivered dose
    (``InfusionSession.delivered_dose_mg``, computed from the pump events), never typed: giving
    ``amount_mg`` is refused. Only a draw without a session (the infusion charted on paper) takes
    a typed ``amount_mg``, and the entry says so."""
    user = person(actor, Perm.LEDGER_DRAW)
    same_clinic(user, draw.clinic_id, "The draw")
    if draw.kind != Kind.DRAWN:
        raise refuse(NON_FIELD_ERRORS, "an administration follows a draw")
    if draw.corrections.exists():
        raise refuse(NON_FIELD_ERRORS, f"draw #{draw.seq} was corrected")
    if live_entries(draw.dispositions.filter(kind=Kind.ADMINISTERED)):
        raise refuse(NON_FIELD_ERRORS, f"the administration of draw #{draw.seq} is recorded")
    session: InfusionSession | None = None
    if draw.session_id is not None:
        if amount_mg is not None:
            raise refuse("amount_mg", "the amount given comes from the infusion record, not typed")
        session = InfusionSession.objects.select_related("patient").get(pk=draw.session_id)
        given = session_given_mg(session)
        if given is None or session.ended_at is None:
            raise refuse(NON_FIELD_ERRORS, f"session {session.pk}: the infusion has not ended")
        reason = f"delivered dose of infusion session {session.pk} ({MG_RESOLUTION_RULE})"
        remaining = draw_remaining_mg(draw)
        tolerance = syringe_tolerance_mg(draw.vial)
        if remaining < given <= remaining + tolerance:
            conc = draw.vial.product.concentration_mg_per_ml.normalize()
            reason = (
                f"infusion session {session.pk} records {mg_text(given)} mg delivered; "
                f"{mg_text(remaining)} mg was drawn, within the syringe resolution "
                f"({SYRINGE_RESOLUTION_ML} mL x {conc:f} mg/mL = {tolerance.normalize():f} mg): "
                "the whole draw is recorded as given"
            )
            given = remaining
    else:
        if amount_mg is None:
            raise refuse("amount_mg", "give the amount administered (mg)")
        given = exact_mg("amount_mg", amount_mg)
        reason = "amount given per the paper infusion record (no infusion session in KetaFlow)"
    with transaction.atomic():
        locked = lock_vial(draw.vial)
        remaining = draw_remaining_mg(draw)
        if given > remaining:
            raise refuse(
                NON_FIELD_ERRORS,
                f"{mg_text(given)} mg given is more than the "
                f"{mg_text(remaining)} mg of draw #{draw.seq} not yet accounted for",
            )
        entry = append_entry(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.ADMINISTERED,
            quantity_mg=given,
            pending_change_mg=-given,
            patient=draw.patient,
            session=session,
            draw=draw,
            at=at,
            reason=reason,
            summary=f"administered {mg_text(given)} mg from draw #{draw.seq}",
        )
    return entry
