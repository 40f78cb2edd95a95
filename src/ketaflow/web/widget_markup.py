"""Django's built-in widget templates written in Python (issue 16: a widget's template render
costs 0.2-1 ms, five to ten times this module's; a page renders dozens).

``render(template_name, context)`` returns what ``DjangoTemplates().render(template_name,
context)`` returns for the templates in ``django/forms/templates/django/forms/widgets/`` listed in
``TEMPLATES``, character for character, or ``None`` when it cannot promise that (another template
name, an option or subwidget whose template is not listed, a context it does not recognise); the
caller then renders the template. Each function below is one template of Django 5.2, read from
the same context the template reads, and keeps its text: its literal whitespace and newlines
(an included template ends with the newline of its file; only the outermost render is stripped).

The template language's rules are kept, not rewritten: ``{{ x }}`` is Django's own
``render_value_in_context`` (localisation, then ``conditional_escape``), ``|stringformat:'s'``
is Django's own filter (a safe value stays safe, as the filter is ``is_safe``), a missing key
renders as the engine's ``string_if_invalid`` ("": the form renderer's engine has no options)
and is false in an ``{% if %}``. A callable value (which a template would call) or a mapping
other than a plain dict (whose lookup a template would do differently) falls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from django.forms.boundfield import BoundField
from django.template import Context
from django.template.base import render_value_in_context
from django.template.defaultfilters import stringformat
from django.utils.html import strip_spaces_between_tags
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.translation import get_language


class _Unsupported(Exception):
    """This context needs the template itself."""


class _Missing:
    """A key the template would not find (``string_if_invalid`` / false)."""


_MISSING: Final = _Missing()
# The context the form renderer's engine makes: autoescape on, localisation and time zone
# from the settings (``use_l10n``/``use_tz`` None), as ``Template.render(dict)`` does.
_CONTEXT: Final = Context(autoescape=True)
_WIDGETS: Final = "django/forms/widgets/"


def _get(mapping: object, key: str) -> Any:
    """``mapping.key`` in a template, for the plain dicts widgets pass."""
    if type(mapping) is not dict:
        if mapping is _MISSING or mapping is None:
            return _MISSING
        raise _Unsupported
    value = mapping.get(key, _MISSING)
    if callable(value):
        raise _Unsupported
    return value


def _text(value: object) -> str:
    """``{{ value }}``."""
    if value is _MISSING:
        return ""
    return render_value_in_context(value, _CONTEXT)


def _as_string(value: object) -> str:
    """``{{ value|stringformat:'s' }}``."""
    if value is _MISSING:
        value = ""
    formatted = stringformat(value, "s")
    if isinstance(value, SafeData):
        formatted = mark_safe(formatted)  # noqa: S308  (the filter is is_safe: safe stays safe)
    return _text(formatted)


def _true(value: object) -> bool:
    """``{% if value %}``."""
    return value is not _MISSING and bool(value)


def _rows(value: object, width: int) -> list[Any]:
    """``{% for a, b, c in value %}`` (or one loop variable when ``width`` is 1)."""
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, list | tuple):
        raise _Unsupported
    for row in value:
        if width == 1:
            cells = [row]
        elif isinstance(row, tuple | list) and len(row) == width:
            cells = list(row)
        else:
            raise _Unsupported
        if any(callable(cell) for cell in cells):
            raise _Unsupported
    return list(value)


def _include(template_name: object, widget: object) -> str:
    """``{% include template_name with widget=widget %}``: the file's text, not stripped."""
    if not isinstance(template_name, str) or template_name not in TEMPLATES:
        raise _Unsupported
    return TEMPLATES[template_name](widget)


def _attrs(widget: object) -> str:
    """attrs.html: `` name="value"`` for each attribute, ``name`` alone for True, nothing for
    False."""
    attrs = _get(widget, "attrs")
    if attrs is _MISSING or attrs is None:
        return ""
    if type(attrs) is not dict or "items" in attrs:
        raise _Unsupported
    out = []
    for name, value in attrs.items():
        if callable(name) or callable(value):
            raise _Unsupported
        if value is not False:
            out.append(" " + _text(name))
            if value is not True:
                out.append('="' + _as_string(value) + '"')
    return "".join(out)


def _input(widget: object) -> str:
    """input.html."""
    value = _get(widget, "value")
    # {% if widget.value != None %}: the template calls the value's own __ne__ (which a value
    # may define to mean something else than identity), so `is not None` would differ; the
    # operator reads any error as false.
    try:
        compared: object = value is not _MISSING and value != None  # noqa: E711 (see above)
    except Exception:
        compared = False
    has_value = bool(compared)  # outside the try, as the {% if %} tests it
    return (
        '<input type="'
        + _text(_get(widget, "type"))
        + '" name="'
        + _text(_get(widget, "name"))
        + '"'
        + ("" if not has_value else ' value="' + _as_string(value) + '"')
        + _attrs(widget)
        + ">\n"
    )


