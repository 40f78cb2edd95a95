"""The audit trail's rows, written in Python (``audit_tags.audit_rows``), give character for
character what the template's loop gave: the loop is kept here as the reference and both are
rendered from the same entries, in a clinic's time zone that is not UTC, with and without a
role, a record id, a record number and several patients, and text that needs escaping."""

from __future__ import annotations

import datetime as dt

from django.template import Context, Template

from ketaflow.audit.models import AuditEntry

# The loop ``audit/_entries.html`` had before the tag (session 17), as it was.
REFERENCE_LOOP = (
    "{% for e, mrn in rows %}\n"
    '    <tr><td>{{ e.seq }}</td><td>{{ e.at|date:"Y-m-d H:i:s" }}</td><td>{{ e.actor_username }}'
    "{% if e.actor_role %} ({{ e.actor_role|label }}){% endif %}</td>\n"
    "      <td>{{ e.get_action_display }}</td><td>{{ e.object_type|label }}{% if e.object_id %} "
    '{{ e.object_id }}{% endif %}</td><td>{{ mrn|default:"" }}{% if e.patient_ids|length > 1 %}'
    " {{ e.patient_ids|length }} patients{% endif %}</td><td>{{ e.summary|readable }}</td><td>"
    '{{ e.ip_address|default:"" }}</td></tr>\n'
    '  {% empty %}<tr><td colspan="8">No entries.</td></tr>{% endfor %}'
)
TAG = "{% load audit_tags %}{% audit_rows rows %}"


def _entries() -> list[tuple[AuditEntry, str | None]]:
    at = dt.datetime(2026, 12, 2, 11, 59, 58, 123456, tzinfo=dt.UTC)
    return [
        (
            AuditEntry(
                seq=1234567,
                at=at,
                actor_username="nurse<b>",
                actor_role="nurse",
                action=AuditEntry.Action.VIEW,
                object_type="infusion_session",
                object_id="41",
                patient_ids=[5],
                summary="viewed dose 1E+1 mg & status awaiting_cosign <script>",
                ip_address="10.0.0.7",
            ),
            "MRN-<0001>",
        ),
        (
            AuditEntry(
                seq=2,
                at=at + dt.timedelta(hours=13),  # the next day on the clinic's clock
                actor_username="",
                actor_role="",
                action=AuditEntry.Action.CREATE,
                object_type="patient_list",
                object_id="",
                patient_ids=[1, 2, 3],
                summary="listed 3 patients",
                ip_address=None,
            ),
            None,
        ),
    ]


def _render(source: str, rows: list[tuple[AuditEntry, str | None]]) -> str:
    # The page wraps the table in the clinic's zone ({% timezone time_zone %}).
    page = Template("{% load tz %}{% timezone 'Pacific/Auckland' %}" + source + "{% endtimezone %}")
    return page.render(Context({"rows": rows}))


def test_the_rows_are_the_template_s_character_for_character() -> None:
    rows = _entries()
    written = _render(TAG, rows)
    assert written == _render(REFERENCE_LOOP, rows)
    assert "2026-12-03 00:59:58" in written  # Auckland's clock, not UTC
    assert "&lt;script&gt;" in written
    assert "<script>" not in written
    assert "1E+1" not in written


def test_no_entries_is_one_row_saying_so() -> None:
    assert _render(TAG, []) == _render(REFERENCE_LOOP, [])
