"""Widgets built in Python (ketaflow.web.widget_markup through the project's form renderer) are
the same string, character for character, as Django's own widget templates render: a corpus of
widgets, values and attributes, and every form class of the project, bound and unbound."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import django
import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import BaseRenderer, DjangoTemplates
from django.http import HttpRequest, QueryDict
from django.test import RequestFactory
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy

import ketaflow
from ketaflow.accounts.forms import SignInForm
from ketaflow.accounts.models import User
from ketaflow.api.forms import TokenForm
from ketaflow.audit.forms import AuditFilterForm
from ketaflow.clinical import Instrument
from ketaflow.clinical.clinic_settings import REGISTRY
from ketaflow.clinicsettings.forms import SettingForm
from ketaflow.infusions.models import InfusionSession
from ketaflow.infusions.questionnaires import ItemsForm, sheet
from ketaflow.ledger import forms as ledger_forms
from ketaflow.ledger.models import Product
from ketaflow.patients.forms import RECORD_FORMS
from ketaflow.patients.models import Patient
from ketaflow.portal.forms import QuestionnaireForm
from ketaflow.portal.questionnaires import PORTAL_QUESTIONNAIRES
from ketaflow.treatment.forms import BookForm, RescheduleForm
from ketaflow.treatment.models import Chair
from ketaflow.web import widget_markup
from ketaflow.web.forms import FormRenderer
from tests.ledger.builders import receive
from tests.web.conftest import World

WIDGETS = "django/forms/widgets/"
AWKWARD = 'Tom & "Jerry" <b>\'s</b> \u2013 0.5 mg/kg'


class TemplatesOnly(FormRenderer):
    """The project's renderer with every template rendered by the template (the reference)."""

    def render(
        self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None
    ) -> str:
        return str(BaseRenderer.render(self, template_name, context, request))


class Spy(FormRenderer):
    """The project's renderer, noting each template it loads."""

    def __init__(self) -> None:
        self.loaded: list[str] = []

    def get_template(self, template_name: str) -> Any:
        self.loaded.append(template_name)
        return super().get_template(template_name)


DJANGO = DjangoTemplates()
FAST = FormRenderer()
REFERENCE = TemplatesOnly()


# --- the corpus ------------------------------------------------------------------------------

VALUES: list[Any] = [
    None,
    "",
    0,
    False,
    True,
    "0",
    Decimal("0.50"),
    Decimal("1E+1"),
    1.25,
    -3,
    dt.date(2026, 3, 4),
    dt.datetime(2026, 3, 4, 9, 5, tzinfo=dt.UTC),
    dt.time(14, 30),
    AWKWARD,
    gettext_lazy("Dose & <rate>"),
    mark_safe("<em>safe</em>"),
    "  spaced\nlines  ",
    ["a", "b"],
]

ATTRS: list[dict[str, Any]] = [
    {},
    {"id": "id_dose_mg"},
    {"id": "id_dose_mg", "required": True},
    {"id": "id_x", "disabled": True, "readonly": True, "required": False},
    {
        "id": "id_dose_mg",
        "class": "a & b",
        "inputmode": "decimal",
        "aria-describedby": "id_dose_mg_helptext id_dose_mg_error",
        "aria-invalid": "true",
        "autocomplete": "off",
        "step": Decimal("0.1"),
        "min": 0,
        "max": 10.5,
        "placeholder": AWKWARD,
        "title": gettext_lazy("Dose & <rate>"),
        "data-none": None,
        "data-zero": 0,
        "data-safe": mark_safe("<i>"),
        "data-tuple": (1, 2),
        "checked": False,
        "multiple": True,
        "rows": 3,
    },
    {"id": 7, "class": ""},
    {"class": gettext_lazy("wide & tall")},
]

CHOICES: list[Any] = [
    [("", "---------"), ("a", "A & B"), ("b", "<b>")],
    [(1, "One"), (2, gettext_lazy("Two & more")), (0, "Zero"), (None, "None at all")],
    [(Decimal("0.5"), 1), ("x", mark_safe("<em>x</em>"))],
    [
        ("Group & <one>", [("g1", "G1"), ("g2", "G2")]),
        ("loose", "Loose"),
        (gettext_lazy("Group two"), [(3, "Three"), ("", "blank")]),
        (7, [("seven", "Seven")]),
    ],
    [],
]


class DatetimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"


def plain_widgets() -> Iterator[forms.Widget]:
    yield from (
        forms.TextInput(),
        forms.NumberInput(attrs={"step": "any"}),
        forms.EmailInput(),
        forms.PasswordInput(),
        forms.PasswordInput(render_value=True),
        forms.HiddenInput(),
        forms.DateInput(),
        forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        forms.TimeInput(),
        forms.DateTimeInput(),
        DatetimeLocalInput(),
        forms.TelInput(),
        forms.URLInput(),
        forms.SearchInput(),
        forms.ColorInput(),
        forms.FileInput(),
        forms.CheckboxInput(),
        forms.CheckboxInput(check_test=lambda value: bool(value)),
        forms.Textarea(),
        forms.Textarea(attrs={"rows": 3, "cols": 20}),
        forms.MultipleHiddenInput(),
        forms.SplitDateTimeWidget(),
        forms.SplitHiddenDateTimeWidget(),
        forms.SelectDateWidget(years=[2025, 2026]),
    )
    localized = forms.TextInput()
    localized.is_localized = True
    yield localized


def choice_widgets() -> Iterator[forms.Widget]:
    for choices in CHOICES:
        yield forms.Select(choices=choices)
        yield forms.SelectMultiple(choices=choices)
        yield forms.RadioSelect(choices=choices)
        yield forms.RadioSelect(choices=choices, attrs={"class": "inline"})
        yield forms.CheckboxSelectMultiple(choices=choices)
    yield forms.NullBooleanSelect()


def differences(widget: forms.Widget, values: list[Any]) -> Iterator[str]:
    """Each (value, attrs) where the Python markup is not the template's, or is not taken."""
    for value in values:
        for attrs in ATTRS:
            context = widget.get_context("dose_mg", value, attrs)
            expected = DJANGO.render(widget.template_name, context)
            got = widget_markup.render(widget.template_name, context)
            if got is None:
                yield f"{value!r} {attrs!r}: not built in Python"
            elif got != expected:
                yield f"{value!r} {attrs!r}:\n{got!r}\n!= {expected!r}"
            if widget.render("dose_mg", value, attrs, renderer=FAST) != widget.render(
                "dose_mg", value, attrs, renderer=DJANGO
            ):
                yield f"{value!r} {attrs!r}: the renderer's render differs"


@pytest.mark.parametrize("widget", list(plain_widgets()), ids=lambda w: type(w).__name__)
def test_each_input_is_the_templates_markup(widget: forms.Widget) -> None:
    values = VALUES
    if isinstance(widget, forms.MultiWidget | forms.MultipleHiddenInput):
        values = [None, [], ["a", AWKWARD], [dt.date(2026, 3, 4), dt.time(9, 5)]]
    if isinstance(widget, forms.SplitDateTimeWidget):
        # A naive and an aware value on purpose: the widget renders both, so both are compared.
        naive = dt.datetime(2026, 3, 4, 9, 5)  # noqa: DTZ001 (naive on purpose, see above)
        values = [None, naive, dt.datetime(2026, 3, 4, 9, 5, tzinfo=dt.UTC)]
    if isinstance(widget, forms.SelectDateWidget):
        values = [None, "", dt.date(2026, 3, 4), "2026-03-04", "2026-13-40", AWKWARD]
    assert list(differences(widget, values)) == []


@pytest.mark.parametrize(
    "widget", list(choice_widgets()), ids=lambda w: f"{type(w).__name__}-{len(w.choices)}"
)
def test_each_choice_widget_is_the_templates_markup(widget: forms.Widget) -> None:
    values = [None, "", "a", ["a", "b"], 1, [1, 0], ["", "g2", 3], "seven", AWKWARD, True]
    if isinstance(widget, forms.NullBooleanSelect):
        values = [None, "", True, False, "true", "false", "unknown", "2", "3", AWKWARD]
    assert list(differences(widget, values)) == []


