"""The clinic's knowledge (ketaflow.clinical) and the pharmacokinetic engine (ketaflow.pk) are
plain Python: importing them must not import Django, directly or through anything they import.
The Django apps call them and never copy them (the second half of this file)."""

import ast
import enum
import importlib
import inspect
import io
import pkgutil
import re
import subprocess
import sys
import tokenize
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.mark.parametrize("package", ["ketaflow.clinical", "ketaflow.pk", "ketaflow.cli.common"])
def test_plain_package_imports_no_django(package: str) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for info in pkgutil.walk_packages(getattr(pkg, '__path__', []), pkg.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"{package} imports Django modules: {out}"


# ---- The Django apps call the core and never copy it (issue 10 item 19) ----------------------
#
# The checks below read the apps' source (every module of src/ketaflow/*/ except clinical, pk and
# migrations; demo data is exempt from the number checks) and fail on the shapes the known copies
# had: an enumeration of the core defined again as Django choices, a core code list compared
# against in an app, a loop over pump events that branches on their kind, drug-library limits
# compared in an app, a dict of numbers keyed by instrument, a clinical number in a named
# constant or setting default.

SRC = Path(__file__).resolve().parent.parent / "src" / "ketaflow"


def _app_modules(*, include_demo: bool = True) -> list[Path]:
    return sorted(
        path
        for path in SRC.glob("*/**/*.py")
        if path.relative_to(SRC).parts[0] not in ("clinical", "pk")
        and "migrations" not in path.parts
        and (include_demo or path.name != "demo.py")
    )


def _core_enums() -> list[type[enum.StrEnum]]:
    import ketaflow.clinical

    found: list[type[enum.StrEnum]] = []
    for info in pkgutil.walk_packages(ketaflow.clinical.__path__, "ketaflow.clinical."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, enum.StrEnum)
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return found


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', 0)}"


def test_django_choices_are_built_from_the_core_enumerations() -> None:
    from ketaflow.accounts import roles
    from ketaflow.accounts.models import User
    from ketaflow.assessments.models import InstrumentResponse
    from ketaflow.clinical import Indication, Instrument, Role, WeightBasis
    from ketaflow.clinical.common import choices
    from ketaflow.clinical.pump import PumpEventKind
    from ketaflow.infusions.models import InfusionEvent, InfusionSession
    from ketaflow.treatment.models import Course

    expected = [
        (User, "role", Role),
        (Course, "indication", Indication),
        (Course, "weight_basis", WeightBasis),
        (InfusionSession, "indication", Indication),
        (InfusionSession, "weight_basis", WeightBasis),
        (InfusionEvent, "kind", PumpEventKind),
        (InstrumentResponse, "instrument", Instrument),
    ]
    for model, name, enumeration in expected:
        field = model._meta.get_field(name)
        assert list(getattr(field, "choices", None) or []) == choices(enumeration), name
    # The names the apps use are the core's classes, not copies.
    assert roles.Role is Role
    assert Course.WeightBasis is WeightBasis
    assert InfusionSession.WeightBasis is WeightBasis
    assert InfusionSession.Indication is Indication
    assert InfusionEvent.Kind is PumpEventKind
    assert InstrumentResponse.InstrumentCode is Instrument


def test_no_model_field_copies_a_core_enumeration() -> None:
    """A field whose codes are exactly a core enumeration's has the core's choices, labels too."""
    from django.apps import apps

    from ketaflow.clinical.common import choices

    by_values = {frozenset(m.value for m in e): e for e in _core_enums() if len(e) > 1}
    copies = []
    for model in apps.get_models():
        if not model.__module__.startswith("ketaflow."):
            continue
        for field in model._meta.get_fields():
            field_choices = getattr(field, "choices", None)
            if not field_choices:
                continue
            values = frozenset(str(value) for value, _ in field_choices if value != "")
            enumeration = by_values.get(values)
            if enumeration is not None:
                core = choices(enumeration)
                if [c for c in field_choices if c[0] != ""] != core:
                    copies.append(f"{model.__name__}.{field.name} copies {enumeration.__name__}")
    assert copies == []


# Comparisons against a list of core codes in an app that are presentation only, with the reason.
_CODE_LIST_ALLOWED = {
    # Which of the page's forms shows a refused pump event again (the start and rate-change forms
    # have a rate input); the rule that these kinds need a rate is the core's.
    ("infusions/views.py", frozenset({"start", "rate_change"})),
}


def test_apps_do_not_decide_on_lists_of_core_codes() -> None:
    """``str(risk) in ("moderate", "high")``, ``event.kind in ("start", "resume")``: a rule on
    the core's codes decided again in an app (the C-SSRS flag and the chart's bands were)."""
    enums = [frozenset(m.value for m in e) for e in _core_enums()]
    found = []
    for path in _app_modules(include_demo=False):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for side in (node.left, *node.comparators):
                if not isinstance(side, ast.Tuple | ast.List | ast.Set) or len(side.elts) < 2:
                    continue
                if not all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in side.elts
                ):
                    continue
                codes = frozenset(str(e.value) for e in side.elts)  # type: ignore[attr-defined]
                rel = str(path.relative_to(SRC))
                if any(codes <= values for values in enums) and (rel, codes) not in (
                    _CODE_LIST_ALLOWED
                ):
                    found.append(f"{_where(path, node)} {sorted(codes)}")
    assert found == []


