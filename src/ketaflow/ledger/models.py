"""The controlled-substance ledger: ketamine (Schedule III) from receipt to patient, waste,
destruction or loss, per vial, provably.

Amounts are exact Decimals in milligrams (``*_mg``, three decimal places: one microgram) and
volumes in millilitres (``*_ml``); no float is ever stored here. Each vial carries its balance
(``in_vial_mg``: what is in the vial; ``drawn_pending_mg``: drawn for a patient and not yet
recorded as given or wasted), which the services change only under a row lock and which the
database keeps at or above zero (check constraints).

``LedgerEntry`` rows are append-only (database triggers, see migration 0002, and the model) and
chained by a keyed hash exactly like the audit trail (:mod:`ketaflow.ledger.chain`); a
correction is a new reversing entry naming the one it corrects. Counts and inventories are
frozen once taken (append-only as well). Record keeping follows 21 CFR part 1304 (see
``docs/reference/clinical.md`` section 7): 1304.22(c) for what a dispensing record holds,
1304.11 for inventories.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.models import Clinic
from ketaflow.audit.models import AppendOnly
from ketaflow.audit.models import AppendOnlyError as AppendOnlyError  # tests import it here
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients.models import Patient

# Milligram fields: max_digits=12, decimal_places=3 (to one microgram); millilitre fields:
# max_digits=9, decimal_places=3 (to one microlitre).


class Product(models.Model):
    """A ketamine product as supplied: e.g. ketamine HCl 50 mg/mL, 10 mL vial."""

    class Schedule(models.TextChoices):
        III = "III", "Schedule III"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ledger_products")
    name = models.CharField(max_length=120)
    ndc = models.CharField("NDC", max_length=20)
    concentration_mg_per_ml = models.DecimalField(
        max_digits=8, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))]
    )
    volume_per_vial_ml = models.DecimalField(
        max_digits=9, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))]
    )
    schedule = models.CharField(max_length=4, choices=Schedule.choices, default=Schedule.III)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "ndc"], name="ledger_product_ndc_unique"),
            models.CheckConstraint(
                condition=models.Q(concentration_mg_per_ml__gt=0)
                & models.Q(volume_per_vial_ml__gt=0),
                name="ledger_product_positive",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.name} {self.concentration_mg_per_ml.normalize():f} mg/mL × "
            f"{self.volume_per_vial_ml.normalize():f} mL (NDC {self.ndc})"
        )

    @property
    def strength(self) -> str:
        """``50 mg/mL`` (exact, without trailing zeros or an exponent)."""
        return f"{self.concentration_mg_per_ml.normalize():f} mg/mL"

    @property
    def content_mg(self) -> Decimal:
        """What a sealed vial holds: concentration × volume, exact."""
        return self.concentration_mg_per_ml * self.volume_per_vial_ml


class Receipt(AppendOnly):
    """A delivery of Schedule III stock. No DEA Form 222 (that is for Schedules I and II): the
    invoice is the record of receipt (21 CFR 1304.22(c); clinical.md section 7)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ledger_receipts")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="receipts")
    supplier_name = models.CharField(max_length=200)
    supplier_address = models.CharField(max_length=300)
    supplier_dea_number = models.CharField("supplier DEA number", max_length=20)
    invoice_number = models.CharField(max_length=60)
    lot = models.CharField(max_length=40)
    expires_on = models.DateField()
    vial_count = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(vial_count__gte=1), name="ledger_receipt_has_vials"
            ),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.invoice_number} from {self.supplier_name}: {self.vial_count} vials"