def option_contexts() -> Iterator[tuple[str, dict[str, Any]]]:
    """Contexts a widget's own ``format_value`` never makes but a template reads the same way:
    raw values, labels and group names of every type, and a bound field's single radio."""
    for value in VALUES:
        for attrs in ATTRS:
            raw = {"name": AWKWARD, "value": value, "attrs": attrs, "type": "text"}
            yield WIDGETS + "input.html", {"widget": raw}
            yield WIDGETS + "textarea.html", {"widget": raw}
            option = {**raw, "label": value, "wrap_label": True, "index": "0"}
            for name in ("select_option", "radio_option", "checkbox_option", "input_option"):
                yield WIDGETS + f"{name}.html", {"widget": {**option, "template_name": name}}
            yield WIDGETS + "radio_option.html", {"widget": {**option, "wrap_label": False}}
            group = [{**option, "template_name": WIDGETS + "radio_option.html"}]
            yield WIDGETS + "radio.html", {"widget": {**raw, "optgroups": [(value, group, 0)]}}
    yield WIDGETS + "input.html", {"widget": {"attrs": {}}}
    yield WIDGETS + "select.html", {"widget": {"name": "x"}}


def test_raw_contexts_are_the_templates_markup() -> None:
    cases = list(option_contexts())
    found = []
    for name, context in cases:
        got = widget_markup.render(name, context)
        expected = DJANGO.render(name, context)
        if got != expected:
            found.append(f"{name} {context!r}:\n{got!r}\n!= {expected!r}")
    assert len(cases) > 1000
    assert found == []


def test_the_markup_is_safe_and_escaped() -> None:
    got = widget_markup.render(
        WIDGETS + "text.html",
        forms.TextInput().get_context("n", AWKWARD, {"title": "'\"<>&"}),
    )
    assert isinstance(got, SafeString)
    assert got == (
        '<input type="text" name="n" value="Tom &amp; &quot;Jerry&quot; &lt;b&gt;&#x27;s&lt;/b&gt;'
        ' \u2013 0.5 mg/kg" title="&#x27;&quot;&lt;&gt;&amp;">'
    )


# --- the fast path is taken, and only where it can promise the same string ---------------------


def test_every_template_it_builds_is_djangos_own_file() -> None:
    """A Django upgrade that renames or drops one of these templates fails here; the engine
    finds each in Django's own directory, so no app template can override them."""
    own = Path(django.__file__).parent / "forms" / "templates"
    for name in widget_markup.TEMPLATES:
        origin = Path(FAST.get_template(name).origin.name)
        assert origin == own / name
    on_disk = {p.name for p in (own / WIDGETS).glob("*.html")}
    left = on_disk - {Path(n).name for n in widget_markup.TEMPLATES}
    assert left == {"clearable_file_input.html"}


def test_every_builtin_widget_template_is_built_in_python() -> None:
    """Each widget class Django ships names a template the module builds (but the clearable file
    input, which no form here uses; the base Widget names none)."""
    names = {
        cls.template_name
        for cls in vars(forms.widgets).values()
        if isinstance(cls, type) and issubclass(cls, forms.Widget) and hasattr(cls, "template_name")
    } | {
        cls.option_template_name
        for cls in vars(forms.widgets).values()
        if isinstance(cls, type) and hasattr(cls, "option_template_name")
    }
    assert names - set(widget_markup.TEMPLATES) == {None, WIDGETS + "clearable_file_input.html"}


def test_another_template_or_context_falls_back_to_the_template() -> None:
    class Custom(forms.TextInput):
        template_name = "web/field_notes.html"

    assert widget_markup.render("web/field.html", {"widget": {}}) is None
    assert widget_markup.render(WIDGETS + "clearable_file_input.html", {"widget": {}}) is None
    # an option whose own template is not Django's: the whole select falls back
    select = forms.Select(choices=[("a", "A")])
    select.option_template_name = "web/field_notes.html"
    assert widget_markup.render(select.template_name, select.get_context("s", "a", {})) is None
    # a callable (a template would call it) or a mapping other than a dict
    callable_attrs = {"widget": {"name": "n", "value": "v", "attrs": {"title": lambda: "t"}}}
    assert widget_markup.render(WIDGETS + "text.html", callable_attrs) is None
    assert widget_markup.render(WIDGETS + "text.html", {"widget": QueryDict("a=1")}) is None
    spy = Spy()
    rendered = Custom().render("n", "v", renderer=spy)
    assert spy.loaded == ["web/field_notes.html"]
    assert rendered == Custom().render("n", "v", renderer=REFERENCE)


