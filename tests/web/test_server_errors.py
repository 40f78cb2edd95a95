"""A database that stops answering gets 503 with Retry-After and a message in words (a page, the
API's JSON, FHIR's OperationOutcome); any other server error stays a 500. The fault benchmark
(benchmarks/fault_kill.py) kills a real PostgreSQL and counts these answers; here the connection is
made to fail so every kind of request can be checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client
from django.urls import reverse

from ketaflow.web.errors import RETRY_AFTER_S, database_unavailable
from tests.web.conftest import World


@pytest.fixture
def signed_in(world: World, client_for: Any) -> Client:
    client: Client = client_for(world.nurse)
    client.raise_request_exception = False
    return client


@pytest.fixture
def database_down() -> Iterator[None]:
    def refuse(self: BaseDatabaseWrapper, *args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    # Every query goes through a cursor. Restored when the test ends, before the other fixtures'
    # tear-downs (which read the database).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseWrapper, "cursor", refuse)
        yield


def test_a_page_says_the_database_is_not_answering(
    signed_in: Client, world: World, database_down: None
) -> None:
    response = signed_in.get(reverse("patient_chart", args=[world.patient.pk]))
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_S)
    text = response.content.decode()
    assert "database is not answering" in text
    assert "check that it was saved" in text
    assert "Traceback" not in text
    assert world.patient.family_name not in text


def test_the_api_and_fhir_answer_503_in_their_own_shape(
    signed_in: Client, database_down: None
) -> None:
    api = signed_in.get("/api/patients/", HTTP_AUTHORIZATION="Bearer kf_nothing")
    assert api.status_code == 503
    assert api["Retry-After"] == str(RETRY_AFTER_S)
    assert "database is not answering" in api.json()["detail"]
    fhir = signed_in.get("/fhir/Patient", HTTP_AUTHORIZATION="Bearer kf_nothing")
    assert fhir.status_code == 503
    outcome = fhir.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "transient"


@pytest.mark.urls("tests.web.broken_urls")
def test_another_server_error_stays_500_without_retry(signed_in: Client) -> None:
    response = signed_in.get("/broken/")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert "Something went wrong on the server" in response.content.decode()


def test_only_connection_failures_count_as_unavailable() -> None:
    assert database_unavailable(OperationalError("server closed the connection"))
    assert not database_unavailable(RuntimeError("a bug"))
    assert not database_unavailable(None)
