"""Every write to the controlled-substance ledger, and its reconciliation.

Each write is ``<thing>_<action>(*, actor, ...)``: it checks the actor's permission, takes the
vial's row lock (``select_for_update``; SQLite serialises writers with IMMEDIATE transactions),
appends one hash-chained :class:`LedgerEntry` under the ledger head's lock, moves the vial's
balance and writes its audit entry, all in one transaction. Lock order is always vial(s) by
primary key, then the ledger head, then the audit head, so two writers never deadlock.

Amounts are exact Decimals in milligrams. Where a product of volume and concentration, or the
infusion record's delivered dose (a float computed exactly from the pump events), is turned into
a ledger amount, it is quantised explicitly to the ledger's resolution (:data:`MG_RESOLUTION`,
rule :data:`MG_RESOLUTION_RULE`); amounts typed by a person are never rounded: more than three
decimal places is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import authenticate
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_day, clinic_local, clinic_zone
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm, refusal
from ketaflow.accounts.signin import is_locked_request
from ketaflow.audit.chain import GENESIS, VerifyResult, verify_chain
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
from ketaflow.clinical.dea import dea_number_normalised
from ketaflow.clinical.dosing import SYRINGE_RESOLUTION_ML
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger.chain import ledger_entry_hash, ledger_key
from ketaflow.ledger.models import (
    Count,
    CountLine,
    DiscrepancyCase,
    Inventory,
    InventoryLine,
    LedgerEntry,
    LedgerHead,
    LedgerSettings,
    Product,
    Receipt,
    Vial,
)
from ketaflow.patients.models import Patient

Kind = LedgerEntry.Kind
Status = Vial.Status

# The ledger records milligrams to one microgram. KetaFlow record-keeping policy: it is finer
# than anything the clinic can measure (a syringe reads to 0.01 mL, ketaflow.clinical.dosing.
# SYRINGE_RESOLUTION_ML; at 100 mg/mL that is 1 mg), so quantising a computed amount to it loses
# nothing a count could detect. Ties go to the even digit (ROUND_HALF_EVEN).
MG_RESOLUTION = Decimal("0.001")
MG_RESOLUTION_RULE = "ledger resolution 0.001 mg (one microgram), round half to even"
ZERO = Decimal(0)

# Vials that are still stock: counted at every count and inventory.
IN_STOCK = (Status.SEALED, Status.OPEN, Status.EXPIRED)

# Open containers of a Schedule III-V substance may be estimated at an inventory, unless the
# container holds more than 1,000 tablets or capsules (21 CFR 1304.11(e)(3); clinical.md
# section 7). A vial of solution is never such a container, so open vials may be estimated;
# sealed vials are counted exactly.
OPEN_SCHEDULE_III_MAY_BE_ESTIMATED = True


def quantise_mg(value: Decimal | float) -> Decimal:
    """A computed amount at the ledger's resolution (rule: :data:`MG_RESOLUTION_RULE`)."""
    exact = value if isinstance(value, Decimal) else Decimal(value)  # a float's exact value
    return exact.quantize(MG_RESOLUTION, rounding=ROUND_HALF_EVEN)


def _exact_mg(field_name: str, value: Decimal) -> Decimal:
    """An amount a person typed: positive, at most three decimal places, never rounded."""
    if not value.is_finite() or value <= 0:
        raise _refuse(field_name, f"{value} mg: give a positive amount")
    if value.quantize(MG_RESOLUTION) != value:
        raise _refuse(
            field_name, f"{value} mg has more than three decimal places (the ledger records µg)"
        )
    return value.quantize(MG_RESOLUTION)


def _refuse(field_name: str, message: str) -> ValidationError:
    return ValidationError({field_name: [message]})


def _person(actor: Actor, perm: Perm) -> User:
    user = actor.user
    if user is None:
        raise PermissionDenied("A person must make ledger entries.")
    if not user.may(perm) or user.clinic_id is None:
        raise PermissionDenied(refusal(user.role, perm))
    return user


def _same_clinic(user: User, clinic_id: int, what: str) -> None:
    if user.clinic_id != clinic_id:
        raise PermissionDenied(f"{what} belongs to another clinic.")


def _now(at: dt.datetime | None) -> dt.datetime:
    now = timezone.now()
    if at is None:
        return now
    if at > now + dt.timedelta(minutes=1):
        raise _refuse(NON_FIELD_ERRORS, "a ledger entry cannot be dated in the future")
    return at


def _lock_vial(vial: Vial) -> Vial:
    return Vial.objects.select_for_update().select_related("product", "clinic").get(pk=vial.pk)


def _json(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


def _mg_text(value: Decimal) -> str:
    return f"{value:f}"


# ---- the chain ------------------------------------------------------------------------------


def _append(
    *,
    actor: Actor,
    user: User,
    vial: Vial,
    kind: str,
    quantity_mg: Decimal,
    amount_mg: Decimal = ZERO,
    pending_change_mg: Decimal = ZERO,
    at: dt.datetime | None = None,
    volume_ml: Decimal | None = None,
    witness: User | None = None,
    witness2: User | None = None,
    patient: Patient | None = None,
    session: InfusionSession | None = None,
    draw: LedgerEntry | None = None,
    corrects: LedgerEntry | None = None,
    case: DiscrepancyCase | None = None,
    reason: str = "",
    note: str = "",
    form_data: dict[str, Any] | None = None,
    summary: str,
) -> LedgerEntry:
    """Append one entry for ``vial`` (already locked by the caller) and move its balance."""
    balance_after = vial.in_vial_mg + amount_mg
    pending_after = vial.drawn_pending_mg + pending_change_mg
    if balance_after < 0:
        raise _refuse(
            NON_FIELD_ERRORS,
            f"overdraw refused: vial {vial.label} holds {_mg_text(vial.in_vial_mg)} mg; "
            f"this would leave {_mg_text(balance_after)} mg",
        )
    if pending_after < 0:
        raise _refuse(
            NON_FIELD_ERRORS,
            f"refused: only {_mg_text(vial.drawn_pending_mg)} mg drawn from vial {vial.label} "
            "is not yet recorded as given or wasted",
        )
    if connection.vendor == "postgresql":
        head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    else:  # SQLite serialises writers itself (transaction_mode IMMEDIATE)
        head = LedgerHead.objects.filter(pk=1).first()
    if head is None:
        head = LedgerHead(pk=1, seq=0, hash=GENESIS)
    entry = LedgerEntry(
        seq=head.seq + 1,
        at=_now(at),
        clinic_id=vial.clinic_id,
        vial=vial,
        kind=kind,
        quantity_mg=quantity_mg.quantize(MG_RESOLUTION),
        amount_mg=amount_mg.quantize(MG_RESOLUTION),
        balance_after_mg=balance_after.quantize(MG_RESOLUTION),
        pending_change_mg=pending_change_mg.quantize(MG_RESOLUTION),
        pending_after_mg=pending_after.quantize(MG_RESOLUTION),
        volume_ml=volume_ml,
        actor=user,
        actor_username=user.get_username(),
        witness=witness,
        witness_username=witness.get_username() if witness is not None else "",
        witness2=witness2,
        witness2_username=witness2.get_username() if witness2 is not None else "",
        patient=patient,
        session=session,
        draw=draw,
        corrects=corrects,
        case=case,
        reason=reason[:300],
        note=note[:300],
        form_data=_json(form_data or {}),
        prev_hash=head.hash,
        hash="",
    )
    entry.hash = ledger_entry_hash(entry, ledger_key())
    entry.full_clean()
    entry.save()
    head.seq, head.hash = entry.seq, entry.hash
    head.save()
    vial.in_vial_mg = entry.balance_after_mg
    vial.drawn_pending_mg = entry.pending_after_mg
    vial.last_seq = entry.seq
    if kind == Kind.DRAWN and vial.status == Status.SEALED:
        vial.status = Status.OPEN
        vial.opened_at = entry.at
    if vial.status in (Status.SEALED, Status.OPEN) and vial.on_hand_mg == 0:
        vial.status = Status.EMPTY
    vial.full_clean()
    vial.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_entry",
        object_id=entry.pk,
        patient_id=entry.patient_id,
        summary=f"ledger #{entry.seq}: {summary}",
        detail={
            "vial": vial.label,
            "kind": kind,
            "quantity_mg": _mg_text(entry.quantity_mg),
            "balance_after_mg": _mg_text(entry.balance_after_mg),
            # The twin of the ledger entry in the audit chain (ketaflow.ledger.verify).
            "ledger_seq": entry.seq,
            "ledger_hash": entry.hash,
        },
    )
    return entry


