"""schemathesis against the API's own OpenAPI schema: requests generated from the schema for
every operation, as the demo clinic's medical director with every scope; no answer is a server
error and every answer matches the schema (status code, content type, body)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ketaflow.accounts.models import User
from ketaflow.api.scopes import scopes_for_role
from ketaflow.web.demo import demo_load
from tests.api.api_helpers import token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 30  # per operation


def _exercise(operation: Any, headers: dict[str, str], seen: set[int]) -> None:
    """Call ``operation`` with generated requests and check each answer (noting its status)."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        seen.add(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


@pytest.mark.slow
@override_settings(API_RATE="100000/min")
def test_every_operation_answers_as_its_schema_says(db: None) -> None:
    demo_load()
    cache.clear()
    director = User.objects.get(username="director")
    token = token_for(director, *[s.key for s in scopes_for_role(director.role)])
    headers = {"Authorization": f"Bearer {token}"}
    # As Django's test client does: the request's end must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert len(operations) >= 12
    calls: dict[str, set[int]] = {}

    try:
        for operation in operations:
            seen = calls.setdefault(f"{operation.method.upper()} {operation.path}", set())
            _exercise(operation, headers, seen)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    # The generated calls reached the operations, not only their refusals.
    assert any(200 in codes for codes in calls.values()), calls
    assert all(codes for codes in calls.values()), calls
