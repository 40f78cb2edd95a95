"""Writes and audited reads of the patient registry.

Every function takes the acting person (``actor``) and records what it did in the audit trail in
the same transaction. Each write calls ``full_clean()``: a record that breaks a rule is refused
with the field named and nothing stored.

Split by concern: :mod:`.registration`, :mod:`.records` (a chart's sub-records and notes),
:mod:`.registry` (merge, deactivation) and :mod:`.reads` (audited reads and exports), over what
they share (:mod:`.base`). Every name is re-exported here, so callers are unchanged.
"""

from ketaflow.patients.services.base import (
    _PATIENT_FIELDS,
    RECORD_KINDS,
    require_active,
    slashes_day_first,
    snapshot,
)
from ketaflow.patients.services.reads import (
    chart_viewed,
    form_viewed,
    patient_export,
    patient_list_viewed,
    patient_record_export,
)
from ketaflow.patients.services.records import (
    note_add,
    record_add,
    record_kind_of,
    record_remove,
    record_update,
)
from ketaflow.patients.services.registration import (
    DUPLICATE_CODE,
    PossibleDuplicate,
    duplicates_shown,
    patient_link_login,
    patient_register,
    patient_update,
    possible_duplicates,
)
from ketaflow.patients.services.registry import (
    MERGE_MOVES,
    MERGE_REFUSALS,
    OPEN_COURSE_STATUSES,
    merge_problems,
    patient_deactivate,
    patient_foreign_keys,
    patient_merge,
    patient_reactivate,
)

__all__ = [
    "DUPLICATE_CODE",
    "MERGE_MOVES",
    "MERGE_REFUSALS",
    "OPEN_COURSE_STATUSES",
    "RECORD_KINDS",
    "_PATIENT_FIELDS",
    "PossibleDuplicate",
    "chart_viewed",
    "duplicates_shown",
    "form_viewed",
    "merge_problems",
    "note_add",
    "patient_deactivate",
    "patient_export",
    "patient_foreign_keys",
    "patient_link_login",
    "patient_list_viewed",
    "patient_merge",
    "patient_reactivate",
    "patient_record_export",
    "patient_register",
    "patient_update",
    "possible_duplicates",
    "record_add",
    "record_kind_of",
    "record_remove",
    "record_update",
    "require_active",
    "slashes_day_first",
    "snapshot",
]
