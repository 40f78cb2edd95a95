"""Template helpers of the treatment pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm

register = template.Library()


@register.filter
def may(user: object, perm: str) -> bool:
    """``{% if user|may:"plan_course" %}``: whether the user's role grants the permission."""
    return isinstance(user, User) and user.may(Perm(perm))


@register.filter
def plain(value: object) -> str:
    """A decimal without trailing zeros or exponent: 40.0 -> "40", 0.500 -> "0.5"."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)