def test_pump_arithmetic_is_rate_segments_in_the_core() -> None:
    """No app loops over pump events branching on their kind (the ledger's delivered dose and the
    PK curve each did); they call ``ketaflow.clinical.pump.rate_segments``."""
    from ketaflow.clinical.pump import PumpEventKind

    values = {k.value for k in PumpEventKind}
    names = {k.name for k in PumpEventKind}

    def is_kind(node: ast.AST) -> bool:
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(is_kind(e) for e in node.elts)
        return (isinstance(node, ast.Constant) and node.value in values) or (
            isinstance(node, ast.Attribute) and node.attr in names
        )

    found = []
    for path in _app_modules():
        for loop in ast.walk(ast.parse(path.read_text())):
            if not isinstance(loop, ast.For | ast.While):
                continue
            for statement in loop.body:
                for node in ast.walk(statement):
                    if isinstance(node, ast.Compare) and any(
                        is_kind(side) for side in (node.left, *node.comparators)
                    ):
                        found.append(_where(path, node))
    assert found == []
    for module in ("infusions/services/delivered.py", "infusions/charts.py"):
        assert "pump.rate_segments(" in (SRC / module).read_text(), module


def test_apps_neither_compare_drug_library_limits_nor_pick_the_weight_formula() -> None:
    """``treatment/services.py`` had its own ``_breach`` (limits compared again) and its own
    choice between the Devine formulas (without the height warning)."""
    limit_attrs = {"hard_min", "hard_max", "soft_min", "soft_max"}
    formulas = {"ideal_body_weight_kg", "adjusted_body_weight_kg"}
    found = []
    for path in _app_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in limit_attrs:
                found.append(f"{_where(path, node)} reads .{node.attr}")
            if isinstance(node, ast.Name | ast.alias):
                name = node.id if isinstance(node, ast.Name) else node.name
                if name in formulas:
                    found.append(f"{_where(path, node)} uses {name}")
    assert found == []


_CLINICAL_NAME = re.compile(
    r"score|total|cut_?point|threshold|limit|dose|(^|_)mg(_|$)|(^|_)kg(_|$)|(^|_)age(_|$)|"
    r"aldrete|phq|pcl|gad|cssrs|risk|discharge|spo2|mmhg|bpm|weight_kg|height_cm|(^|_)rate(_|$)|"
    r"minimum|maximum|vitals_every",
    re.IGNORECASE,
)


def _literal_numbers(node: ast.AST | None) -> list[object]:
    """The numbers of a literal (a number, or a tuple/list/set/dict of literals), else []."""
    if isinstance(node, ast.Constant):
        value = node.value
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [value] if ok and value not in (0, 1) else []
    if isinstance(node, ast.UnaryOp):
        return _literal_numbers(node.operand)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [n for e in node.elts for n in _literal_numbers(e)]
    if isinstance(node, ast.Dict):
        return [n for v in node.values for n in _literal_numbers(v)]
    return []


