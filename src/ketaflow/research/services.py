"""The research export as one audited act: read the clinic's de-identified tables, build the
files, and write the audit entry naming who, when, the row counts and every patient whose data
it read (their access history lists it) in the clinic's chain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

import ketaflow
from ketaflow.accounts.clinictime import clinic_now
from ketaflow.accounts.models import Clinic
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.clinical.deidentify import TABLES_BY_NAME, Pseudonyms
from ketaflow.research.files import Format, export_files, zip_bytes
from ketaflow.research.selectors import Progress, research_data, research_patients


@dataclass(frozen=True)
class ResearchExport:
    files: dict[str, bytes]
    counts: dict[str, int]
    folder: str  # e.g. "ketaflow-research-2026-12-01"

    def zip(self) -> bytes:
        return zip_bytes(self.files, self.folder)


def research_export(
    *,
    actor: Actor,
    clinic: Clinic,
    formats: Sequence[Format],
    progress: Progress | None = None,
) -> ResearchExport:
    """The clinic's de-identified export (the caller has checked who may ask). One read
    transaction, so every table describes the same moment; the audit entry in it."""
    if not formats:
        raise ValueError("choose at least one format (csv, parquet)")
    with transaction.atomic():
        data = research_data(clinic, Pseudonyms(), progress)
        now = clinic_now(clinic)
        files = export_files(
            data.tables,
            formats=formats,
            exported_at=now,
            version=ketaflow.__version__,
            clinic_time_zone=clinic.time_zone,
        )
        counts = data.counts()
        audit_record(
            actor=actor,
            action=Action.EXPORT,
            object_type="research_export",
            clinic=clinic,
            patient_ids=[p.pk for p in research_patients(clinic)],
            summary="de-identified research export: "
            + ", ".join(f"{TABLES_BY_NAME[name].label} {n}" for name, n in counts.items()),
            detail={
                "formats": [f.value for f in formats],
                "row_counts": counts,
                "at": timezone.now().isoformat(timespec="seconds"),
            },
        )
    return ResearchExport(files=files, counts=counts, folder=f"ketaflow-research-{now:%Y-%m-%d}")