def ledger_verify(*, chunk_size: int = 2000) -> VerifyResult:
    """Verify the ledger's whole chain: the first altered, inserted or deleted entry."""
    head = LedgerHead.objects.filter(pk=1).first()
    entries = LedgerEntry.objects.order_by("seq").iterator(chunk_size=chunk_size)
    return verify_chain(
        entries,
        ledger_key(),
        head_seq=head.seq if head else None,
        hasher=ledger_entry_hash,
        name="ledger chain",
    )


# ---- witnesses ------------------------------------------------------------------------------


def witness_verify(
    *,
    user: User,
    username: str,
    password: str,
    on: dt.date,
    request: HttpRequest | None = None,
    field_name: str = "witness_username",
    not_also: Iterable[User] = (),
    who: str = "witness",
) -> User:
    """The witness, who signs at the time with their own username and password (checked with
    Django's ``authenticate``; the password is never stored). A second, different person of the
    same clinic whose role may witness a waste and whose credentials are current today."""
    if not username.strip() or not password:
        raise _refuse(field_name, f"the {who} signs with their own username and password")
    # The password check counts against the witness's account and the address like a login
    # (django-axes, ketaflow.accounts.signin): no guessing a colleague's password here either.
    # Without a request (a command, the demo) only the account's limit applies.
    checked = request if request is not None else HttpRequest()
    witness = authenticate(checked, username=username.strip(), password=password)
    if is_locked_request(checked):
        checked.axes_locked_out = False  # type: ignore[attr-defined]  # the form says it
        raise _refuse(field_name, f"the {who}'s sign-in is paused after too many failed attempts")
    if not isinstance(witness, User):
        raise _refuse(field_name, f"the {who}'s username or password is wrong")
    if witness.pk == user.pk:
        raise _refuse(field_name, f"the {who} must be a second person, not the one recording")
    if any(witness.pk == other.pk for other in not_also):
        raise _refuse(field_name, f"each {who} must be a different person")
    if witness.clinic_id != user.clinic_id:
        raise _refuse(field_name, f"the {who} must be a member of staff of this clinic")
    check = credential_check(witness, ClinicalAct.WITNESS, on=on)
    if not check.ok:
        raise _refuse(field_name, f"the {who} may not witness: " + "; ".join(check.problems))
    return witness


# ---- stock ----------------------------------------------------------------------------------


@transaction.atomic
def product_create(
    *,
    actor: Actor,
    clinic: Clinic,
    name: str,
    ndc: str,
    concentration_mg_per_ml: Decimal,
    volume_per_vial_ml: Decimal,
) -> Product:
    user = _person(actor, Perm.LEDGER_RECEIVE)
    _same_clinic(user, clinic.pk, "The clinic")
    product = Product(
        clinic=clinic,
        name=name.strip(),
        ndc=ndc.strip(),
        concentration_mg_per_ml=concentration_mg_per_ml,
        volume_per_vial_ml=volume_per_vial_ml,
    )
    product.full_clean()
    product.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_product",
        object_id=product.pk,
        summary=f"ledger product {product}",
    )
    return product


def receipt_snapshot(receipt: Receipt) -> dict[str, Any]:
    """What a receipt records, as its audit entry keeps it (ketaflow.ledger.verify compares)."""
    return {
        "product": receipt.product_id,
        "supplier_name": receipt.supplier_name,
        "supplier_address": receipt.supplier_address,
        "supplier_dea_number": receipt.supplier_dea_number,
        "invoice_number": receipt.invoice_number,
        "lot": receipt.lot,
        "expires_on": receipt.expires_on.isoformat(),
        "vial_count": receipt.vial_count,
        "received_by": receipt.received_by_id,
    }


def count_lines_snapshot(count: Count) -> list[dict[str, Any]]:
    """A count's lines, as its audit entry keeps them (ketaflow.ledger.verify compares)."""
    return [
        {
            "vial": line.vial_id,
            "sealed": line.sealed,
            "present": line.present,
            "measured_volume_ml": (
                None if line.measured_volume_ml is None else f"{line.measured_volume_ml:.3f}"
            ),
            "expected_mg": f"{line.expected_mg:.3f}",
            "counted_mg": f"{line.counted_mg:.3f}",
            "difference_mg": f"{line.difference_mg:.3f}",
        }
        for line in CountLine.objects.filter(count=count).order_by("vial_id")
    ]


def _next_labels(clinic: Clinic, count: int, year: int) -> list[str]:
    prefix = f"K{year}-"
    taken = Vial.objects.filter(clinic=clinic, label__startswith=prefix).values_list(
        "label", flat=True
    )
    start = max((int(label[len(prefix) :]) for label in taken), default=0) + 1
    return [f"{prefix}{n:04d}" for n in range(start, start + count)]


def same_invoice_receipts(
    *, clinic_id: int, supplier_name: str, supplier_dea_number: str, invoice_number: str
) -> list[Receipt]:
    """The clinic's receipts of the same invoice number (letter case and surrounding spaces
    aside) from the same supplier (the same DEA number or the same name)."""
    return list(
        Receipt.objects.filter(clinic_id=clinic_id, invoice_number__iexact=invoice_number.strip())
        .filter(
            Q(supplier_dea_number__iexact=supplier_dea_number.strip())
            | Q(supplier_name__iexact=supplier_name.strip())
        )
        .order_by("received_at", "pk")
    )


