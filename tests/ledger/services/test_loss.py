"""Loss and theft (ketaflow.ledger.services.loss): DEA Form 106 data and the one-business-day
notice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ketaflow.ledger import services
from ketaflow.ledger.models import (
    LedgerEntry,
)
from tests.ledger.builders import (
    CONTENT_MG,
    Stock,
    nurse,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


@pytest.mark.parametrize(
    ("discovered", "deadline"),
    [
        ((2026, 11, 20, 16), dt.date(2026, 11, 23)),  # Friday -> Monday
        ((2026, 11, 17, 9), dt.date(2026, 11, 18)),  # Tuesday -> Wednesday
        ((2026, 11, 21, 12), dt.date(2026, 11, 23)),  # Saturday -> Monday
    ],
)
def test_the_loss_notice_is_due_within_one_business_day(
    discovered: tuple[int, int, int, int], deadline: dt.date
) -> None:
    tz = timezone.get_current_timezone()
    due = services.notify_deadline(dt.datetime(*discovered, tzinfo=tz), tz)
    assert (due.date(), due.time()) == (deadline, dt.time(23, 59, 59))


def test_a_loss_report_keeps_form_106_data_and_the_deadline(world: World, stock: Stock) -> None:
    found = timezone.now() - dt.timedelta(hours=2)
    entry = services.loss_record(
        actor=nurse(world),
        vial=stock.vials[0],
        loss_kind="theft",
        discovered_at=found,
        circumstances="vial missing from the locked cabinet at the morning count",
        police_report="PR-1",
    )
    tz = timezone.get_current_timezone()
    assert entry.form_data["form"] == "DEA-106"
    due = services.notify_deadline(found, tz)
    assert entry.form_data["notify_field_division_by"] == due.isoformat(timespec="minutes")
    assert stock.fresh(0).status == "lost"
    assert services.reconcile_vial(stock.fresh(0)).lost_mg == CONTENT_MG