# --- every form of the project ------------------------------------------------------------------


def project_forms() -> set[type[forms.BaseForm]]:
    for module in pkgutil.walk_packages(ketaflow.__path__, "ketaflow."):
        importlib.import_module(module.name)

    def below(cls: type[forms.BaseForm]) -> Iterator[type[forms.BaseForm]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    return {c for c in below(forms.BaseForm) if c.__module__.startswith("ketaflow.")}


Make = Callable[[Any], forms.BaseForm]
"""One form of a class, bound to the data given (None: unbound)."""
Build = Callable[[World], list[Make]]
"""The forms of one class as its views build them."""


def _one(cls: type[forms.BaseForm]) -> Build:
    return lambda world: [lambda data: cls(data)]


def _chairs(world: World) -> Any:
    return Chair.objects.filter(clinic=world.clinic)


def _nurses(world: World) -> Any:
    return User.objects.filter(clinic=world.clinic)


def _sheets() -> Iterator[Any]:
    """One chair sheet of each shape (portal items, yes/no, a licensed 0-n rating)."""
    shapes = set()
    for instrument in Instrument:
        try:
            the_sheet = sheet(instrument)
        except ValueError:
            continue
        if (the_sheet.choices, the_sheet.yes_no, the_sheet.licensed) not in shapes:
            shapes.add((the_sheet.choices, the_sheet.yes_no, the_sheet.licensed))
            yield the_sheet


def _settings(world: World) -> list[Make]:
    """A setting with a unit, one without, one that may be turned off (the form's labels)."""
    specs = {(bool(s.unit), s.may_be_off): s for s in REGISTRY}
    return [partial(SettingForm, spec=spec) for spec in specs.values()]


def _sheet_forms(world: World) -> list[Make]:
    return [partial(ItemsForm, the_sheet) for the_sheet in _sheets()]


def _ledger(world: World) -> dict[type[forms.BaseForm], Make]:
    vials = receive(world).vials
    products = Product.objects.filter(clinic=world.clinic)
    patients = Patient.objects.filter(clinic=world.clinic)
    sessions = InfusionSession.objects.all()
    draws = [(1, AWKWARD), (2, "2")]
    return {
        ledger_forms.ReceiveForm: lambda d: ledger_forms.ReceiveForm(d, products=products),
        ledger_forms.DrawForm: lambda d: ledger_forms.DrawForm(
            d, patients=patients, sessions=sessions
        ),
        ledger_forms.WasteForm: lambda d: ledger_forms.WasteForm(d, draws=draws),
        ledger_forms.StockLinesForm: lambda d: ledger_forms.StockLinesForm(
            d, vials=vials, estimate=True
        ),
        ledger_forms.CountForm: lambda d: ledger_forms.CountForm(
            d, vials=vials, second_counter=True
        ),
        ledger_forms.InventoryForm: lambda d: ledger_forms.InventoryForm(d, vials=vials),
    }


def _ledger_form(cls: type[forms.BaseForm]) -> Build:
    return lambda world: [_ledger(world)[cls]]


# Each form class whose views build it with arguments, built as they build it. A class not
# here is built with its data alone (test_every_form_class_is_constructible checks it can be).
CONSTRUCTORS: dict[type[forms.BaseForm], Build] = {
    SignInForm: lambda world: [lambda data: SignInForm(RequestFactory().post("/"), data)],
    TokenForm: lambda world: [lambda data: TokenForm(data, user=world.director)],
    AuditFilterForm: lambda world: [lambda data: AuditFilterForm(data, user=world.director)],
    SettingForm: _settings,
    ItemsForm: _sheet_forms,
    **{
        cls: _ledger_form(cls)
        for cls in (
            ledger_forms.ReceiveForm,
            ledger_forms.DrawForm,
            ledger_forms.WasteForm,
            ledger_forms.StockLinesForm,
            ledger_forms.CountForm,
            ledger_forms.InventoryForm,
        )
    },
    QuestionnaireForm: lambda world: [
        lambda data: QuestionnaireForm(next(iter(PORTAL_QUESTIONNAIRES.values())), data)
    ],
    BookForm: lambda world: [
        lambda data: BookForm(
            data,
            rows=[(0, timezone.localdate()), (1, dt.date(2026, 3, 4))],
            chairs=_chairs(world),
            nurses=_nurses(world),
        )
    ],
    RescheduleForm: lambda world: [
        lambda data: RescheduleForm(
            data,
            chairs=_chairs(world),
            nurses=_nurses(world),
            initial={"on": dt.date(2026, 3, 4), "at": dt.time(9, 30), "chair": None},
        )
    ],
}


def _name(cls: type[forms.BaseForm]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def builders() -> dict[str, Build]:
    built = {_name(c): CONSTRUCTORS.get(c) or _one(c) for c in project_forms()}
    for kind, cls in RECORD_FORMS.items():
        built[f"patients record form {kind}"] = _one(cls)
    return dict(sorted(built.items()))


def test_every_form_class_is_constructible() -> None:
    """A new form class that needs arguments fails here until CONSTRUCTORS builds it."""
    found = project_forms()
    assert len(found) > 50
    assert set(CONSTRUCTORS) <= found, set(CONSTRUCTORS) - found
    unbuildable = []
    for cls in found - set(CONSTRUCTORS):
        try:
            cls(None)
        except TypeError as exc:
            unbuildable.append(f"{_name(cls)}: {exc}")
    assert unbuildable == []


def bindings(form: forms.BaseForm) -> Iterator[QueryDict]:
    """Data that echoes awkward text in every field, and data that picks the first choices."""
    awkward = QueryDict(mutable=True)
    plausible = QueryDict(mutable=True)
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        choices = [
            str(v) for v, _ in getattr(field, "choices", []) if not isinstance(_, list | tuple)
        ]
        choices = [c for c in choices if c] or ["1"]
        many = isinstance(field.widget, forms.SelectMultiple | forms.CheckboxSelectMultiple)
        awkward.setlist(key, [AWKWARD, "0"] if many else [AWKWARD])
        plausible.setlist(key, choices[:2] if many else choices[:1])
    yield awkward
    yield plausible


def renders(form: forms.BaseForm, renderer: FormRenderer) -> list[str]:
    """The form, each field's group (its widget inside), and each radio or checkbox alone, in
    its label and not (as a grid lays them out)."""
    form.renderer = renderer
    # A bound field keeps the renderer its form had when it was made (``as_field_group`` renders
    # with it): new ones, so each side renders its field groups with its own renderer.
    # A callable initial (a fresh uuid) is fixed once, so both sides show the same value.
    form._bound_fields_cache = {}  # type: ignore[attr-defined]  # Django's own cache, emptied
    for name, declared in form.fields.items():
        if callable(declared.initial) and name not in form.initial:
            form.initial[name] = declared.initial()
    out = [str(form)]
    for field in form:
        out.append(str(field.as_field_group()))
        if isinstance(field.field.widget, forms.widgets.ChoiceWidget):
            out.extend(str(sub) for sub in field.subwidgets)
            out.extend(str(sub.tag()) for sub in field.subwidgets)
    return out


@pytest.mark.django_db
def test_every_form_renders_the_same_with_both_renderers(world: World) -> None:
    spy = Spy()
    count = 0
    for path, build in builders().items():
        for make in build(world):
            unbound = make(None)
            variants = [unbound, *(make(data) for data in bindings(unbound))]
            for variant in variants:
                variant.is_valid()
                fast = renders(variant, spy)
                reference = renders(variant, REFERENCE)
                assert fast == reference, path
                count += 1
    assert count > 200
    widget_templates = sorted({n for n in spy.loaded if n.startswith("django/forms/widgets/")})
    assert widget_templates == [], "a widget of these forms is rendered by its template"
    assert "web/field.html" not in spy.loaded, "a field group is rendered by its template"


class Awkward(forms.Form):
    """Every branch of web/field.html and web/field_notes.html, with text to escape."""

    plain = forms.CharField(label=AWKWARD, help_text=AWKWARD)
    optional = forms.CharField(required=False, label=mark_safe("<em>safe</em> label"))
    safe_help = forms.CharField(help_text=mark_safe("<b>bold</b> help"))
    tick = forms.BooleanField(label="I agree & accept", help_text="Tick it")
    optional_tick = forms.BooleanField(required=False)
    choice = forms.ChoiceField(
        choices=[("a", AWKWARD), ("b", "B")], widget=forms.RadioSelect, help_text="Pick one"
    )
    many = forms.MultipleChoiceField(
        choices=[("a", "A"), ("b", "B")], widget=forms.CheckboxSelectMultiple, required=False
    )
    hidden = forms.CharField(widget=forms.HiddenInput)
    own_aria = forms.CharField(
        widget=forms.TextInput(attrs={"aria-describedby": "elsewhere", "id": "own"}),
        help_text="Has its own",
    )
    shown_initial = forms.CharField(show_hidden_initial=True, initial="x")
    when = forms.SplitDateTimeField(help_text="Date and time")

    def clean(self) -> dict[str, Any]:
        for name in self.fields:  # two errors on every field, one with markup to escape
            self.add_error(name, ValidationError([AWKWARD, mark_safe("<i>safe</i> error")]))
        return {}


@pytest.mark.parametrize("auto_id", ["id_%s", "%s", "fixed", False])
@pytest.mark.parametrize("bound", [False, True])
def test_every_branch_of_the_field_group_is_the_templates_markup(
    auto_id: str | bool, bound: bool
) -> None:
    data = QueryDict("plain=x&hidden=y", mutable=True) if bound else None
    form = Awkward(data, auto_id=auto_id, prefix="p" if auto_id == "%s" else None)
    form.is_valid()
    spy = Spy()
    assert renders(form, spy) == renders(form, REFERENCE)
    assert "web/field.html" not in spy.loaded


def test_another_field_template_or_context_falls_back() -> None:
    field = Awkward()["plain"]
    assert widget_markup.render_field_group("web/cell_field.html", {"field": field}) is None
    assert widget_markup.render_field_group("web/field.html", {"field": field, "x": 1}) is None
    assert widget_markup.render_field_group("web/field.html", {"field": {"label": "x"}}) is None
    rendered = widget_markup.render_field_group("web/field.html", {"field": field})
    assert rendered == field.render(renderer=REFERENCE)


def test_a_kept_field_group_is_the_one_written_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: the infusion page's vitals, side-effect and CADSS forms are the same on every
    request; their field groups are written once per process. What is kept is what the
    template writes, and nothing that differs per form is kept."""
    from ketaflow.infusions.forms import CorrectionForm, VialForm, VitalsForm

    kept = sorted(
        (c for c in project_forms() if vars(c).get(widget_markup.KEPT_ATTRIBUTE) is True),
        key=_name,
    )
    assert [c.__name__ for c in kept] == ["CadssForm", "SideEffectForm", "VitalsForm"]
    for cls in kept:
        assert "__init__" not in vars(cls)  # nothing changes its fields form by form
        for field in cls():  # written (and kept)
            assert str(field.as_field_group()) == field.render(renderer=REFERENCE), field.name

    def not_again(field: Any) -> str:
        raise AssertionError(f"{field.name} written again")

    monkeypatch.setattr(widget_markup, "_field_group", not_again)
    for cls in kept:
        for field in cls():  # kept: not written again, the same as the template's
            if callable(field.field.initial):
                continue  # a fresh identifier per form: never kept (below)
            assert str(field.as_field_group()) == field.render(renderer=REFERENCE), field.name
    monkeypatch.undo()
    # Never kept: a field whose initial value is made per form (each form its own idempotency
    # key), a bound form (its values and errors), given initial values, a subclass that did
    # not say so itself, a form whose choices are offered per request.
    first, second = VitalsForm()["client_uuid"], VitalsForm()["client_uuid"]
    assert widget_markup._kept_key(first) is None
    assert str(first.as_field_group()) != str(second.as_field_group())
    bound = VitalsForm({"systolic_mmhg": "x"})
    bound.is_valid()
    assert widget_markup._kept_key(bound["systolic_mmhg"]) is None
    assert "has-error" in str(bound["systolic_mmhg"].as_field_group())
    given = VitalsForm(initial={"systolic_mmhg": 121})["systolic_mmhg"]
    assert widget_markup._kept_key(given) is None
    assert 'value="121"' in str(given.as_field_group())
    assert widget_markup._kept_key(CorrectionForm()["systolic_mmhg"]) is None
    assert widget_markup._kept_key(VialForm()["vial"]) is None