def test_no_clinical_numbers_in_the_apps() -> None:
    """A named constant or setting default of a clinical kind is never a number in an app
    (``MAX_TOTAL = {"pcl5": 80, ...}``, ``aldrete_discharge_minimum: int = 9``); nor is a dict of
    numbers keyed by instrument. The number lives in ketaflow.clinical, with its source."""
    from ketaflow.clinical import Instrument

    instruments = {i.value for i in Instrument}
    found = []
    for path in _app_modules(include_demo=False):
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = list(node.targets), node.value
            elif isinstance(node, ast.AnnAssign):
                targets, value = [node.target], node.value
            for target in targets:
                name = (
                    target.id
                    if isinstance(target, ast.Name)
                    else target.attr
                    if isinstance(target, ast.Attribute)
                    else ""
                )
                numbers = _literal_numbers(value)
                if name and _CLINICAL_NAME.search(name) and numbers:
                    found.append(f"{_where(path, node)} {name} = {numbers}")
            if isinstance(node, ast.Dict):
                keyed = any(
                    (isinstance(k, ast.Constant) and k.value in instruments)
                    or (isinstance(k, ast.Attribute) and k.attr.lower() in instruments)
                    for k in node.keys
                    if k is not None
                )
                if keyed and any(_literal_numbers(v) for v in node.values):
                    found.append(f"{_where(path, node)} numbers keyed by instrument")
    assert found == []


def test_who_may_override_a_soft_limit_is_decided_once() -> None:
    from ketaflow.accounts.roles import ROLE_PERMISSIONS, Perm
    from ketaflow.clinical.dosing import DRUG_LIBRARY, SOFT_LIMIT_OVERRIDE_ROLES

    granted = {
        role for role, perms in ROLE_PERMISSIONS.items() if Perm.OVERRIDE_SOFT_LIMIT in perms
    }
    assert granted == set(SOFT_LIMIT_OVERRIDE_ROLES)
    for entry in DRUG_LIBRARY.values():
        assert entry.override_roles == SOFT_LIMIT_OVERRIDE_ROLES


# ---- Clinic time (issue 14 item 2) --------------------------------------------------------------


def test_days_and_wall_clocks_come_from_the_clinic_time_helper() -> None:
    """``timezone.localdate()``/``localtime(value)`` without a zone, and the current zone, give
    the server's (or whichever the request activated): a day or a time a person reads comes
    from ``accounts/clinictime.py`` with the clinic whose day it is."""
    found: list[str] = []
    for path in _app_modules():
        if path.name == "clinictime.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            zoned = len(node.args) >= 2 or any(k.arg == "timezone" for k in node.keywords)
            if name in ("localdate", "localtime") and not zoned:
                found.append(f"{_where(path, node)} timezone.{name}() without the clinic's zone")
            elif name == "get_current_timezone":
                found.append(f"{_where(path, node)} the server's or request's zone")
    assert not found, "\n".join(found)


def test_one_path_from_an_answer_no_signals_no_cycle() -> None:
    """Issue 15 item 3: business rules run because a service calls them, never through a model
    signal; the services of assessments and outcomes import nothing of the portal (which records
    answers through them: ``portal.answers.response_record``)."""
    src = Path(__file__).resolve().parents[1] / "src" / "ketaflow"
    signals = re.compile(r"\b(pre_save|post_save|pre_delete|post_delete|m2m_changed)\b")
    found = [str(p.relative_to(src)) for p in src.rglob("*.py") if signals.search(p.read_text())]
    assert found == [], f"model signals in {found}"
    for lower in ("assessments", "outcomes"):
        for path in (src / lower).glob("*.py"):
            if path.name == "demo.py":  # demo data is loaded from the top, like a user
                continue
            tree = ast.parse(path.read_text())
            imported = [
                node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            ] + [
                a.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import)
                for a in node.names
            ]
            portal = [m for m in imported if m.startswith("ketaflow.portal")]
            assert portal == [], f"{lower}/{path.name} imports {portal}"


# ---- Views and template tags read through selectors (issue 15 item 1) ------------------------
#
# A view checks access, calls a selector or a service and renders; a template tag only formats.
# Neither touches the ORM: no ``Model.objects``, no queryset method on anything. The methods
# listed are the ones with no other common meaning in our code (``get``, ``count``, ``update``
# and ``values`` are also dict/list methods and would only add noise).

