"""Django's ``{% url %}`` tag and ``date`` filter with the same output at a fraction of the cost.

Loaded into every template after Django's own (``builtins`` in settings.TEMPLATES), so these two
names replace Django's in every template (issue 16: a page of the read mix reverses about 20
URLs and formats about 12 dates; the two were 7 % of a request's CPU,
docs/performance-web.md, "Session 17").

- ``{% url %}``: the page's links repeat (the navigation on every page, the same patient's
  links in every row), and Django works each out again from the URL patterns. The address of a
  name and arguments is kept once worked out, by everything it depends on: the URL
  configuration (its resolver, which ``clear_url_caches`` replaces), the script prefix, the
  current application's namespace, and the arguments with their types. A name that does not
  reverse behaves exactly as Django's tag (raises, or sets ``as`` to "").
- ``date``: a format of digits only (``Y m d H i s`` and the separators ``-``, ``:``, space:
  "Y-m-d H:i", "H:i", ...) is written straight from the value's fields; these codes mean the
  same in every language, so Django's format machinery (translation, a parser for each
  character) adds nothing. Any other format, and any value that is not a ``date`` or
  ``datetime``, goes to Django's filter. Times are in the current (clinic) time zone either way:
  the engine converts the value before the filter, as for Django's (``expects_localtime``).

``tests/web/test_fast_templates.py`` compares both with Django's on every URL name of the
project and on dates across formats, zones and years.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django import template
from django.template import defaultfilters, defaulttags
from django.template.base import Parser, Token
from django.template.context import Context
from django.urls import NoReverseMatch, get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()

_KEPT_MAX = 20_000  # addresses kept per process; the whole table is dropped when full
_kept: dict[tuple[Any, ...], str] = {}


def reversed_url(
    view_name: str, args: list[Any], kwargs: dict[str, Any], current_app: str | None
) -> str:
    """``reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)``, kept."""
    try:
        key = (
            get_resolver(get_urlconf()),
            get_script_prefix(),
            current_app,
            view_name,
            tuple((type(a), a) for a in args),
            tuple(sorted((k, type(v), v) for k, v in kwargs.items())),
        )
        hash(key)
    except TypeError:  # an argument that is not hashable: worked out each time
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
    url = _kept.get(key)
    if url is None:
        url = reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
        if len(_kept) >= _KEPT_MAX:
            _kept.clear()
        _kept[key] = url
    return url


class URLNode(defaulttags.URLNode):
    """Django's node; only the reversing is kept (``reversed_url``)."""

    def render(self, context: Context) -> str:
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        # A RequestContext carries ``request``; django-stubs do not declare it on Context (the
        # two ignores below), and a plain Context has none: Django's own node reads it the same
        # way, AttributeError meaning "no namespace asked for".
        try:
            current_app = context.request.current_app  # type: ignore[attr-defined]
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace  # type: ignore[attr-defined]
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = reversed_url(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        if context.autoescape:
            url = conditional_escape(url)
        return url


@register.tag
def url(parser: Parser, token: Token) -> URLNode:
    node = defaulttags.url(parser, token)  # Django's parsing and its errors
    return URLNode(node.view_name, node.args, node.kwargs, node.asvar)


_PARTS: dict[str, tuple[str, bool]] = {  # code: (field format, needs a time of day)
    "Y": ("{0.year:04d}", False),
    "m": ("{0.month:02d}", False),
    "d": ("{0.day:02d}", False),
    "H": ("{0.hour:02d}", True),
    "i": ("{0.minute:02d}", True),
    "s": ("{0.second:02d}", True),
}
_SEPARATORS = frozenset("-: ")


@lru_cache(maxsize=64)
def _digits_format(arg: str) -> tuple[Callable[..., str], bool] | None:
    """A format of digit codes and separators only, as ``str.format`` (and whether it needs a
    time of day); None for any other format."""
    if not arg or any(c not in _PARTS and c not in _SEPARATORS for c in arg):
        return None
    pattern = "".join(_PARTS[c][0] if c in _PARTS else c for c in arg)
    return pattern.format, any(_PARTS[c][1] for c in arg if c in _PARTS)


@register.filter(expects_localtime=True, is_safe=False)
def date(value: Any, arg: str | None = None) -> str:
    """Django's ``date`` filter, a digits-only format written directly (see the module)."""
    # A format written in a template arrives as a SafeString (a str).
    fast = _digits_format(str(arg)) if isinstance(arg, str) else None
    if fast is not None:
        write, timed = fast
        kind = type(value)
        if kind is dt.datetime or (kind is dt.date and not timed):
            return write(value)
    result: str = defaultfilters.date(value, arg)
    return result