@transaction.atomic
def stock_receive(
    *,
    actor: Actor,
    product: Product,
    lot: str,
    expires_on: dt.date,
    vial_count: int,
    supplier_name: str,
    supplier_address: str,
    supplier_dea_number: str,
    invoice_number: str,
    note: str = "",
    at: dt.datetime | None = None,
    duplicate_invoice_confirmed: bool = False,
) -> Receipt:
    """Receive ``vial_count`` sealed vials against an invoice: each vial gets its own label and
    a ``received`` entry of its labelled content (concentration × volume, exact).

    The supplier's DEA number must have the DEA's shape and check digit
    (:mod:`ketaflow.clinical.dea`). An invoice of the same supplier already received is refused
    (code ``duplicate_invoice``) unless ``duplicate_invoice_confirmed`` (a further delivery on
    the same invoice); the audit entry then names the earlier receipts."""
    user = _person(actor, Perm.LEDGER_RECEIVE)
    _same_clinic(user, product.clinic_id, "The product")
    received_at = _now(at)
    if expires_on <= clinic_day(product.clinic, received_at):
        raise _refuse("expires_on", f"the stock expired on {expires_on.isoformat()}")
    try:
        dea_number = dea_number_normalised(supplier_dea_number)
    except ClinicalInputError as exc:
        raise _refuse("supplier_dea_number", str(exc)) from None
    earlier = same_invoice_receipts(
        clinic_id=product.clinic_id,
        supplier_name=supplier_name,
        supplier_dea_number=dea_number,
        invoice_number=invoice_number,
    )
    if earlier and not duplicate_invoice_confirmed:
        first = earlier[0]
        raise ValidationError(
            {
                "invoice_number": ValidationError(
                    f"invoice {first.invoice_number} from {first.supplier_name} was already "
                    f"received on {clinic_local(product.clinic, first.received_at):%Y-%m-%d} "
                    f"({first.vial_count} vials, lot {first.lot}): confirm that this is a "
                    "further delivery on the same invoice to receive it",
                    code="duplicate_invoice",
                )
            }
        )
    receipt = Receipt(
        clinic_id=product.clinic_id,
        product=product,
        supplier_name=supplier_name.strip(),
        supplier_address=supplier_address.strip(),
        supplier_dea_number=dea_number,
        invoice_number=invoice_number.strip(),
        lot=lot.strip(),
        expires_on=expires_on,
        vial_count=vial_count,
        received_at=received_at,
        received_by=user,
        note=note.strip(),
    )
    receipt.full_clean()
    receipt.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_receipt",
        object_id=receipt.pk,
        summary=f"received {vial_count} vials of {product.name}, invoice {invoice_number}"
        + (" (invoice already received: confirmed)" if earlier else ""),
        detail={"receipt": receipt_snapshot(receipt)}
        | ({"duplicate_invoice_of": [r.pk for r in earlier]} if earlier else {}),
    )
    content = product.content_mg
    year = clinic_local(product.clinic, received_at).year
    for label in _next_labels(product.clinic, vial_count, year):
        vial = Vial(
            clinic_id=product.clinic_id,
            product=product,
            receipt=receipt,
            label=label,
            lot=receipt.lot,
            expires_on=expires_on,
        )
        vial.full_clean()
        vial.save()
        vial = _lock_vial(vial)
        _append(
            actor=actor,
            user=user,
            vial=vial,
            kind=Kind.RECEIVED,
            quantity_mg=quantise_mg(content),
            amount_mg=quantise_mg(content),
            volume_ml=product.volume_per_vial_ml,
            at=received_at,
            reason=f"invoice {receipt.invoice_number} from {receipt.supplier_name}",
            summary=f"received vial {label} ({_mg_text(quantise_mg(content))} mg)",
        )
    return receipt


# ---- drawing, giving and wasting ------------------------------------------------------------


