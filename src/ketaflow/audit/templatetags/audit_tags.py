"""The audit trail's rows written in Python (issue 16).

The audit trail lists 100 entries a page; a row of ``audit/_entries.html`` cost about 0.4 ms of
template rendering (a dozen lookups and filters), two thirds of the director's slowest page.
``audit_rows`` returns, character for character, what the template's loop returned
(tests/audit/test_audit_rows.py renders that loop beside it): each value as ``{{ value }}``
renders it (localised, escaped), the time on the clock of the time zone the page is rendered
in (the ``{% timezone %}`` block around the table: the clinic's), codes in words by the display
layer's own filters.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.safestring import SafeString, mark_safe

from ketaflow.accounts.clinictime import active_local
from ketaflow.audit.models import AuditEntry
from ketaflow.web.markup import as_text as _v
from ketaflow.web.templatetags.display import label, readable
from ketaflow.web.templatetags.fast import date

register = template.Library()

NO_ENTRIES = '<tr><td colspan="8">No entries.</td></tr>'


def _row(entry: AuditEntry, mrn: str | None) -> str:
    e = entry
    at = date(active_local(e.at), "Y-m-d H:i:s")  # the {% timezone %} block's: the clinic's
    role = f" ({_v(label(e.actor_role))})" if e.actor_role else ""
    record = _v(label(e.object_type)) + (f" {_v(e.object_id)}" if e.object_id else "")
    count = len(e.patient_ids)
    patients = _v(mrn or "") + (f" {_v(count)} patients" if count > 1 else "")
    return (
        f"\n    <tr><td>{_v(e.seq)}</td><td>{at}</td>"
        f"<td>{_v(e.actor_username)}{role}</td>\n"
        f"      <td>{_v(e.get_action_display())}</td><td>{record}</td><td>{patients}</td>"
        f"<td>{_v(readable(e.summary))}</td><td>{_v(e.ip_address or '')}</td></tr>\n  "
    )


@register.simple_tag
def audit_rows(rows: Iterable[tuple[AuditEntry, str | None]]) -> SafeString:
    """The trail's rows (entry, the patient's record number or None), or the one row saying
    there are none."""
    out = [_row(entry, mrn) for entry, mrn in rows]
    return mark_safe("".join(out) if out else NO_ENTRIES)  # noqa: S308 - every value escaped above