def _textarea(widget: object) -> str:
    """textarea.html."""
    value = _get(widget, "value")
    return (
        '<textarea name="'
        + _text(_get(widget, "name"))
        + '"'
        + _attrs(widget)
        + ">\n"
        + (_text(value) if _true(value) else "")
        + "</textarea>\n"
    )


def _select(widget: object) -> str:
    """select.html: each optgroup's options, each on its own line after two spaces."""
    out = ['<select name="' + _text(_get(widget, "name")) + '"' + _attrs(widget) + ">"]
    for group_name, group_choices, _index in _rows(_get(widget, "optgroups"), 3):
        if _true(group_name):
            out.append('\n  <optgroup label="' + _text(group_name) + '">')
        for option in _rows(group_choices, 1):
            out.append("\n  " + _include(_get(option, "template_name"), option))
        if _true(group_name):
            out.append("\n  </optgroup>")
    out.append("\n</select>\n")
    return "".join(out)


def _select_option(widget: object) -> str:
    """select_option.html."""
    return (
        '<option value="'
        + _as_string(_get(widget, "value"))
        + '"'
        + _attrs(widget)
        + ">"
        + _text(_get(widget, "label"))
        + "</option>\n"
    )


def _input_option(widget: object) -> str:
    """input_option.html: a radio or checkbox inside its label."""
    wrap = _true(_get(widget, "wrap_label"))
    ident = _get(_get(widget, "attrs"), "id")
    opening = ""
    if wrap:
        opening = "<label" + (' for="' + _text(ident) + '"' if _true(ident) else "") + ">"
    closing = " " + _text(_get(widget, "label")) + "</label>" if wrap else ""
    return opening + _input(widget) + closing + "\n"


def _multiple_input(widget: object) -> str:
    """multiple_input.html: a div of one div a radio or checkbox (radio.html,
    checkbox_select.html)."""
    attrs = _get(widget, "attrs")
    ident = _get(attrs, "id")
    css_class = _get(attrs, "class")
    out = [
        "<div"
        + (' id="' + _text(ident) + '"' if _true(ident) else "")
        + (' class="' + _text(css_class) + '"' if _true(css_class) else "")
        + ">"
    ]
    for group, options, _index in _rows(_get(widget, "optgroups"), 3):
        if _true(group):
            out.append("\n  <div><label>" + _text(group) + "</label>")
        for option in _rows(options, 1):
            out.append("<div>\n    " + _include(_get(option, "template_name"), option) + "</div>")
        if _true(group):
            out.append("\n  </div>")
    out.append("\n</div>\n")
    return "".join(out)


def _multiwidget(widget: object) -> str:
    """multiwidget.html: the subwidgets in a ``{% spaceless %}``."""
    inner = "".join(
        _include(_get(sub, "template_name"), sub) for sub in _rows(_get(widget, "subwidgets"), 1)
    )
    return strip_spaces_between_tags(inner.strip()) + "\n"


def _including(template: Callable[[object], str]) -> Callable[[object], str]:
    """A file whose whole text is ``{% include "..." %}`` and its newline."""
    return lambda widget: template(widget) + "\n"


TEMPLATES: Final[dict[str, Callable[[object], str]]] = {
    _WIDGETS + "attrs.html": _attrs,
    _WIDGETS + "input.html": _input,
    _WIDGETS + "textarea.html": _textarea,
    _WIDGETS + "select.html": _select,
    _WIDGETS + "select_option.html": _select_option,
    _WIDGETS + "input_option.html": _input_option,
    _WIDGETS + "multiple_input.html": _multiple_input,
    _WIDGETS + "multiwidget.html": _multiwidget,
    **{
        _WIDGETS + name: _including(_input)
        for name in (
            "text.html",
            "number.html",
            "email.html",
            "password.html",
            "hidden.html",
            "date.html",
            "time.html",
            "datetime.html",
            "tel.html",
            "url.html",
            "search.html",
            "color.html",
            "file.html",
            "checkbox.html",
        )
    },
    _WIDGETS + "radio_option.html": _including(_input_option),
    _WIDGETS + "checkbox_option.html": _including(_input_option),
    _WIDGETS + "radio.html": _including(_multiple_input),
    _WIDGETS + "checkbox_select.html": _including(_multiple_input),
    **{
        _WIDGETS + name: _including(_multiwidget)
        for name in (
            "multiple_hidden.html",
            "splitdatetime.html",
            "splithiddendatetime.html",
            "select_date.html",
        )
    },
}
"""Each template this module renders, by the name Django's widgets give it."""