def _live(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """Entries not reversed by a correction."""
    return [e for e in entries if not e.corrections.exists()]


def draw_remaining_mg(draw: LedgerEntry) -> Decimal:
    """What of a draw is not yet recorded as given or wasted."""
    used = sum(
        (e.quantity_mg for e in _live(draw.dispositions.exclude(kind=Kind.CORRECTION))), ZERO
    )
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
    user = _person(actor, Perm.LEDGER_DRAW)
    _same_clinic(user, vial.clinic_id, "The vial")
    _same_clinic(user, patient.clinic_id, "The patient")
    if not volume_ml.is_finite() or volume_ml <= 0:
        raise _refuse("volume_ml", "give the drawn volume in mL")
    if not patient.active:
        raise _refuse(
            "patient", f"{patient.mrn} is an inactive record: ketamine is not drawn for it"
        )
    if signed_candidacy_for(patient) is None:
        raise _refuse("patient", "no signed candidacy decision: ketamine is not drawn for them")
    if current_consent_for(patient) is None:
        raise _refuse("patient", "no current informed consent: ketamine is not drawn for them")
    if session is not None:
        if session.patient_id != patient.pk:
            raise _refuse("session", "the infusion session is another patient's")
        if session.vial_lot and session.vial_lot != vial.lot:
            raise _refuse(
                "vial",
                f"the infusion record names lot {session.vial_lot}; vial {vial.label} is lot "
                f"{vial.lot}",
            )
        if session.drawn_volume_ml is not None and session.drawn_volume_ml != volume_ml:
            raise _refuse(
                "volume_ml",
                f"the infusion record says {session.drawn_volume_ml} mL was drawn",
            )
        earlier = _live(
            LedgerEntry.objects.filter(session=session, kind=Kind.DRAWN).select_related()
        )
        if earlier:
            raise _refuse("session", f"a draw is already recorded for session {session.pk}")
    with transaction.atomic():
        locked = _lock_vial(vial)
        if locked.status not in (Status.SEALED, Status.OPEN):
            raise _refuse("vial", f"vial {locked.label} is {locked.get_status_display().lower()}")
        day = clinic_day(locked.clinic, _now(at))
        if locked.expires_on < day:
            raise _refuse("vial", f"vial {locked.label} expired on {locked.expires_on}")
        amount = quantise_mg(volume_ml * locked.product.concentration_mg_per_ml)
        entry = _append(
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
            summary=f"drew {volume_ml} mL ({_mg_text(amount)} mg) from vial {locked.label}",
        )
    return entry


def live_session_draw(session: InfusionSession) -> LedgerEntry | None:
    """The session's draw from stock that stands (not reversed by a correction), if any."""
    draws = LedgerEntry.objects.filter(session=session, kind=Kind.DRAWN).select_related(
        "vial", "vial__product"
    )
    live = _live(draws.order_by("-seq"))
    return live[0] if live else None


def session_draw_reverse(*, actor: Actor, draw: LedgerEntry, reason: str) -> LedgerEntry:
    """Reverse a session's draw at the chair, when the nurse picked another vial: allowed to the
    person who may draw (not only the medical director) while nothing of the draw is recorded as
    given or wasted; a new entry names the draw and says why, nothing is edited."""
    user = _person(actor, Perm.LEDGER_DRAW)
    _same_clinic(user, draw.clinic_id, "The draw")
    if draw.kind != Kind.DRAWN or draw.session_id is None:
        raise _refuse("vial", "only an infusion session's draw is corrected at the chair")
    if draw.corrections.exists():
        raise _refuse("vial", f"draw #{draw.seq} is already corrected")
    if _live(draw.dispositions.all()):
        raise _refuse(
            "vial",
            f"the administration or waste of draw #{draw.seq} is recorded; the medical "
            "director corrects those in the ledger first",
        )
    if not reason.strip():
        raise _refuse("reason", "say why the vial is corrected")
    return _reverse(actor=actor, user=user, entry=draw, reason=reason, at=None)


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
    user = _person(actor, Perm.LEDGER_DRAW)
    _same_clinic(user, draw.clinic_id, "The draw")
    if draw.kind != Kind.DRAWN:
        raise _refuse(NON_FIELD_ERRORS, "an administration follows a draw")
    if draw.corrections.exists():
        raise _refuse(NON_FIELD_ERRORS, f"draw #{draw.seq} was corrected")
    if _live(draw.dispositions.filter(kind=Kind.ADMINISTERED)):
        raise _refuse(NON_FIELD_ERRORS, f"the administration of draw #{draw.seq} is recorded")
    session: InfusionSession | None = None
    if draw.session_id is not None:
        if amount_mg is not None:
            raise _refuse("amount_mg", "the amount given comes from the infusion record, not typed")
        session = InfusionSession.objects.select_related("patient").get(pk=draw.session_id)
        given = session_given_mg(session)
        if given is None or session.ended_at is None:
            raise _refuse(NON_FIELD_ERRORS, f"session {session.pk}: the infusion has not ended")
        reason = f"delivered dose of infusion session {session.pk} ({MG_RESOLUTION_RULE})"
        remaining = draw_remaining_mg(draw)
        tolerance = syringe_tolerance_mg(draw.vial)
        if remaining < given <= remaining + tolerance:
            conc = draw.vial.product.concentration_mg_per_ml.normalize()
            reason = (
                f"infusion session {session.pk} records {_mg_text(given)} mg delivered; "
                f"{_mg_text(remaining)} mg was drawn, within the syringe resolution "
                f"({SYRINGE_RESOLUTION_ML} mL x {conc:f} mg/mL = {tolerance.normalize():f} mg): "
                "the whole draw is recorded as given"
            )
            given = remaining
    else:
        if amount_mg is None:
            raise _refuse("amount_mg", "give the amount administered (mg)")
        given = _exact_mg("amount_mg", amount_mg)
        reason = "amount given per the paper infusion record (no infusion session in KetaFlow)"
    with transaction.atomic():
        locked = _lock_vial(draw.vial)
        remaining = draw_remaining_mg(draw)
        if given > remaining:
            raise _refuse(
                NON_FIELD_ERRORS,
                f"{_mg_text(given)} mg given is more than the "
                f"{_mg_text(remaining)} mg of draw #{draw.seq} not yet accounted for",
            )
        entry = _append(
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
            summary=f"administered {_mg_text(given)} mg from draw #{draw.seq}",
        )
    return entry


def waste_record(
    *,
    actor: Actor,
    vial: Vial,
    amount_mg: Decimal,
    reason: str,
    witness_username: str,
    witness_password: str,
    draw: LedgerEntry | None = None,
    request: HttpRequest | None = None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Waste ``amount_mg``, witnessed at the time by a second credentialed person who signs with
    their own username and password.

    From a draw: the residue left after the infusion (it leaves the drawn amount); without a
    draw: from the vial itself (e.g. an open vial past its in-use time)."""
    user = _person(actor, Perm.LEDGER_DRAW)
    _same_clinic(user, vial.clinic_id, "The vial")
    amount = _exact_mg("amount_mg", amount_mg)
    if not reason.strip():
        raise _refuse("reason", "say why the drug is wasted")
    day = clinic_day(vial.clinic, _now(at))
    # Checked before the transaction, so that a failed witness log-in stays in the audit trail.
    witness = witness_verify(
        user=user,
        username=witness_username,
        password=witness_password,
        on=day,
        request=request,
    )
    return _waste(
        actor=actor,
        user=user,
        vial=vial,
        amount=amount,
        reason=reason,
        witness=witness,
        draw=draw,
        at=at,
    )


def _waste(
    *,
    actor: Actor,
    user: User,
    vial: Vial,
    amount: Decimal,
    reason: str,
    witness: User,
    draw: LedgerEntry | None,
    at: dt.datetime | None,
) -> LedgerEntry:
    """The waste entry, for a witness already authenticated by the caller (the waste form; the
    demo loader, acting for its own demo staff). The witness rules other than the password are
    checked again here."""
    day = clinic_day(vial.clinic, _now(at))
    if witness.pk == user.pk or witness.clinic_id != user.clinic_id:
        raise _refuse("witness_username", "the witness must be a second person of this clinic")
    check = credential_check(witness, ClinicalAct.WITNESS, on=day)
    if not check.ok:
        raise _refuse(
            "witness_username", "the witness may not witness: " + "; ".join(check.problems)
        )
    if draw is not None and (draw.kind != Kind.DRAWN or draw.vial_id != vial.pk):
        raise _refuse("draw", "the waste must follow a draw from this vial")
    with transaction.atomic():
        locked = _lock_vial(vial)
        if draw is not None:
            if draw.corrections.exists():
                raise _refuse("draw", f"draw #{draw.seq} was corrected")
            remaining = draw_remaining_mg(draw)
            if amount > remaining:
                raise _refuse(
                    "amount_mg",
                    f"only {_mg_text(remaining)} mg of draw #{draw.seq} is not yet accounted for",
                )
            return _append(
                actor=actor,
                user=user,
                vial=locked,
                kind=Kind.WASTED,
                quantity_mg=amount,
                pending_change_mg=-amount,
                witness=witness,
                patient=draw.patient,
                session=draw.session,
                draw=draw,
                reason=reason.strip(),
                at=at,
                summary=f"wasted {_mg_text(amount)} mg of draw #{draw.seq}, "
                f"witness {witness.get_username()}",
            )
        if locked.status not in IN_STOCK:
            raise _refuse("vial", f"vial {locked.label} is not in stock")
        return _append(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.WASTED,
            quantity_mg=amount,
            amount_mg=-amount,
            witness=witness,
            reason=reason.strip(),
            at=at,
            summary=f"wasted {_mg_text(amount)} mg from vial {locked.label}, "
            f"witness {witness.get_username()}",
        )


# ---- destruction and loss -------------------------------------------------------------------


def destruction_record(
    *,
    actor: Actor,
    vial: Vial,
    witnesses: Sequence[tuple[str, str]],
    method: str,
    location: str,
    reason: str,
    request: HttpRequest | None = None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Destroy what is left in ``vial`` on site, witnessed by two authorised employees who sign
    at the time: the data of a DEA Form 41 (21 CFR 1317; clinical.md section 7)."""
    user = _person(actor, Perm.LEDGER_DESTROY)
    _same_clinic(user, vial.clinic_id, "The vial")
    if len(witnesses) != 2:
        raise _refuse(NON_FIELD_ERRORS, "a destruction needs two witnesses (DEA Form 41)")
    for name, text in (("method", method), ("location", location), ("reason", reason)):
        if not text.strip():
            raise _refuse(name, "this is part of the DEA Form 41 record")
    when = _now(at)
    day = clinic_day(vial.clinic, when)
    first = witness_verify(
        user=user,
        username=witnesses[0][0],
        password=witnesses[0][1],
        on=day,
        request=request,
        field_name="witness_username",
    )
    second = witness_verify(
        user=user,
        username=witnesses[1][0],
        password=witnesses[1][1],
        on=day,
        request=request,
        field_name="witness2_username",
        not_also=[first],
    )
    with transaction.atomic():
        locked = _lock_vial(vial)
        if locked.status not in IN_STOCK:
            raise _refuse("vial", f"vial {locked.label} is not in stock")
        if locked.drawn_pending_mg != 0:
            raise _refuse("vial", "a draw from this vial is not yet recorded as given or wasted")
        amount = locked.in_vial_mg
        if amount <= 0:
            raise _refuse("vial", f"vial {locked.label} is empty")
        product = locked.product
        clinic = locked.clinic
        form = {
            "form": "DEA-41",
            "registrant": clinic.name,
            "registrant_address": clinic.address,
            "date": day.isoformat(),
            "product": product.name,
            "ndc": product.ndc,
            "schedule": product.schedule,
            "strength_mg_per_ml": _mg_text(product.concentration_mg_per_ml),
            "container_volume_ml": _mg_text(product.volume_per_vial_ml),
            "lot": locked.lot,
            "vial": locked.label,
            "quantity_mg": _mg_text(amount),
            "method": method.strip(),
            "location": location.strip(),
            "reason": reason.strip(),
            "destroyed_by": user.get_full_name() or user.get_username(),
            "witnesses": [
                first.get_full_name() or first.get_username(),
                second.get_full_name() or second.get_username(),
            ],
        }
        entry = _append(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.DESTROYED,
            quantity_mg=amount,
            amount_mg=-amount,
            witness=first,
            witness2=second,
            reason=reason.strip(),
            form_data=form,
            at=when,
            summary=f"destroyed {_mg_text(amount)} mg of vial {locked.label} (DEA Form 41)",
        )
        locked.status = Status.DESTROYED
        locked.save(update_fields=["status"])
    return entry


def notify_deadline(discovered_at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The end of the first business day after discovery: written notice of a theft or
    significant loss is due to the DEA Field Division within one business day of discovery
    (21 CFR 1301.76(b); clinical.md section 7). Business days are Monday to Friday; federal
    holidays are counted as business days, which can only make the deadline earlier."""
    day = discovered_at.astimezone(tz).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:  # Saturday (5) and Sunday (6) are not business days
        day += dt.timedelta(days=1)
    end = dt.datetime.combine(day, dt.time(23, 59, 59))
    return end.replace(tzinfo=tz)


LOSS_KINDS = {
    "theft": "Theft",
    "loss": "Significant loss",
    "in_transit": "Lost in transit",
    "breakage": "Breakage or spillage (non-recoverable)",
}


def loss_record(
    *,
    actor: Actor,
    vial: Vial,
    loss_kind: str,
    discovered_at: dt.datetime,
    circumstances: str,
    amount_mg: Decimal | None = None,
    police_report: str = "",
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Record a loss or theft from ``vial`` (all that is in it when ``amount_mg`` is None) with
    the data of a DEA Form 106 and the deadline of the one-business-day notice."""
    user = _person(actor, Perm.LEDGER_REPORT_LOSS)
    _same_clinic(user, vial.clinic_id, "The vial")
    if loss_kind not in LOSS_KINDS:
        raise _refuse("loss_kind", f"{loss_kind!r} is not one of {', '.join(LOSS_KINDS)}")
    if not circumstances.strip():
        raise _refuse("circumstances", "describe what happened (DEA Form 106)")
    when = _now(at)
    if discovered_at > when:
        raise _refuse("discovered_at", "the discovery cannot be in the future")
    tz = clinic_zone(vial.clinic)
    deadline = notify_deadline(discovered_at, tz)
    with transaction.atomic():
        locked = _lock_vial(vial)
        if locked.status not in IN_STOCK:
            raise _refuse("vial", f"vial {locked.label} is not in stock")
        amount = locked.in_vial_mg if amount_mg is None else _exact_mg("amount_mg", amount_mg)
        if amount <= 0:
            raise _refuse("amount_mg", f"vial {locked.label} is empty")
        product = locked.product
        form = {
            "form": "DEA-106",
            "registrant": locked.clinic.name,
            "type": loss_kind,
            "type_label": LOSS_KINDS[loss_kind],
            "discovered_at": discovered_at.astimezone(tz).isoformat(timespec="minutes"),
            "notify_field_division_by": deadline.isoformat(timespec="minutes"),
            "notice_rule": "written notice within one business day of discovery "
            "(21 CFR 1301.76(b))",
            "circumstances": circumstances.strip(),
            "police_report": police_report.strip(),
            "product": product.name,
            "ndc": product.ndc,
            "strength_mg_per_ml": _mg_text(product.concentration_mg_per_ml),
            "lot": locked.lot,
            "vial": locked.label,
            "quantity_mg": _mg_text(amount),
        }
        entry = _append(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.LOST,
            quantity_mg=amount,
            amount_mg=-amount,
            reason=f"{LOSS_KINDS[loss_kind]}: {circumstances.strip()}",
            form_data=form,
            at=when,
            summary=f"{LOSS_KINDS[loss_kind].lower()} of {_mg_text(amount)} mg from vial "
            f"{locked.label}; notify DEA by {deadline:%Y-%m-%d %H:%M}",
        )
        if locked.in_vial_mg == 0 and locked.drawn_pending_mg == 0:
            locked.status = Status.LOST
            locked.save(update_fields=["status"])
    return entry


# ---- corrections ----------------------------------------------------------------------------


def entry_correct(
    *, actor: Actor, entry: LedgerEntry, reason: str, at: dt.datetime | None = None
) -> LedgerEntry:
    """Reverse ``entry`` with a new entry that names it and says why (nothing is edited)."""
    user = _person(actor, Perm.LEDGER_CORRECT)
    _same_clinic(user, entry.clinic_id, "The entry")
    if not reason.strip():
        raise _refuse("reason", "say why the entry is corrected")
    if entry.kind in (Kind.CORRECTION, Kind.ADJUSTED):
        raise _refuse(
            NON_FIELD_ERRORS, "corrections and count adjustments are not corrected this way"
        )
    if entry.corrections.exists():
        raise _refuse(NON_FIELD_ERRORS, f"entry #{entry.seq} is already corrected")
    if entry.kind == Kind.DRAWN and _live(entry.dispositions.all()):
        raise _refuse(NON_FIELD_ERRORS, "correct the administration and waste of this draw first")
    return _reverse(actor=actor, user=user, entry=entry, reason=reason, at=at)


def _reverse(
    *, actor: Actor, user: User, entry: LedgerEntry, reason: str, at: dt.datetime | None
) -> LedgerEntry:
    """The reversing entry of ``entry`` (checked by the caller), and the vial back in stock."""
    with transaction.atomic():
        locked = _lock_vial(entry.vial)
        correction = _append(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.CORRECTION,
            quantity_mg=entry.quantity_mg,
            amount_mg=-entry.amount_mg,
            pending_change_mg=-entry.pending_change_mg,
            volume_ml=entry.volume_ml,
            patient=entry.patient,
            session=entry.session,
            draw=None,
            corrects=entry,
            reason=reason.strip(),
            at=at,
            summary=f"corrected #{entry.seq} ({entry.get_kind_display().lower()})",
        )
        if locked.status in (Status.DESTROYED, Status.LOST, Status.EMPTY) and (
            locked.on_hand_mg > 0
        ):
            locked.status = Status.OPEN
            locked.save(update_fields=["status"])
    return correction


def receipt_reversal_problems(receipt: Receipt) -> list[str]:
    """Why ``receipt`` cannot be reversed as a whole (empty: it can): a vial of it was drawn
    from, or has any entry after its receipt (waste, destruction, loss, a count adjustment, a
    correction), or the receipt is already reversed."""
    problems: list[str] = []
    vials = Vial.objects.filter(receipt=receipt).order_by("pk")
    if not vials.exists():
        return [f"receipt {receipt.pk} has no vials"]
    for vial in vials:
        kinds = list(
            LedgerEntry.objects.filter(vial=vial).order_by("seq").values_list("kind", flat=True)
        )
        later = kinds[1:]
        if vial.status == Status.REVERSED:
            problems.append(f"vial {vial.label} is already reversed")
        elif not kinds or kinds[0] != Kind.RECEIVED:
            problems.append(f"vial {vial.label} has no receipt entry")
        elif Kind.DRAWN in later:
            problems.append(f"vial {vial.label} was drawn from")
        elif later:
            shown = ", ".join(sorted({Kind(k).label.lower() for k in later}))
            problems.append(f"vial {vial.label} has later entries ({shown})")
    return problems


def receipt_reverse(
    *,
    actor: Actor,
    receipt: Receipt,
    reason: str,
    witness_username: str,
    witness_password: str,
    request: HttpRequest | None = None,
    at: dt.datetime | None = None,
) -> list[LedgerEntry]:
    """Reverse a whole receipt (entered twice, the wrong product, a delivery sent back) as one
    witnessed action: one correction entry per vial, each naming the vial's receipt entry, the
    reason and the witness, in one transaction; every vial leaves stock (``reversed``). Refused
    if any vial of the receipt was drawn from or has any later entry: those are corrected first,
    entry by entry. The witness signs with their own password, through :func:`witness_verify`
    (its guessing limit included)."""
    user = _person(actor, Perm.LEDGER_CORRECT)
    _same_clinic(user, receipt.clinic_id, "The receipt")
    if not reason.strip():
        raise _refuse("reason", "say why the receipt is reversed")
    problems = receipt_reversal_problems(receipt)
    if problems:
        raise _refuse(NON_FIELD_ERRORS, "the receipt cannot be reversed: " + "; ".join(problems))
    day = clinic_day(receipt.clinic, _now(at))
    # Checked before the transaction, so that a failed witness log-in stays in the audit trail.
    witness = witness_verify(
        user=user, username=witness_username, password=witness_password, on=day, request=request
    )
    with transaction.atomic():
        vials = list(
            Vial.objects.select_for_update()
            .select_related("product", "clinic")
            .filter(receipt=receipt)
            .order_by("pk")
        )
        problems = receipt_reversal_problems(receipt)  # again, under the vials' locks
        if problems:
            raise _refuse(
                NON_FIELD_ERRORS, "the receipt cannot be reversed: " + "; ".join(problems)
            )
        corrections: list[LedgerEntry] = []
        for vial in vials:
            received = LedgerEntry.objects.get(vial=vial, kind=Kind.RECEIVED)
            corrections.append(
                _append(
                    actor=actor,
                    user=user,
                    vial=vial,
                    kind=Kind.CORRECTION,
                    quantity_mg=received.quantity_mg,
                    amount_mg=-received.amount_mg,
                    volume_ml=received.volume_ml,
                    witness=witness,
                    corrects=received,
                    reason=reason.strip(),
                    at=at,
                    summary=f"reversed the receipt of vial {vial.label} (#{received.seq}), "
                    f"witness {witness.get_username()}",
                )
            )
            vial.status = Status.REVERSED
            vial.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="ledger_receipt",
            object_id=receipt.pk,
            summary=f"reversed the receipt of invoice {receipt.invoice_number} "
            f"({len(vials)} vials), witness {witness.get_username()}",
            detail={
                "reason": reason.strip(),
                "witness": witness.get_username(),
                "ledger_seqs": [c.seq for c in corrections],
            },
        )
    return corrections


def ledger_settings_for(clinic_id: int) -> LedgerSettings:
    """The clinic's ledger settings (the defaults when it has none)."""
    found = LedgerSettings.objects.filter(clinic_id=clinic_id).first()
    return found if found is not None else LedgerSettings(clinic_id=clinic_id)


# ---- counts and discrepancies ---------------------------------------------------------------


@dataclass(frozen=True)
class CountInput:
    vial_id: int
    present: bool
    measured_volume_ml: Decimal | None = None  # open vials: what is left in the vial


def _counted_mg(vial: Vial, line: CountInput) -> tuple[bool, Decimal]:
    """(sealed, counted mg): a sealed vial holds its labelled content; an open one what its
    measured remaining volume holds at the product's concentration."""
    sealed = vial.status == Status.SEALED
    if not line.present:
        return sealed, ZERO
    if sealed:
        return sealed, quantise_mg(vial.product.content_mg)
    if line.measured_volume_ml is None or line.measured_volume_ml < 0:
        raise _refuse(
            f"volume_{vial.pk}", f"vial {vial.label} is open: measure the remaining volume"
        )
    return sealed, quantise_mg(line.measured_volume_ml * vial.product.concentration_mg_per_ml)


def _stock_locked(clinic_id: int) -> list[Vial]:
    return list(
        Vial.objects.select_for_update()
        .select_related("product")
        .filter(clinic_id=clinic_id, status__in=IN_STOCK)
        .order_by("pk")
    )


def _check_lines(stock: list[Vial], lines: Sequence[CountInput]) -> dict[int, CountInput]:
    by_vial: dict[int, CountInput] = {}
    for line in lines:
        if line.vial_id in by_vial:
            raise _refuse(NON_FIELD_ERRORS, "each vial is counted once")
        by_vial[line.vial_id] = line
    stock_ids = {v.pk for v in stock}
    if set(by_vial) != stock_ids:
        missing = sorted(v.label for v in stock if v.pk not in by_vial)
        raise _refuse(
            NON_FIELD_ERRORS,
            "count every vial in stock"
            + (f"; not counted: {', '.join(missing)}" if missing else ""),
        )
    return by_vial


def count_record(
    *,
    actor: Actor,
    clinic: Clinic,
    shift: str,
    lines: Sequence[CountInput],
    note: str = "",
    at: dt.datetime | None = None,
    second_counter_username: str = "",
    second_counter_password: str = "",
    request: HttpRequest | None = None,
) -> Count:
    """A count of every vial in stock against the ledger; each difference opens a case.

    A second counter signs with their own username and password (checked like a witness, with
    its guessing limit) when given, and must when the clinic's ledger settings ask for one."""
    user = _person(actor, Perm.LEDGER_COUNT)
    _same_clinic(user, clinic.pk, "The clinic")
    when = _now(at)
    second: User | None = None
    required = ledger_settings_for(clinic.pk).second_counter_required
    if required or second_counter_username.strip():
        # Checked before the transaction, so that a failed log-in stays in the audit trail.
        second = witness_verify(
            user=user,
            username=second_counter_username,
            password=second_counter_password,
            on=clinic_day(clinic, when),
            request=request,
            field_name="second_counter_username",
            who="second counter",
        )
    return _count(
        actor=actor,
        user=user,
        clinic=clinic,
        shift=shift,
        lines=lines,
        note=note,
        when=when,
        second=second,
    )


@transaction.atomic
def _count(
    *,
    actor: Actor,
    user: User,
    clinic: Clinic,
    shift: str,
    lines: Sequence[CountInput],
    note: str,
    when: dt.datetime,
    second: User | None,
) -> Count:
    stock = _stock_locked(clinic.pk)
    by_vial = _check_lines(stock, lines)
    count = Count(
        clinic=clinic,
        at=when,
        shift=shift,
        counted_by=user,
        second_counter=second,
        note=note.strip(),
    )
    count.full_clean()
    count.save()
    opened = 0
    for vial in stock:
        sealed, counted = _counted_mg(vial, by_vial[vial.pk])
        line = CountLine(
            count=count,
            vial=vial,
            sealed=sealed,
            present=by_vial[vial.pk].present,
            measured_volume_ml=None if sealed else by_vial[vial.pk].measured_volume_ml,
            expected_mg=vial.in_vial_mg,
            counted_mg=counted,
            difference_mg=counted - vial.in_vial_mg,
        )
        line.full_clean()
        line.save()
        if line.difference_mg != 0:
            case = DiscrepancyCase(
                clinic=clinic,
                vial=vial,
                count_line=line,
                expected_mg=line.expected_mg,
                counted_mg=line.counted_mg,
                difference_mg=line.difference_mg,
                opened_at=when,
                opened_by=user,
            )
            case.full_clean()
            case.save()
            opened += 1
            audit_record(
                actor=actor,
                action=Action.CREATE,
                object_type="ledger_case",
                object_id=case.pk,
                summary=f"discrepancy on vial {vial.label}: counted {_mg_text(counted)} mg, "
                f"ledger {_mg_text(vial.in_vial_mg)} mg",
            )
        if vial.status != Status.EXPIRED and vial.expires_on < clinic_day(clinic, when):
            vial.status = Status.EXPIRED  # set aside for destruction
            vial.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_count",
        object_id=count.pk,
        summary=f"count of {len(stock)} vials ({count.get_shift_display()}): "
        f"{opened} discrepancies"
        + (f", second counter {second.get_username()}" if second is not None else ""),
        detail={"lines": count_lines_snapshot(count)}
        | ({"second_counter": second.get_username()} if second is not None else {}),
    )
    return count


def case_resolve(
    *,
    actor: Actor,
    case: DiscrepancyCase,
    outcome: str,
    reason: str,
    at: dt.datetime | None = None,
) -> DiscrepancyCase:
    """The medical director resolves a discrepancy with a reason. ``adjust`` writes the count
    adjustment entry (the ledger follows the count); ``count_error`` records that a recount
    matched the ledger (no entry)."""
    user = _person(actor, Perm.LEDGER_RESOLVE)
    _same_clinic(user, case.clinic_id, "The case")
    if outcome not in (DiscrepancyCase.Outcome.ADJUST, DiscrepancyCase.Outcome.COUNT_ERROR):
        raise _refuse("outcome", "choose how the discrepancy is resolved")
    if not reason.strip():
        raise _refuse("reason", "the resolution needs a reason")
    with transaction.atomic():
        locked_case = DiscrepancyCase.objects.select_for_update().get(pk=case.pk)
        if locked_case.status != DiscrepancyCase.Status.OPEN:
            raise _refuse(NON_FIELD_ERRORS, f"case {case.pk} is already resolved")
        when = _now(at)
        if outcome == DiscrepancyCase.Outcome.ADJUST:
            vial = _lock_vial(locked_case.vial)
            difference = locked_case.difference_mg
            _append(
                actor=actor,
                user=user,
                vial=vial,
                kind=Kind.ADJUSTED,
                quantity_mg=abs(difference),
                amount_mg=difference,
                case=locked_case,
                reason=reason.strip(),
                at=when,
                summary=f"count adjustment {_mg_text(difference)} mg on vial {vial.label} "
                f"(case {locked_case.pk})",
            )
        locked_case.status = DiscrepancyCase.Status.RESOLVED
        locked_case.outcome = outcome
        locked_case.resolved_by = user
        locked_case.resolved_at = when
        locked_case.resolution_reason = reason.strip()
        locked_case.full_clean()
        locked_case.save()
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="ledger_case",
            object_id=locked_case.pk,
            summary=f"resolved discrepancy {locked_case.pk}: {locked_case.get_outcome_display()}",
            detail={"reason": locked_case.resolution_reason},
        )
    return locked_case


