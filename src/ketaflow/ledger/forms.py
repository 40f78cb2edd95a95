"""Forms of the ledger pages. They only parse; every rule is checked by the services.

Witness passwords are typed into a password input that is never re-rendered with its value, and
they go to ``django.contrib.auth.authenticate`` and nowhere else."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet

from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger.models import Count, DiscrepancyCase, Inventory, Product, Vial
from ketaflow.ledger.services import LOSS_KINDS
from ketaflow.patients.models import Patient

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


def _mg_field(label: str, *, required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=required, max_digits=12, decimal_places=3, min_value=Decimal(0)
    )


def _ml_field(label: str, *, required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=required, max_digits=9, decimal_places=3, min_value=Decimal(0)
    )


def _witness_fields(prefix: str, label: str) -> dict[str, forms.Field]:
    return {
        f"{prefix}_username": forms.CharField(label=f"{label}: username", max_length=150),
        f"{prefix}_password": forms.CharField(
            label=f"{label}: password",
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        ),
    }


class ProductForm(forms.ModelForm[Product]):
    class Meta:
        model = Product
        fields = ["name", "ndc", "concentration_mg_per_ml", "volume_per_vial_ml"]
        labels = {
            "concentration_mg_per_ml": "Concentration (mg/mL)",
            "volume_per_vial_ml": "Volume per vial (mL)",
        }


class ReceiveForm(forms.Form):
    lot = forms.CharField(max_length=40)
    expires_on = forms.DateField(widget=DateInput(format="%Y-%m-%d"), label="Expires on")
    vial_count = forms.IntegerField(min_value=1, max_value=500, label="Number of vials")
    supplier_name = forms.CharField(max_length=200, label="Supplier")
    supplier_address = forms.CharField(max_length=300, label="Supplier address")
    supplier_dea_number = forms.CharField(max_length=20, label="Supplier DEA number")
    invoice_number = forms.CharField(
        max_length=60,
        label="Invoice number",
        help_text="Schedule III: the invoice is the record of receipt (no DEA Form 222).",
    )
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, products: QuerySet[Product], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"] = forms.ModelChoiceField(queryset=products)
        self.order_fields(["product"])
        if self.data.get(DUPLICATE_INVOICE_FIELD):
            self.ask_duplicate_confirmation()

    def ask_duplicate_confirmation(self) -> None:
        """Offer the explicit confirmation once the invoice was found already received."""
        self.fields[DUPLICATE_INVOICE_FIELD] = forms.BooleanField(
            required=False,
            label="Receive anyway: this is a further delivery on an invoice already received",
        )


DUPLICATE_INVOICE_FIELD = "duplicate_invoice_confirmed"


class DrawForm(forms.Form):
    volume_ml = _ml_field("Volume drawn (mL)")
    note = forms.CharField(max_length=300, required=False)

    def __init__(
        self,
        *args: Any,
        patients: QuerySet[Patient],
        sessions: QuerySet[InfusionSession],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"] = forms.ModelChoiceField(queryset=patients)
        self.fields["session"] = forms.ModelChoiceField(
            queryset=sessions,
            required=False,
            label="Infusion session",
            help_text="The session whose infusion record names this vial's lot.",
        )
        self.order_fields(["patient", "session"])


class WasteForm(forms.Form):
    amount_mg = _mg_field("Amount wasted (mg)")
    reason = forms.CharField(max_length=300)

    def __init__(self, *args: Any, draws: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["draw"] = forms.TypedChoiceField(
            choices=[("", "— from the vial itself —"), *draws],
            coerce=int,
            required=False,
            empty_value=None,
            label="Residue of the draw",
        )
        self.order_fields(["draw"])
        self.fields.update(_witness_fields("witness", "Witness"))


class DestroyForm(forms.Form):
    method = forms.CharField(max_length=120, help_text="e.g. chemical digestion kit, brand")
    location = forms.CharField(max_length=200)
    reason = forms.CharField(max_length=300, help_text="e.g. expired, contaminated")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(_witness_fields("witness", "First witness"))
        self.fields.update(_witness_fields("witness2", "Second witness"))


class LossForm(forms.Form):
    loss_kind = forms.ChoiceField(choices=list(LOSS_KINDS.items()), label="What happened")
    discovered_at = forms.DateTimeField(
        widget=DateTimeInput(format="%Y-%m-%dT%H:%M"),
        input_formats=DATETIME_FORMATS,
        label="Discovered at",
    )
    amount_mg = _mg_field("Amount (mg; empty: all that is in the vial)", required=False)
    circumstances = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    police_report = forms.CharField(max_length=120, required=False, label="Police report number")


class StockLinesForm(forms.Form):
    """One line per vial in stock: present (sealed and open) and remaining volume (open)."""

    def __init__(self, *args: Any, vials: list[Vial], estimate: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.vials = vials
        for vial in vials:
            self.fields[f"present_{vial.pk}"] = forms.BooleanField(
                required=False, initial=True, label=f"{vial.label} present"
            )
            if vial.status != Vial.Status.SEALED:
                self.fields[f"volume_{vial.pk}"] = _ml_field(
                    f"{vial.label} remaining volume (mL)", required=False
                )
                if estimate:
                    self.fields[f"estimated_{vial.pk}"] = forms.BooleanField(
                        required=False, label=f"{vial.label}: estimated"
                    )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "vial": vial,
                "present": self[f"present_{vial.pk}"],
                "volume": self[f"volume_{vial.pk}"] if f"volume_{vial.pk}" in self.fields else None,
                "estimated": self[f"estimated_{vial.pk}"]
                if f"estimated_{vial.pk}" in self.fields
                else None,
            }
            for vial in self.vials
        ]


class CountForm(StockLinesForm):
    shift = forms.ChoiceField(choices=Count.Shift.choices)
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, second_counter: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if second_counter:
            self.fields.update(_witness_fields("second_counter", "Second counter"))


class InventoryForm(StockLinesForm):
    kind = forms.ChoiceField(choices=Inventory.Kind.choices)
    timing = forms.ChoiceField(choices=Inventory.Timing.choices, label="Taken at")
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, vials: list[Vial], **kwargs: Any) -> None:
        super().__init__(*args, vials=vials, estimate=True, **kwargs)


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[c for c in DiscrepancyCase.Outcome.choices if c[0]], widget=forms.RadioSelect
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class PaperAdministrationForm(forms.Form):
    """The amount given from a draw that has no infusion session in KetaFlow."""

    amount_mg = _mg_field("Amount given (mg), per the paper infusion record")


class ReceiptReverseForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why the whole receipt is reversed")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(_witness_fields("witness", "Witness"))


class CorrectForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why this entry is reversed")
