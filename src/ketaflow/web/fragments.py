"""Several templates of one page rendered with one request context (issue 16).

A page that answers a script's fetch with its cards re-rendered (the infusion page: ten cards
after every entry and at every timer) rendered each card with ``render_to_string(name, context,
request)``, and each of those calls ran every context processor again: the navigation, the
urgent-task banner's reads, the backup warning, a new CSRF token. ``render_fragments`` runs them
once and renders each template in a layer of its own, so nothing a template sets (``{% url ...
as name %}``, ``{% cycle ... as name %}``) reaches the next; each template's output is what
``render_to_string`` gives with the same context (the CSRF token aside: one a request, not one a
card; every one of them is valid).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.template.context import make_context
from django.utils.safestring import SafeString


def render_fragments(
    request: HttpRequest, templates: Mapping[str, str], context: Mapping[str, Any]
) -> dict[str, SafeString]:
    """``{key: template name}`` rendered with ``context`` and the request's context processors
    (run once): ``{key: markup}``."""
    backend = engines["django"]
    if not isinstance(backend, DjangoTemplates):
        raise TypeError("render_fragments needs the Django template engine")
    loaded = {key: backend.engine.get_template(name) for key, name in templates.items()}
    if not loaded:
        return {}
    shared = make_context(dict(context), request, autoescape=backend.engine.autoescape)
    out: dict[str, SafeString] = {}
    # Bound to one template, the context processors run once; each template then renders as an
    # included template does (its own render state), in a layer popped after it.
    with shared.bind_template(next(iter(loaded.values()))):
        for key, template in loaded.items():
            with shared.push():
                out[key] = template.render(shared)
    return out