_QUERYSET_METHODS = frozenset(
    {
        "filter",
        "exclude",
        "select_related",
        "prefetch_related",
        "order_by",
        "values_list",
        "annotate",
        "aggregate",
        "only",
        "defer",
        "distinct",
        "exists",
        "none",
        "first",
        "last",
        "earliest",
        "latest",
        "get_or_create",
        "update_or_create",
        "bulk_create",
        "bulk_update",
        "in_bulk",
        "select_for_update",
        "refresh_from_db",
    }
)

# Apps other engineers are converting now; the lead removes each when its branch lands.
_ORM_IN_VIEWS_PENDING: frozenset[str] = frozenset()


def _view_and_tag_modules() -> list[Path]:
    found = [
        path
        for path in SRC.rglob("*.py")
        if "migrations" not in path.parts
        and (path.name == "views.py" or "views" in path.parts or "templatetags" in path.parts)
    ]
    return sorted(p for p in found if p.relative_to(SRC).parts[0] not in _ORM_IN_VIEWS_PENDING)


def test_views_and_template_tags_never_call_the_orm() -> None:
    found = []
    for path in _view_and_tag_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "objects":
                found.append(f"{_where(path, node)} .objects")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _QUERYSET_METHODS
                # a template library's registration, `@register.filter(is_safe=...)`
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "register")
            ):
                found.append(f"{_where(path, node)} .{node.func.attr}()")
    assert not found, "views or template tags call the ORM:\n" + "\n".join(found)


def test_the_orm_check_finds_a_query() -> None:
    """The check above is not vacuous: it sees the shapes it is meant to refuse."""
    sample = "def v(r):\n    x = Patient.objects.filter(pk=1)\n    return y.select_related('a')\n"
    names = {
        getattr(n, "attr", "") for n in ast.walk(ast.parse(sample)) if isinstance(n, ast.Attribute)
    }
    assert {"objects", "filter", "select_related"} <= names & (_QUERYSET_METHODS | {"objects"})
    assert _view_and_tag_modules(), "no view or template tag module found"


# A template's variable that runs a query: a relation's manager asked for its rows (``.all``)
# or whether it has any (``.exists``), as Django's templates call a method named without its
# brackets. Not ``.count``, ``.first`` or ``.last``: the ledger's ``may.count`` is a permission,
# ``forloop.last`` the loop's own; the page query tests catch those.
_TEMPLATE_QUERY = re.compile(r"\{[{%][^}]*?\.(all|exists)\b[^}]*?[}%]\}")


def _template_queries(text: str) -> list[str]:
    return [m.group(0) for m in _TEMPLATE_QUERY.finditer(text)]


def test_templates_never_query() -> None:
    """The views' counterpart in the templates: the patient chart's list of infusions was
    ``{% for s in patient.infusion_sessions.all %}`` and read each one's appointment and signer
    with a query a row. A page's rows come from its selector (with what each row shows)."""
    found = [
        f"{path.relative_to(SRC.parent)}: {hit}"
        for path in sorted(SRC.rglob("templates/**/*.html"))
        for hit in _template_queries(path.read_text())
    ]
    assert not found, "templates that query:\n" + "\n".join(found)


def test_the_template_check_finds_a_query() -> None:
    assert _template_queries("{% for s in patient.infusion_sessions.all %}") == [
        "{% for s in patient.infusion_sessions.all %}"
    ]
    assert _template_queries("{{ course.appointments.all|length }} {% if x.notes.exists %}") == [
        "{{ course.appointments.all|length }}",
        "{% if x.notes.exists %}",
    ]
    assert _template_queries("{{ x.allergies }} {% if not forloop.last %}{{ all_done }}") == []