def render(template_name: str, context: object) -> SafeString | None:
    """``template_name`` rendered with ``context`` as the form renderer's template would render
    it (stripped, as ``BaseRenderer.render`` strips it), or None: render the template."""
    template = TEMPLATES.get(template_name)
    if template is None or type(context) is not dict or "widget" not in context:
        return None
    try:
        markup = template(_get(context, "widget")).strip()
    except _Unsupported:
        return None
    return mark_safe(markup)  # noqa: S308  (every value in it went through _text)


# --- the project's field group: web/field.html (and the web/field_notes.html it includes) -------

FIELD_TEMPLATE: Final = "web/field.html"
_REQUIRED: Final = ' <span class="req" title="required">*</span>'


def _field_notes(field: BoundField) -> str:
    """web/field_notes.html as web/field.html includes it (``help_hidden`` unset): a field's
    help and errors with the ids Django's ``aria-describedby`` names."""
    auto_id = field.auto_id
    help_text = field.help_text
    help_part = ""
    if help_text:
        ident = f' id="{_text(auto_id)}_helptext"' if auto_id else ""
        help_part = f"<small{ident}>{_text(help_text)}</small>"
    errors = field.errors
    error_part = ""
    if errors:
        ident = f' id="{_text(auto_id)}_error"' if auto_id else ""
        items = "".join(f"<p>{_text(error)}</p>" for error in errors)
        error_part = f'<div class="error"{ident}>{items}</div>'
    return f"\n{help_part}\n{error_part}\n"


def _field_group(field: BoundField) -> str:
    """web/field.html: a field's label, input, help and errors (hidden: the input alone)."""
    if field.is_hidden:
        return f"\n{_text(field)}\n"
    has_error = " has-error" if field.errors else ""
    required = _REQUIRED if field.field.required else ""
    if field.use_fieldset:
        described = field.aria_describedby
        aria = f' aria-describedby="{_text(described)}"' if described else ""
        opening = (
            f'<fieldset class="field{has_error}"{aria}>\n'
            f"  <legend>{_text(field.label)}{required}</legend>{_text(field)}\n"
        )
        closing = "</fieldset>"
    else:
        checkbox = field.widget_type == "checkbox"
        label_for = _text(field.id_for_label)
        if checkbox:
            inner = f'{_text(field)} <label for="{label_for}">{_text(field.label)}</label>'
        else:
            inner = f'<label for="{label_for}">{_text(field.label)}{required}</label>{_text(field)}'
        opening = f'<div class="field{has_error}{" check" if checkbox else ""}">\n  {inner}\n'
        closing = "</div>"
    return f"\n{opening}\n  {_field_notes(field)}\n{closing}\n"


def render_field_group(template_name: str, context: object) -> SafeString | None:
    """``web/field.html`` rendered for ``{{ field.as_field_group }}`` (its context: the bound
    field alone) as the form renderer's template would render it, or None: render the
    template (another template, another context)."""
    if template_name != FIELD_TEMPLATE or type(context) is not dict or context.keys() != {"field"}:
        return None
    field = context["field"]
    if type(field) is not BoundField:
        return None
    key = _kept_key(field)
    kept = _KEPT.get(key) if key is not None else None
    if kept is not None:
        return mark_safe(kept)  # noqa: S308  (written below, every value through _text)
    markup = _field_group(field).strip()
    if key is not None:
        _KEPT[key] = markup
    return mark_safe(markup)  # noqa: S308  (every value went through _text)


KEPT_ATTRIBUTE: Final = "field_groups_kept"
_KEPT: dict[tuple[Any, ...], str] = {}


def _kept_key(field: BoundField) -> tuple[Any, ...] | None:
    """Where a field group's markup is the same on every request, the key it is kept under;
    else None (it is written each time).

    Only a form class that says so itself (``field_groups_kept = True`` in its own body, not
    inherited), only unbound, with no initial values given and no field whose initial value is
    worked out per form (``initial=uuid.uuid4``): then the markup depends on the class, the
    field, the prefix, the ids and the language only. A form whose fields change after it is
    made (choices offered per clinic, per day) must not say so."""
    form = field.form
    if (
        type(form).__dict__.get(KEPT_ATTRIBUTE) is not True
        or form.is_bound
        or form.initial
        or callable(field.field.initial)
    ):
        return None
    return (type(form), field.name, form.prefix, form.auto_id, form.label_suffix, get_language())
