"""The template engine's ``{% url %}`` and ``|date`` (ketaflow.web.templatetags.fast) give what
Django's give: every URL name of the project with arguments of each converter's kind, kept or
not, under another script prefix and namespace; dates in every digits-only format the templates
use and the others, across zones, years and kinds of value."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template, defaultfilters
from django.urls import (
    NoReverseMatch,
    clear_url_caches,
    converters,
    get_resolver,
    reverse,
    set_script_prefix,
)
from django.utils import timezone
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]

from ketaflow.web.templatetags import fast

SAMPLES: dict[type, Any] = {
    converters.IntConverter: 42,
    converters.StringConverter: "abc",
    converters.SlugConverter: "some-slug",
    converters.UUIDConverter: uuid.UUID("12345678-1234-5678-1234-567812345678"),
    converters.PathConverter: "a/b.txt",
}


def _names() -> list[tuple[str, dict[str, Any]]]:
    """Every named URL of the project (namespaced ones too), with a value for each of its
    arguments of the kind its converter takes."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(resolver: Any, prefix: str) -> None:
        for name in list(resolver.reverse_dict):
            if not isinstance(name, str):
                continue
            for _bits, _pattern, _defaults, convs in resolver.reverse_dict.getlist(name):
                kwargs = {key: SAMPLES.get(type(c), "x1") for key, c in convs.items()}
                found.append((prefix + name, kwargs))
        for namespace, (_p, sub) in resolver.namespace_dict.items():
            walk(sub, f"{prefix}{namespace}:")

    walk(get_resolver(), "")
    return found


def test_every_url_name_reverses_as_django_reverses_it_kept_or_not() -> None:
    names = _names()
    assert len(names) > 100  # the project's pages, the API's and the admin's
    for name, kwargs in names:
        try:
            expected = reverse(name, kwargs=kwargs)
        except NoReverseMatch:  # a sample the pattern's own regex refuses
            with pytest.raises(NoReverseMatch):
                fast.reversed_url(name, [], kwargs, None)
            continue
        assert fast.reversed_url(name, [], kwargs, None) == expected, name
        assert fast.reversed_url(name, [], kwargs, None) == expected, name  # kept
        if kwargs:
            args = list(kwargs.values())
            try:
                positional = reverse(name, args=args)
            except NoReverseMatch:
                continue
            assert fast.reversed_url(name, args, {}, None) == positional, name


def test_a_kept_address_follows_the_prefix_the_types_and_the_url_configuration() -> None:
    chart = fast.reversed_url("patient_chart", [5], {}, None)
    assert chart == reverse("patient_chart", args=[5])
    set_script_prefix("/riverside/")
    try:
        assert fast.reversed_url("patient_chart", [5], {}, None) == "/riverside" + chart
    finally:
        set_script_prefix("/")
    assert fast.reversed_url("patient_chart", [5], {}, None) == chart
    # 1 and True are equal keys to a dict: the argument's type is part of the key, so True is
    # refused as Django refuses it, not given the address kept for 1.
    assert fast.reversed_url("patient_chart", [1], {}, None) == reverse("patient_chart", args=[1])
    with pytest.raises(NoReverseMatch):
        fast.reversed_url("patient_chart", [True], {}, None)
    kept = fast.reversed_url("home", [], {}, None)
    clear_url_caches()  # a new resolver: nothing kept is used
    assert fast.reversed_url("home", [], {}, None) == kept
    assert fast.reversed_url("admin:index", [], {}, "admin") == reverse(
        "admin:index", current_app="admin"
    )


def test_the_url_tag_is_the_kept_one_and_fails_as_django_s() -> None:
    template = Template(
        "{% url 'patient_chart' pk %}|{% url 'no-such-page' as nothing %}[{{ nothing }}]"
    )
    assert isinstance(template.nodelist[0], fast.URLNode)
    assert template.render(Context({"pk": 7})) == reverse("patient_chart", args=[7]) + "|[]"
    with pytest.raises(NoReverseMatch):
        Template("{% url 'no-such-page' %}").render(Context({}))
    escaped = Template("{% url 'patient_list' %}?q={{ q }}").render(Context({"q": "<b>"}))
    assert escaped == reverse("patient_list") + "?q=&lt;b&gt;"


FORMATS = [
    "H:i",
    "Y-m-d H:i",
    "Y-m-d",
    "H:i:s",
    "Y-m-d H:i:s",
    "Y-m",
    "Y",
    "d-m-Y",
    # not digits only: Django's own filter
    "l j F Y",
    "j M Y H:i",
    "Y-m-d H:i T",
    "D Y-m-d",
    "Y-m-d\\TH:i",
    "",
]
ZONES = ["UTC", "America/New_York", "Pacific/Auckland", "Asia/Kolkata"]


def _values() -> list[Any]:
    aware = [
        dt.datetime(2026, 3, 8, 6, 59, 59, 999999, tzinfo=dt.UTC),  # New York's clocks change
        dt.datetime(2026, 12, 31, 23, 5, 1, tzinfo=dt.UTC),
        dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    ]
    return [
        *aware,
        dt.datetime(2026, 7, 4, 0, 0),  # noqa: DTZ001  (a naive time: Django's way)
        dt.date(2026, 2, 28),
        dt.date(5, 6, 7),
        None,
        "",
        "2026-01-01",
        17,
    ]


def _outcome(fn: Any, *args: Any) -> str | type[BaseException]:
    """What ``fn`` gives, or the kind of error it raises (Django refuses a time-of-day code
    for a date with a TypeError)."""
    try:
        return str(fn(*args))
    except TypeError as e:
        return type(e)


@pytest.mark.parametrize("zone", ZONES)
def test_the_date_filter_writes_what_django_s_writes(zone: str) -> None:
    with timezone.override(ZoneInfo(zone)):
        for value in _values():
            for fmt in FORMATS:
                # the engine converts an aware time to the current zone before the filter
                shown = template_localtime(value)
                expected = _outcome(defaultfilters.date, shown, fmt)
                assert _outcome(fast.date, shown, fmt) == expected, (value, fmt)
                page = Template("{{ v|date:f }}")
                assert _outcome(page.render, Context({"v": value, "f": fmt})) == expected
            assert fast.date(value) == defaultfilters.date(value)


def test_the_date_filter_in_templates_is_the_fast_one_and_in_the_clinic_s_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_here(*args: Any) -> str:
        raise AssertionError("a digits-only format went to Django's filter")

    # A format written in the template (a SafeString) takes the fast way, not Django's.
    monkeypatch.setattr(defaultfilters, "date", not_here)
    template = Template('{{ when|date:"Y-m-d H:i" }}')
    filter_expression = template.nodelist[0].filter_expression  # type: ignore[attr-defined]
    assert filter_expression.filters[0][0] is fast.date
    when = dt.datetime(2026, 6, 1, 22, 30, tzinfo=dt.UTC)
    with timezone.override(ZoneInfo("Pacific/Auckland")):
        assert template.render(Context({"when": when})) == "2026-06-02 10:30"
