"""One field template (web/field.html through the project's form renderer): each input names
its help and its error with aria-describedby, and every id it names is on the page."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django import forms
from django.urls import reverse

from ketaflow.web.forms import FormRenderer
from tests.candidacy.builders import intake_post
from tests.web.conftest import World


class _Page(HTMLParser):
    """Each element's attributes by id, the text inside each id'd element, and every
    aria-describedby."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.text: dict[str, str] = {}
        self.described: list[tuple[str, str]] = []
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        ident = found.get("id")
        if ident:
            self.by_id[ident] = found
            self.text.setdefault(ident, "")
        if found.get("aria-describedby"):
            self.described.append((ident or tag, found["aria-describedby"] or ""))
        if tag not in ("input", "br", "img", "meta", "link", "hr"):
            self._open.append(ident)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag not in ("input", "br", "img", "meta", "link", "hr"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for ident in self._open:
            if ident:
                self.text[ident] += data


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _dangling(page: _Page) -> list[str]:
    return [
        f"{who} -> {ref}"
        for who, refs in page.described
        for ref in refs.split()
        if ref not in page.by_id
    ]


def test_the_renderer_uses_the_one_field_template() -> None:
    class Sample(forms.Form):
        dose_mg = forms.DecimalField(label="Dose (mg)", help_text="As prescribed.")

    form = Sample({"dose_mg": "x"}, renderer=FormRenderer())
    page = _page(str(form["dose_mg"].as_field_group()))
    field = page.by_id["id_dose_mg"]
    assert field["aria-describedby"] == "id_dose_mg_helptext id_dose_mg_error"
    assert field["aria-invalid"] == "true"
    assert page.text["id_dose_mg_helptext"] == "As prescribed."
    assert "Enter a number." in page.text["id_dose_mg_error"]
    assert _dangling(page) == []


def test_an_intake_error_is_linked_to_its_input(world: World, client_for: Any) -> None:
    """The candidacy intake refused (a weight outside the entry guard): the weight input names
    its help and its error, and every aria-describedby on the page resolves."""
    response = client_for(world.nurse).post(
        reverse("candidacy_intake", args=[world.patient.pk]), intake_post(weight_kg="900")
    )
    assert response.status_code == 200
    page = _page(response.content.decode())
    refs = (page.by_id["id_weight_kg"]["aria-describedby"] or "").split()
    assert refs == ["id_weight_kg_helptext", "id_weight_kg_error"]
    assert "outside the plausible range 20-400 kg" in page.text["id_weight_kg_error"]
    assert "stored in kg" in page.text["id_weight_kg_helptext"]
    assert _dangling(page) == []


def test_no_dangling_descriptions_on_the_forms_of_these_apps(world: World, client_for: Any) -> None:
    """Pages whose fields carry help text or errors: no aria-describedby names a missing id."""
    c = client_for(world.director)
    pages = [
        reverse("candidacy_intake", args=[world.patient.pk]),
        reverse("consent", args=[world.patient.pk]),
        reverse("outcomes_dashboard") + "?start=not-a-day",
        reverse("audit_list") + "?patient=NOPE",
    ]
    for url in pages:
        response = c.get(url)
        assert response.status_code == 200, url
        assert _dangling(_page(response.content.decode())) == [], url
