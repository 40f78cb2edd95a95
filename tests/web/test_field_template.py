"""One field template (web/field.html through the project's form renderer): each input names
its help and its error with aria-describedby, and every id it names is on the page."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any

from django import forms
from django.test import Client
from django.urls import reverse

from ketaflow.accounts.second_factor import enrol_totp, new_secret
from ketaflow.clinical.clinic_settings import REGISTRY
from ketaflow.clinicsettings.selectors import anchor_for
from ketaflow.web.forms import FormRenderer
from tests.candidacy.builders import intake_post
from tests.infusions.builders import open_session
from tests.treatment.builders import make_clinic_ready, plan
from tests.web.conftest import PASSWORD, World, patient_data


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


# ---- A refused POST in every app links its error to the input (issue 15 item 5) -------------


class _Invalid(HTMLParser):
    """Every input, select or textarea marked aria-invalid, with the aria-describedby it is read
    with: its own, or (a radio or checkbox group) the enclosing fieldset's."""

    def __init__(self) -> None:
        super().__init__()
        self.invalid: dict[str, str] = {}
        self._fieldsets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "fieldset":
            self._fieldsets.append(found.get("aria-describedby") or "")
        elif tag in ("input", "select", "textarea") and found.get("aria-invalid") == "true":
            around = next((refs for refs in reversed(self._fieldsets) if refs), "")
            self.invalid[found.get("id") or "?"] = found.get("aria-describedby") or around

    def handle_endtag(self, tag: str) -> None:
        if tag == "fieldset" and self._fieldsets:
            self._fieldsets.pop()


def _error_links(html: str) -> dict[str, str]:
    """Each invalid input's id -> the error text its aria-describedby names ("" if none)."""
    invalid = _Invalid()
    invalid.feed(html)
    page = _page(html)
    return {
        ident: " ".join(page.text[ref].strip() for ref in refs.split() if ref.endswith("_error"))
        for ident, refs in invalid.invalid.items()
    }


def _refused(response: Any, field_id: str, words: str) -> None:
    assert response.status_code in (200, 400), response.status_code
    html = response.content.decode()
    links = _error_links(html)
    assert field_id in links, sorted(links)
    assert words in links[field_id], links[field_id]
    # Every invalid input on the page is linked to words, and nothing names a missing id.
    assert all(links.values()), links
    assert _dangling(_page(html)) == []


def test_ledger_receipt(world: World, client_for: Any) -> None:
    response = client_for(world.director).post(
        reverse("ledger_receive"), {"lot": "L-9", "vial_count": "0"}
    )
    _refused(response, "id_vial_count", "greater than or equal to 1")
    _refused(response, "id_expires_on", "This field is required.")


def test_vitals_at_the_chair(world: World, client_for: Any) -> None:
    session = open_session(world)
    response = client_for(world.nurse).post(
        reverse("infusion_action", args=[session.pk, "vitals"]),
        {
            "client_uuid": str(uuid.uuid4()),
            "systolic_mmhg": "high",
            "diastolic_mmhg": "79",
            "heart_rate_bpm": "70",
            "spo2_percent": "99",
        },
    )
    _refused(response, "id_systolic_mmhg", "Enter a whole number.")


def test_booking_a_course(world: World, client_for: Any) -> None:
    course = plan(make_clinic_ready(world))
    response = client_for(world.frontdesk).post(
        reverse("course_book", args=[course.pk]),
        {"time_of_day": "09:00", **{f"date_{n}": "someday" for n in range(1, 7)}},
    )
    _refused(response, "id_date_1", "Enter a valid date.")


def test_patient_registration(world: World, client_for: Any) -> None:
    data = patient_data("Ana", "Lee")
    data["date_of_birth"] = "not a date"
    response = client_for(world.frontdesk).post(reverse("patient_new"), data)
    _refused(response, "id_date_of_birth", "Enter a valid date.")


def test_research_export(world: World, client_for: Any) -> None:
    response = client_for(world.director).post(reverse("research_export"), {})
    _refused(response, "id_formats_0", "choose CSV, Parquet or both")


def test_api_token(world: World, client_for: Any) -> None:
    response = client_for(world.director).post(
        reverse("api_tokens"), {"name": "", "expires_in_days": "9999"}
    )
    _refused(response, "id_name", "This field is required.")


def test_clinic_setting(world: World, client_for: Any) -> None:
    key = REGISTRY[0].key
    response = client_for(world.director).post(
        reverse("clinic_setting_update", args=[key]), {"value": "lots", "action": "save"}
    )
    _refused(response, f"{anchor_for(key)}-value", "is not a number")


def test_sign_in_code(world: World) -> None:
    enrol_totp(user=world.nurse, secret=new_secret(), last_t=0)
    c = Client()
    c.post(reverse("login"), {"username": "nurse", "password": PASSWORD})
    response = c.post(reverse("account_verify"), {"code": "12"})
    _refused(response, "id_code", "at least 6 characters")