# ---- inventories ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryInput:
    vial_id: int
    present: bool
    measured_volume_ml: Decimal | None = None
    estimated: bool = False  # open vials only (21 CFR 1304.11(e)(3))


@transaction.atomic
def inventory_take(
    *,
    actor: Actor,
    clinic: Clinic,
    kind: str,
    timing: str,
    lines: Sequence[InventoryInput],
    note: str = "",
    at: dt.datetime | None = None,
) -> Inventory:
    """An initial or biennial inventory of every vial in stock, frozen once taken. The record
    says whether it was taken at the opening or close of business (21 CFR 1304.11(a)); sealed
    vials are counted exactly; an open vial may be estimated (21 CFR 1304.11(e)(3))."""
    user = _person(actor, Perm.LEDGER_INVENTORY)
    _same_clinic(user, clinic.pk, "The clinic")
    if kind not in Inventory.Kind.values:
        raise _refuse("kind", "initial or biennial")
    earlier = Inventory.objects.filter(clinic=clinic)
    if kind == Inventory.Kind.INITIAL and earlier.exists():
        raise _refuse("kind", "the clinic's initial inventory is already taken")
    if kind == Inventory.Kind.BIENNIAL and not earlier.exists():
        raise _refuse("kind", "take the initial inventory first")
    stock = _stock_locked(clinic.pk)
    by_vial_count = _check_lines(
        stock, [CountInput(i.vial_id, i.present, i.measured_volume_ml) for i in lines]
    )
    by_vial = {i.vial_id: i for i in lines}
    inventory = Inventory(
        clinic=clinic,
        kind=kind,
        timing=timing,
        taken_at=_now(at),
        taken_by=user,
        note=note.strip(),
    )
    inventory.full_clean()
    inventory.save()
    for vial in stock:
        sealed, counted = _counted_mg(vial, by_vial_count[vial.pk])
        estimated = by_vial[vial.pk].estimated
        if estimated and (sealed or not OPEN_SCHEDULE_III_MAY_BE_ESTIMATED):
            raise _refuse(
                f"volume_{vial.pk}",
                f"vial {vial.label} is sealed: count it exactly (21 CFR 1304.11(e)(3))",
            )
        line = InventoryLine(
            inventory=inventory,
            vial=vial,
            product_name=vial.product.name,
            ndc=vial.product.ndc,
            lot=vial.lot,
            concentration_mg_per_ml=vial.product.concentration_mg_per_ml,
            sealed=sealed,
            method=InventoryLine.Method.ESTIMATED if estimated else InventoryLine.Method.EXACT,
            measured_volume_ml=None if sealed else by_vial[vial.pk].measured_volume_ml,
            counted_mg=counted,
            ledger_mg=vial.in_vial_mg,
        )
        line.full_clean()
        line.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_inventory",
        object_id=inventory.pk,
        summary=f"{inventory.get_kind_display().lower()} of {len(stock)} vials "
        f"({inventory.get_timing_display().lower()})",
    )
    return inventory


