"""Planning a course and booking its infusions into chairs, with every refusal explained.

Every write takes the acting person (``actor``), runs in one transaction, calls ``full_clean()``
and writes its audit entry (with the patient) in that transaction. Booking is all or nothing:
every conflict of every requested slot is collected and the whole request is refused with the
list, so nothing is ever half-booked. Times are stored aware (UTC in the database) and compared
with opening hours in the clinic's own time zone (``Clinic.time_zone``).

The writes are split by concern (:mod:`.planning`, :mod:`.booking`, :mod:`.appointments`) over
what they share (:mod:`.base`); the audited page reads are in :mod:`.reads`. Every name is
re-exported here, so callers import ``ketaflow.treatment.services`` as before.
"""

from ketaflow.treatment.services.appointments import appointment_cancel, appointment_reschedule
from ketaflow.treatment.services.base import (
    HOLDING_STATUSES,
    LIBRARY_KEYS,
    PATTERN_SETTINGS,
    BookingRefused,
    chair_minutes,
    clinic_datetime,
    clinic_today,
    clinic_zone,
    local,
    open_weekdays,
    schedule_settings,
)
from ketaflow.treatment.services.booking import Slot, SlotRequest, course_book, slots_from_requests
from ketaflow.treatment.services.planning import (
    DoseCheck,
    basis_weight_kg,
    course_dose,
    course_plan,
    dose_check,
    induction_settings,
    schedule_preview,
)
from ketaflow.treatment.services.reads import board_viewed, course_viewed

__all__ = [
    "HOLDING_STATUSES",
    "LIBRARY_KEYS",
    "PATTERN_SETTINGS",
    "BookingRefused",
    "DoseCheck",
    "Slot",
    "SlotRequest",
    "appointment_cancel",
    "appointment_reschedule",
    "basis_weight_kg",
    "board_viewed",
    "chair_minutes",
    "clinic_datetime",
    "clinic_today",
    "clinic_zone",
    "course_book",
    "course_dose",
    "course_plan",
    "course_viewed",
    "dose_check",
    "induction_settings",
    "local",
    "open_weekdays",
    "schedule_preview",
    "schedule_settings",
    "slots_from_requests",
]
