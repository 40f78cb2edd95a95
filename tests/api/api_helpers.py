"""Helpers of the API tests: tokens for the personas, and calls with them."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from ketaflow.accounts.models import User
from ketaflow.api.services import token_create
from ketaflow.audit.context import Actor


def token_for(user: User, *scopes: str, days: int = 30) -> str:
    return token_create(actor=Actor.system("tests"), user=user, scopes=scopes, days=days).token


def call(method: str, path: str, token: str | None, body: Any = None) -> Any:
    """The response of ``method path`` with ``token`` (and a JSON body)."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    client = Client()
    if body is None:
        return getattr(client, method.lower())(path, **headers)
    return getattr(client, method.lower())(
        path, data=json.dumps(body), content_type="application/json", **headers
    )
