"""Template helpers of the treatment pages."""

from __future__ import annotations

from django import template

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm

register = template.Library()


@register.filter
def may(user: object, perm: str) -> bool:
    """``{% if user|may:"plan_course" %}``: whether the user's role grants the permission."""
    return isinstance(user, User) and user.may(Perm(perm))
