"""Several templates rendered with one request context (``ketaflow.web.fragments``, issue 16):
the context processors run once, each template gives what ``render_to_string`` gives, and
nothing one template sets reaches the next."""

from __future__ import annotations

import re
from typing import Any

from django.template.loader import render_to_string
from django.test import RequestFactory, override_settings

from ketaflow.web.fragments import render_fragments

CALLS: list[int] = []


def counting(request: Any) -> dict[str, Any]:
    CALLS.append(1)
    return {"from_processor": "P"}


TEMPLATES = {
    "sets.html": (
        "{% url 'home' as home %}{% cycle 'p' 'q' as turn %}{% firstof 'f' as first %}"
        "[{{ home }}][{{ turn }}][{{ first }}][{{ given }}][{{ from_processor }}]"
    ),
    "reads.html": "[{{ home }}][{{ turn }}][{{ first }}][{{ given }}][{{ from_processor }}]",
    "token.html": "{% csrf_token %}{{ given|upper }}{% include 'reads.html' %}",
}
LOCMEM = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {
            "loaders": [("django.template.loaders.locmem.Loader", TEMPLATES)],
            "context_processors": [f"{__name__}.counting"],
        },
    }
]
TOKEN = re.compile(r'value="[^"]+"')


@override_settings(TEMPLATES=LOCMEM)
def test_processors_run_once_and_nothing_leaks_between_templates() -> None:
    request = RequestFactory().get("/")
    names = {"a": "sets.html", "b": "reads.html", "c": "token.html", "d": "sets.html"}
    CALLS.clear()
    out = render_fragments(request, names, {"given": "g<"})
    assert CALLS == [1]
    assert out["a"] == "p[/][p][f][g&lt;][P]"  # the cycle tag shows its value too
    assert out["b"] == "[][][][g&lt;][P]"  # the first template's names are gone
    assert out["d"] == out["a"]  # a cycle starts again in each template
    for key, name in names.items():
        alone = render_to_string(name, {"given": "g<"}, request)
        assert TOKEN.sub("", out[key]) == TOKEN.sub("", alone)
    assert 'name="csrfmiddlewaretoken"' in out["c"]
    assert len(CALLS) == 1 + len(names)  # render_to_string: once a template
    assert render_fragments(request, {}, {}) == {}
