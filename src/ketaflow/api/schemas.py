"""The API's request and response shapes (pydantic, through django-ninja): the OpenAPI schema
is generated from them, and every response is checked against them."""

from __future__ import annotations

import datetime as dt

from ninja import Schema


class FieldError(Schema):
    field: str
    rule: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldError] = []


class TokenOut(Schema):
    prefix: str
    name: str
    user: str
    clinic: str
    scopes: list[str]
    expires_at: dt.datetime
