"""Fixtures of the treatment tests: the clinic ready to plan and book (the demo chairs and
opening hours, signed candidacies), in the test database and in the live server's."""

from __future__ import annotations

import pytest

from tests.treatment.builders import make_clinic_ready, make_ready_world
from tests.web.conftest import World


@pytest.fixture
def clinic_ready(world: World) -> World:
    """Four chairs, Monday-Friday 08:00-18:00, and signed candidacies for both patients."""
    return make_clinic_ready(world)


@pytest.fixture
def ready_world(live_world: World) -> World:
    """The same for the live server's world (the browser tests)."""
    return make_ready_world(live_world)