def test_one_append_only_base() -> None:
    """Issue 15 item 5: rows written once subclass ``audit.models.AppendOnly``; no model defines
    its own refusal of ``delete`` (there were four copies with three exception types)."""
    from django.apps import apps

    from ketaflow.audit.models import AppendOnly, AppendOnlyError

    found = []
    for path in SRC.glob("*/models.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                if (
                    isinstance(item, ast.FunctionDef)
                    and item.name == "delete"
                    and any(isinstance(n, ast.Raise) for n in ast.walk(item))
                    and not (path.parent.name == "audit" and node.name == "AppendOnly")
                ):
                    found.append(f"{_where(path, node)} {node.name} refuses delete itself")
    assert not found, "\n".join(found)
    written_once = {
        m.__name__ for m in apps.get_models() if issubclass(m, AppendOnly) and not m._meta.abstract
    }
    assert {"AuditEntry", "LedgerEntry", "Receipt", "Count", "InfusionEvent"} <= written_once
    assert issubclass(AppendOnlyError, PermissionError)
    assert issubclass(AppendOnlyError, RuntimeError)


# Apps other engineers are converting now; the lead removes each when its branch lands.
_ROLE_CHECKS_PENDING: frozenset[str] = frozenset()


def test_roles_are_checked_through_permissions() -> None:
    """Issue 15 item 4: ``user.role == Role.PATIENT`` and the like are permission checks
    (``user.may(Perm.VIEW_OWN_RECORD)``: only a patient's role grants it); accounts/roles.py
    says nothing checks a role by name. The core (which defines the roles) is exempt, and so is
    a rule about the role field itself (a network administrator belongs to no clinic)."""
    found = []
    for path in _app_modules(include_demo=False):
        if path.relative_to(SRC).parts[0] in _ROLE_CHECKS_PENDING:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            named = [
                n
                for side in sides
                for n in ast.walk(side)
                if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name)
                and n.value.id == "Role"
                and n.attr == "PATIENT"
            ]
            if named:
                found.append(f"{_where(path, node)} compares with Role.PATIENT")
    assert not found, "\n".join(found)


def _bare_select_related(source: str) -> list[int]:
    """Lines calling ``select_related()`` with no field names."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "select_related"
        and not node.args
        and not node.keywords
    ]


def _lines_found(root: Path, finder: Callable[[str], list[int]]) -> list[str]:
    """``path:line`` of each line ``finder`` finds in a Python file under ``root``."""
    return [
        f"{path.relative_to(root)}:{line}"
        for path in sorted(root.rglob("*.py"))
        for line in finder(path.read_text())
    ]


def test_select_related_always_names_its_relations() -> None:
    """``select_related()`` without names joins every non-null foreign key, recursively: from an
    infusion's prescriber decision that was some twenty tables, and PostgreSQL's planner spent
    over ten minutes on it (the CI run that never finished). Name what the page needs."""
    src = Path(__file__).resolve().parents[1] / "src" / "ketaflow"
    assert _lines_found(src, _bare_select_related) == []


def test_the_bare_select_related_check_finds_one() -> None:
    assert _bare_select_related("rows = Entry.objects.filter(a=1).select_related()\n") == [1]
    assert _bare_select_related("rows = Entry.objects.select_related('by')\n") == []


def _absence_by_find_elements(source: str) -> list[int]:
    """The lines that check for an element's absence with ``find_elements`` (``== []``,
    ``not ...``, ``len(...) == 0``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        target: ast.expr | None = None
        if not isinstance(node, ast.expr):
            continue
        if isinstance(node, ast.Compare):
            empty = [c for c in node.comparators if isinstance(c, ast.List) and not c.elts]
            zero = [c for c in node.comparators if isinstance(c, ast.Constant) and c.value == 0]
            left = node.left
            if empty:
                target = left
            elif zero and isinstance(left, ast.Call) and getattr(left.func, "id", "") == "len":
                target = left.args[0] if left.args else None
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            target = node.operand
        if (
            isinstance(target, ast.Call)
            and isinstance(target.func, ast.Attribute)
            and target.func.attr == "find_elements"
        ):
            found.append(node.lineno)
    return sorted(found)


def test_browser_tests_check_absence_without_the_implicit_wait() -> None:
    """WebDriver's implicit wait (tests/web/browser.py, five seconds) makes ``find_elements``
    that finds nothing wait it out: fourteen checks that a button or a chart is absent cost
    over a minute of every run. A check that something is absent uses ``elements_now``."""
    assert _lines_found(Path(__file__).resolve().parent, _absence_by_find_elements) == []


