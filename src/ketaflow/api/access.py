"""Who sees which API tokens: a person their own; a clinic's medical director every token of
their clinic. Another clinic's token, or someone else's for anyone else, is not found (404)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.api.models import ApiToken


def tokens_for_user(user: User) -> QuerySet[ApiToken]:
    if not user.is_authenticated or not user.is_active or user.clinic_id is None:
        return ApiToken.objects.none()
    tokens = ApiToken.objects.select_related("user").filter(clinic_id=user.clinic_id)
    if user.may(Perm.MANAGE_STAFF):
        return tokens
    return tokens.filter(user=user)


def token_for_user(user: User, token_id: int) -> ApiToken:
    token = tokens_for_user(user).filter(pk=token_id).first()
    if token is None:
        raise Http404("No such API token.")
    return token
