from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from ketaflow.accounts.models import User


def request_user(request: HttpRequest) -> User:
    """The logged-in user of a request (views are behind ``login_required``)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Log in first.")
    return user
