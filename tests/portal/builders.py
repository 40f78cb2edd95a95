"""Builders of portal test data: a patient client past the second factor, a second patient
with a portal login."""

from __future__ import annotations

from django.test import Client

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from tests.web.conftest import PASSWORD, World, pass_second_factor


def verified_client(user: User) -> Client:
    """A patient logged in with the second factor passed."""
    c = Client()
    c.force_login(user)
    pass_second_factor(c, user)
    return c


def second_patient_login(world: World) -> User:
    """Give the clinic's other patient a portal login too."""
    user = User.objects.create_user(
        username="bruno", password=PASSWORD, role=Role.PATIENT, clinic=world.clinic
    )
    world.other_patient.user = user
    world.other_patient.save(update_fields=["user"])
    return user