def test_the_absence_check_finds_one() -> None:
    assert _absence_by_find_elements("assert browser.find_elements(By.ID, 'x') == []\n") == [1]
    assert _absence_by_find_elements("assert not row.find_elements(By.ID, 'x')\n") == [1]
    assert _absence_by_find_elements("assert len(b.find_elements(By.ID, 'x')) == 0\n") == [1]
    assert _absence_by_find_elements("assert elements_now(b, By.ID, 'x') == []\n") == []
    assert _absence_by_find_elements("assert b.find_elements(By.ID, 'x')\n") == []


def test_the_acting_person_comes_from_actor_person() -> None:
    """Issue 15: four copies of "is the actor a person?" raised four kinds of error. A service
    asks ``actor.person()`` (NotAPerson: a 403 on a page, a ValueError to a caller that checks
    values); none tests ``actor.user is None`` itself or keeps its own ``_person``."""
    src = Path(__file__).resolve().parents[1] / "src" / "ketaflow"
    found = [
        f"{path.relative_to(src)}:{n}"
        for path in sorted(src.rglob("*.py"))
        if path.name != "context.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bactor\.user is None\b|def _person\(actor", line)
    ]
    assert found == []


_HEDGED_PLURAL = re.compile(r"[a-z]\(s\)")


def _hedged_plurals(files: list[Path]) -> list[str]:
    """Lines with "word(s)": in a Python file only inside a string (``float(s)`` is a call), in
    a template anywhere but a comment."""
    found = []
    for path in files:
        text = path.read_text()
        if path.suffix == ".py":
            hits = {
                tok.start[0]
                for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                if tok.type == tokenize.STRING and _HEDGED_PLURAL.search(tok.string)
            }
        else:
            hits = {
                n
                for n, line in enumerate(text.splitlines(), 1)
                if not line.lstrip().startswith("{#") and _HEDGED_PLURAL.search(line)
            }
        lines = text.splitlines()
        found += [f"{path.relative_to(SRC)}:{n}: {lines[n - 1].strip()}" for n in sorted(hits)]
    return found


def test_counts_are_said_in_plain_plurals() -> None:
    """No "2 patient(s)" on a page, in a message or an audit summary: a count goes through
    ``ketaflow.clinical.common.count_text`` (or ``|pluralize`` in a template). Comments may
    hedge."""
    files = [
        p for p in SRC.rglob("*") if p.suffix in (".py", ".html") and "migrations" not in p.parts
    ]
    assert _hedged_plurals(files) == []


def test_the_plural_check_finds_a_hedged_plural(tmp_path: Path) -> None:
    sample = SRC / "web" / "__hedged_sample.html"
    try:
        sample.write_text("<p>{{ n }} patient(s)</p>\n{# a comment may say item(s) #}\n")
        assert _hedged_plurals([sample]) == [
            "web/__hedged_sample.html:1: <p>{{ n }} patient(s)</p>"
        ]
    finally:
        sample.unlink()


def test_no_page_names_a_reference_file() -> None:
    """A page cites the reference documents by title (``readable_citations``), never as a file
    such as "clinical.md s. 6" (an HTML comment is not shown but is sent: the same rule)."""
    named = [
        f"{p.relative_to(SRC)}:{n}"
        for p in SRC.rglob("*.html")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\b(clinical|pk)\.md\b", line) and not line.lstrip().startswith("{#")
    ]
    assert named == []


def test_no_test_module_imports_another_test_module() -> None:
    """Shared test helpers live in one place (``tests/<app>/builders.py``, a conftest, or
    ``tests/web/browser.py`` and ``sweep.py``), never in a test module another one imports."""
    tests = Path(__file__).resolve().parent
    found = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if re.search(r"(^|\.)test_\w+$", node.module):
                    found.append(f"{path.relative_to(tests)}: from {node.module}")
            elif isinstance(node, ast.Import):
                found += [
                    f"{path.relative_to(tests)}: import {a.name}"
                    for a in node.names
                    if re.search(r"^tests\..*\.test_\w+$", a.name)
                ]
    assert found == []
