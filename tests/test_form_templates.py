"""One form-field template (issue 15 item 5): no template outside web/ writes a field's label,
help or errors by hand."""

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ketaflow"

# Every form field renders through web/field.html (Django's form renderer, field.as_field_group),
# web/cell_field.html in a table cell, or web/field_notes.html under a grid's own input; every
# error summary through web/form_errors.html. These give the help and error elements the ids
# Django's aria-describedby names. A template elsewhere that writes a field's label, help or
# errors by hand (the six copies this replaced) would leave its input unlinked.

FIELD_MARKUP_BY_HAND = [
    (re.compile(r"non_field_errors"), "non-field errors by hand"),
    (re.compile(r"errorlist"), "Django's error list"),
    # A bound field's or form's .errors (a view's own list of refusals is not a form's).
    (re.compile(r"\{\{\s*[\w.]*\.errors"), "errors printed by hand"),
    (re.compile(r"\bin\s+[\w.]*\.errors\b"), "a loop over errors"),
    (re.compile(r"\{\{\s*[\w.]*help_text"), "help text by hand"),
    # A label for a whole field; a radio's or checkbox's own choice may be labelled in a grid.
    (re.compile(r"\{\{\s*(?!choice\.|radio\.)[\w.]+\.id_for_label"), "a field's label by hand"),
]


def field_markup_by_hand(text: str) -> list[str]:
    """What a template writes by hand that the shared field templates own (by rule)."""
    return [what for pattern, what in FIELD_MARKUP_BY_HAND if pattern.search(text)]


def test_only_the_shared_templates_write_field_labels_help_and_errors() -> None:
    shared = SRC / "web" / "templates" / "web"
    found = {
        str(path.relative_to(SRC)): bad
        for path in sorted(SRC.glob("*/templates/**/*.html"))
        if shared not in path.parents
        and (bad := field_markup_by_hand(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "use {{ field.as_field_group }} and web/form_errors.html instead"


@pytest.mark.parametrize(
    ("copy", "rule"),
    [
        # The copies this replaced, as they were (ledger/_field.html, infusions/_form_errors.html,
        # api/tokens.html, clinicsettings/_setting.html, the questionnaire's item).
        (
            '<label for="{{ field.id_for_label }}">{{ field.label }}</label>{{ field }}'
            "{% if field.help_text %}<small>{{ field.help_text }}</small>{% endif %}",
            "a field's label by hand",
        ),
        (
            "{% for error in f.non_field_errors %}<li>{{ error }}</li>{% endfor %}",
            "non-field errors by hand",
        ),
        (
            '{% for e in field.errors %}<p class="error">{{ e }}</p>{% endfor %}',
            "a loop over errors",
        ),
        ("<small>Allowed: {{ form.value.help_text }}</small>", "help text by hand"),
        (
            '{% if field.errors %}<p class="error">{{ field.errors.0 }}</p>{% endif %}',
            "errors printed by hand",
        ),
    ],
)
def test_the_markup_check_finds_the_old_copies(copy: str, rule: str) -> None:
    assert rule in field_markup_by_hand(copy)
    allowed = [
        "{% for e in event_errors %}<li>{{ e }}</li>{% endfor %}",  # a view's list, no form's
        '{% for choice in field %}<label for="{{ choice.id_for_label }}">',
        "{{ field.as_field_group }}{% if field.errors %} has-error{% endif %}",
    ]
    assert [field_markup_by_hand(text) for text in allowed] == [[], [], []]