def biennial_due(clinic: Clinic) -> dt.date | None:
    """When the next biennial inventory is due: within two years of the previous inventory
    (21 CFR 1304.11(c); clinical.md section 7). None before the initial inventory."""
    last = Inventory.objects.filter(clinic=clinic).order_by("-taken_at").first()
    if last is None:
        return None
    taken = clinic_day(clinic, last.taken_at)
    try:
        return taken.replace(year=taken.year + 2)
    except ValueError:  # 29 February: the earlier of the two possible dates
        return taken.replace(year=taken.year + 2, day=28)


# ---- reads (audited) ------------------------------------------------------------------------


def ledger_viewed(
    *,
    actor: Actor,
    what: str,
    object_type: str = "ledger",
    object_id: object = "",
    patient_ids: Sequence[int] = (),
) -> None:
    """Record that ``actor`` saw a ledger page (and which patients' names it showed)."""
    shown = sorted(set(patient_ids))
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type=object_type,
        object_id=object_id,
        patient_id=shown[0] if len(shown) == 1 else None,
        summary=f"viewed the ledger: {what}",
        detail={"patient_ids": shown} if shown else None,
        patient_ids=shown,
    )


def report_exported(
    *, actor: Actor, report: str, fmt: str, rows: int, patient_ids: Sequence[int] = ()
) -> None:
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="ledger_report",
        object_id=report,
        summary=f"exported the ledger report {report} as {fmt.upper()} ({rows} rows)",
        detail={"patient_ids": sorted(set(patient_ids))},
    )