class Vial(models.Model):
    class Status(models.TextChoices):
        SEALED = "sealed", "Sealed"
        OPEN = "open", "Open"
        EMPTY = "empty", "Empty"
        DESTROYED = "destroyed", "Destroyed"
        LOST = "lost", "Lost or stolen"
        EXPIRED = "expired", "Expired (awaiting destruction)"
        REVERSED = "reversed", "Receipt reversed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ledger_vials")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="vials")
    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="vials")
    label = models.CharField(max_length=40, help_text="The vial's own identity, on its label.")
    lot = models.CharField(max_length=40)
    expires_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SEALED)
    opened_at = models.DateTimeField(null=True, blank=True)
    # The running balance, changed only by the ledger services under a row lock.
    in_vial_mg = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal(0))
    drawn_pending_mg = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal(0))
    last_seq = models.BigIntegerField(default=0, help_text="The ledger entry last applied.")

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "label"], name="ledger_vial_label_unique"),
            models.CheckConstraint(
                condition=models.Q(in_vial_mg__gte=0), name="ledger_vial_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(drawn_pending_mg__gte=0),
                name="ledger_vial_pending_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Vial {self.label} (lot {self.lot})"

    @property
    def on_hand_mg(self) -> Decimal:
        return self.in_vial_mg + self.drawn_pending_mg


class LedgerSettings(models.Model):
    """A clinic's ledger policy (set up by its medical director in the administration). A clinic
    without a row uses the defaults."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="ledger_settings")
    second_counter_required = models.BooleanField(
        "Counts need a second counter",
        default=False,
        help_text="When on, every stock count is signed by a second credentialed person with "
        "their own username and password, like a witness.",
    )

    class Meta:
        verbose_name = "ledger settings"
        verbose_name_plural = "ledger settings"

    def __str__(self) -> str:
        return f"Ledger settings of {self.clinic}"


class LedgerHead(models.Model):
    """One row: the sequence number and hash of the newest ledger entry."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"ledger head at #{self.seq}"


class DiscrepancyCase(models.Model):
    """A count that did not match the ledger; only the medical director resolves it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Outcome(models.TextChoices):
        NONE = "", "—"
        ADJUST = "adjust", "Adjust the ledger to the count"
        COUNT_ERROR = "count_error", "The count was wrong (recount matched the ledger)"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ledger_cases")
    vial = models.ForeignKey(Vial, on_delete=models.PROTECT, related_name="cases")
    count_line = models.OneToOneField("CountLine", on_delete=models.PROTECT, related_name="case")
    expected_mg = models.DecimalField(max_digits=12, decimal_places=3)
    counted_mg = models.DecimalField(max_digits=12, decimal_places=3)
    difference_mg = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="Counted minus expected."
    )
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open")
                | (
                    models.Q(resolved_by__isnull=False)
                    & models.Q(resolved_at__isnull=False)
                    & ~models.Q(resolution_reason="")
                    & ~models.Q(outcome="")
                ),
                name="ledger_case_resolution_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Discrepancy {self.pk} on {self.vial}: {self.difference_mg} mg"


class LedgerEntry(AppendOnly):
    class Kind(models.TextChoices):
        RECEIVED = "received", "Received"
        DRAWN = "drawn", "Drawn for a patient"
        ADMINISTERED = "administered", "Administered"
        WASTED = "wasted", "Wasted (witnessed)"
        DESTROYED = "destroyed", "Destroyed (DEA Form 41)"
        LOST = "lost", "Lost or stolen (DEA Form 106)"
        ADJUSTED = "adjusted", "Count adjustment"
        CORRECTION = "correction", "Correction"

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ledger_entries")
    vial = models.ForeignKey(Vial, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What the entry is about (always positive: mg received, drawn, given, wasted ...).
    quantity_mg = models.DecimalField(max_digits=12, decimal_places=3)
    # Signed changes to the vial's two balances, and the balances after this entry.
    amount_mg = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="Signed change of what is in the vial."
    )
    balance_after_mg = models.DecimalField(max_digits=12, decimal_places=3)
    pending_change_mg = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal(0))
    pending_after_mg = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal(0))
    volume_ml = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    actor_username = models.CharField(max_length=150)
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    witness_username = models.CharField(max_length=150, blank=True)
    witness2 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    witness2_username = models.CharField(max_length=150, blank=True)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    session = models.ForeignKey(
        InfusionSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    draw = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="dispositions"
    )
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    case = models.ForeignKey(
        DiscrepancyCase, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    reason = models.CharField(max_length=300, blank=True)
    note = models.CharField(max_length=300, blank=True)
    form_data = models.JSONField(default=dict, blank=True, help_text="DEA Form 41 / 106 data.")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["vial", "seq"], name="ledger_vial_seq")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity_mg__gte=0), name="ledger_quantity_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(balance_after_mg__gte=0), name="ledger_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(pending_after_mg__gte=0), name="ledger_pending_not_negative"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="drawn") | models.Q(patient__isnull=False),
                name="ledger_draw_for_a_patient",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="administered") | models.Q(draw__isnull=False),
                name="ledger_administered_from_a_draw",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="wasted")
                | (models.Q(witness__isnull=False) & ~models.Q(witness=models.F("actor"))),
                name="ledger_waste_witnessed_by_another",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="destroyed")
                | (
                    models.Q(witness__isnull=False)
                    & models.Q(witness2__isnull=False)
                    & ~models.Q(witness=models.F("witness2"))
                ),
                name="ledger_destruction_two_witnesses",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="adjusted") | models.Q(case__isnull=False),
                name="ledger_adjustment_from_a_case",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="correction")
                | (models.Q(corrects__isnull=False) & ~models.Q(reason="")),
                name="ledger_correction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.get_kind_display()} {self.quantity_mg} mg, vial {self.vial_id}"


class Count(AppendOnly):
    """A daily or shift count of every sealed and open vial against the ledger."""

    class Shift(models.TextChoices):
        OPENING = "opening", "Opening of business"
        SHIFT = "shift", "Shift change"
        CLOSING = "closing", "Close of business"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ledger_counts")
    at = models.DateTimeField()
    shift = models.CharField(max_length=16, choices=Shift.choices)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    second_counter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The second person who counted, signing with their own credentials.",
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        local_at = clinic_local(self.clinic, self.at)
        return f"Count {self.pk} ({self.get_shift_display()}) at {local_at:%Y-%m-%d %H:%M}"


class CountLine(AppendOnly):
    """One vial in a count: a sealed vial is there or not; an open vial's remaining volume is
    measured (and converted at the product's concentration)."""

    count = models.ForeignKey(Count, on_delete=models.PROTECT, related_name="lines")
    vial = models.ForeignKey(Vial, on_delete=models.PROTECT, related_name="count_lines")
    sealed = models.BooleanField()
    present = models.BooleanField()
    measured_volume_ml = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    expected_mg = models.DecimalField(max_digits=12, decimal_places=3)
    counted_mg = models.DecimalField(max_digits=12, decimal_places=3)
    difference_mg = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["vial__label"]
        constraints = [
            models.UniqueConstraint(fields=["count", "vial"], name="ledger_count_vial_once"),
        ]

    def __str__(self) -> str:
        return f"{self.vial}: counted {self.counted_mg} mg, expected {self.expected_mg} mg"


class Inventory(AppendOnly):
    """An initial or biennial inventory, frozen once taken (21 CFR 1304.11(a)-(c))."""

    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial inventory"
        BIENNIAL = "biennial", "Biennial inventory"

    class Timing(models.TextChoices):
        OPENING = "opening", "Opening of business"
        CLOSING = "closing", "Close of business"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ledger_inventories")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    timing = models.CharField(max_length=16, choices=Timing.choices)
    taken_at = models.DateTimeField()
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-taken_at", "-pk"]
        verbose_name_plural = "inventories"

    def __str__(self) -> str:
        local_at = clinic_local(self.clinic, self.taken_at)
        return f"{self.get_kind_display()} of {local_at:%Y-%m-%d} ({self.get_timing_display()})"


class InventoryLine(AppendOnly):
    class Method(models.TextChoices):
        EXACT = "exact", "Exact count"
        ESTIMATED = "estimated", "Estimated (open Schedule III container)"

    inventory = models.ForeignKey(Inventory, on_delete=models.PROTECT, related_name="lines")
    vial = models.ForeignKey(Vial, on_delete=models.PROTECT, related_name="inventory_lines")
    product_name = models.CharField(max_length=120)
    ndc = models.CharField(max_length=20)
    lot = models.CharField(max_length=40)
    concentration_mg_per_ml = models.DecimalField(max_digits=8, decimal_places=3)
    sealed = models.BooleanField()
    method = models.CharField(max_length=16, choices=Method.choices)
    measured_volume_ml = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    counted_mg = models.DecimalField(max_digits=12, decimal_places=3)
    ledger_mg = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["vial__label"]
        constraints = [
            models.UniqueConstraint(
                fields=["inventory", "vial"], name="ledger_inventory_vial_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vial}: {self.counted_mg} mg ({self.get_method_display()})"


# The audit trail's name of each kind of ledger record a person opens (its ``object_type``):
# the access check's refusals and the audit of the record's page use the same name.
OBJECT_TYPES: dict[type[models.Model], str] = {
    Vial: "ledger_vial",
    LedgerEntry: "ledger_entry",
    Receipt: "ledger_receipt",
    DiscrepancyCase: "ledger_case",
    Count: "ledger_count",
    Inventory: "ledger_inventory",
}
