"""A session's records read once for a whole page (issue 15 item 1).

The page's selector (:func:`ketaflow.infusions.selectors.session_page`) reads each kind of record
of the session once: its pump events, vitals, side effects, addenda and decisions as Django
prefetches, its questionnaire answers and the clinic's schedule as :func:`preload` records.
The reads the services, gates and timers share (:func:`session_rows`, :func:`responses`,
:func:`schedule`) use them when they are there and read the database otherwise, so a write,
which works on a freshly locked row, always sees the database.
"""

from __future__ import annotations

from typing import Any

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.infusions.models import InfusionSession
from ketaflow.treatment.models import ScheduleSettings
from ketaflow.treatment.services import schedule_settings

_PRELOADED = "_infusion_page_records"


def preload(
    session: InfusionSession,
    *,
    schedule: ScheduleSettings,
    responses: list[InstrumentResponse] | None = None,
) -> None:
    """Attach its clinic's schedule and, when read, the session's questionnaire answers (oldest
    first)."""
    setattr(session, _PRELOADED, {"responses": responses, "schedule": schedule})


def _preloaded(session: InfusionSession) -> dict[str, Any]:
    found: dict[str, Any] = getattr(session, _PRELOADED, {})
    return found


def session_rows(session: InfusionSession, relation: str, *related: str) -> list[Any]:
    """The rows of ``relation`` (``vitals``, ``events``, ``decisions`` ...) in their model's
    order: the page's prefetch when it has one, else read now with ``related`` joined.

    No ``related``, no join: Django's ``select_related()`` without names follows every non-null
    foreign key, and from a decision that is the session, its appointment, course, chair,
    patient, clinic and their people, a join PostgreSQL's planner spent over ten minutes on
    (the demo's load in CI, issue 15)."""
    cache: dict[str, Any] = getattr(session, "_prefetched_objects_cache", {})
    if relation in cache:
        return list(cache[relation])
    rows = getattr(session, relation).all()
    return list(rows.select_related(*related) if related else rows)


def responses(session: InfusionSession) -> list[InstrumentResponse] | None:
    """The session's questionnaire answers, oldest first, when the page read them (else None)."""
    found: list[InstrumentResponse] | None = _preloaded(session).get("responses")
    return found


def schedule(session: InfusionSession) -> ScheduleSettings:
    """The clinic's monitoring schedule (its defaults when it set none)."""
    found: ScheduleSettings | None = _preloaded(session).get("schedule")
    return found if found is not None else schedule_settings(session.patient.clinic)