# ---- reconciliation -------------------------------------------------------------------------


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
                f"entry #{entry.seq}: running balance {_mg_text(entry.balance_after_mg)} mg "
                f"does not follow from the amounts ({_mg_text(in_vial)} mg)"
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
            f"vial {vial.label}: received {_mg_text(result.received_mg)} mg "
            f"(adjusted {_mg_text(result.adjusted_mg)} mg) but "
            f"{_mg_text(result.accounted_mg)} mg accounted for"
        )
    if until is None and (vial.in_vial_mg, vial.drawn_pending_mg) != (in_vial, pending):
        result.problems.append(
            f"vial {vial.label}: the stored balance {_mg_text(vial.in_vial_mg)} mg differs "
            f"from the ledger's {_mg_text(in_vial)} mg"
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
    return sum((e.quantity_mg for e in _live(draw.dispositions.filter(kind=kind))), ZERO)


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
            f"{_mg_text(drawn)} mg was drawn"
        )
    finished = session.ended_at is not None and session.ended_at <= until
    within_syringe = (
        infusion is not None and given == drawn and given < infusion <= given + tolerance
    )
    if finished and within_syringe:
        check.notes.append(
            f"{name}: the infusion record says {infusion} mg, "
            f"{_mg_text(given)} mg was drawn and given (within the syringe resolution)"
        )
    elif finished and infusion != given:
        check.problems.append(
            f"{name}: the ledger records {_mg_text(given)} mg given, the "
            f"infusion record {infusion} mg delivered"
        )
    if finished and check.remaining_mg != 0:
        seqs = ", ".join(f"#{d.seq}" for d in draws)
        check.problems.append(
            f"{name}: {_mg_text(check.remaining_mg)} mg of draw {seqs} "
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
    for d in _live(draws.order_by("seq")):
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
    for d in _live(draws.order_by("seq")):
        check = DrawCheck(
            draw=d, given_mg=_disposed_mg(d, Kind.ADMINISTERED), remaining_mg=draw_remaining_mg(d)
        )
        name = f"draw #{d.seq} ({_mg_text(d.quantity_mg)} mg from vial {d.vial.label})"
        if check.given_mg == 0:
            check.problems.append(
                f"{name}: a draw without a session: no infusion session names it and no "
                "paper infusion record is recorded for it"
            )
        else:
            check.notes.append(f"{name}: given per the paper infusion record, no session")
        if check.remaining_mg != 0:
            check.problems.append(
                f"{name}: {_mg_text(check.remaining_mg)} mg is not accounted for (given or wasted)"
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


def open_draws(clinic: Clinic) -> list[LedgerEntry]:
    """Draws with an amount not yet recorded as given or wasted."""
    draws = (
        LedgerEntry.objects.filter(clinic=clinic, kind=Kind.DRAWN)
        .filter(Q(vial__drawn_pending_mg__gt=0))
        .select_related("vial", "patient", "session")
        .order_by("-seq")
    )
    return [d for d in draws if not d.corrections.exists() and draw_remaining_mg(d) > 0]
