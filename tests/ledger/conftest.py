"""Fixtures of the ledger's tests: a stock of three vials, and the patient made ready to be
drawn for (a signed candidacy and a current consent) in every test that builds the world."""

from __future__ import annotations

import pytest

from tests.ledger.builders import (
    Stock,
    make_ready,
    receive,
)
from tests.web.conftest import World


@pytest.fixture
def stock(world: World) -> Stock:
    return receive(world)


@pytest.fixture(autouse=True)
def ready(request: pytest.FixtureRequest) -> None:
    """Ketamine is drawn only for a patient with a signed candidacy and a current consent."""
    if "world" in request.fixturenames:
        world = request.getfixturevalue("world")
        make_ready(world, world.patient)
