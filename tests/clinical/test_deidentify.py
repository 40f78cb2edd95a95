"""The Safe Harbor rule set (45 CFR 164.514(b)(2); HHS de-identification guidance, 2012;
deidentification.md s. 1-3): ZIP codes, ages, research ids, date shifts, the tables' guard."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaflow.clinical.deidentify import (
    IDENTIFIERS,
    RESTRICTED_ZIP3,
    TABLES,
    Cell,
    Pseudonyms,
    age_group,
    age_years,
    check_rows,
    icd10_category,
    zip3,
)


def test_the_eighteen_identifiers_in_the_rule_s_order() -> None:
    assert [i.letter for i in IDENTIFIERS] == [chr(c) for c in range(ord("A"), ord("S"))]
    assert all(i.handling for i in IDENTIFIERS)


@pytest.mark.parametrize(
    ("postal", "expected"),
    [
        ("03601", "000"),  # Lebanon, NH: 036 is a restricted area (HHS list)
        ("03601-1234", "000"),
        ("89001", "000"),  # 890 restricted
        ("10001", "100"),  # New York: over 20,000 people, kept
        ("12203 4567", "122"),
        ("", ""),
        ("SW1A 1AA", ""),  # not a US ZIP: nothing of it leaves
        ("K1A 0B1", ""),
        ("1234", ""),
        ("123456", ""),
    ],
)
def test_zip3(postal: str, expected: str) -> None:
    assert zip3(postal) == expected


def test_the_restricted_list_has_the_seventeen_areas_of_the_guidance() -> None:
    assert len(RESTRICTED_ZIP3) == 17
    assert all(len(z) == 3 and z.isdigit() for z in RESTRICTED_ZIP3)
    assert {"036", "059", "893"} <= RESTRICTED_ZIP3
    assert all(zip3(z + "00") == "000" for z in RESTRICTED_ZIP3)


@pytest.mark.parametrize(
    ("age", "group"),
    [
        (17, "<18"),
        (18, "18-19"),
        (19, "18-19"),
        (20, "20-24"),
        (44, "40-44"),
        (45, "45-49"),
        (89, "85-89"),
        (90, "90+"),
        (95, "90+"),
        (117, "90+"),
    ],
)
def test_age_groups_with_90_and_over_as_one(age: int, group: str) -> None:
    assert age_group(age) == group


def test_a_negative_age_is_refused() -> None:
    with pytest.raises(ValueError, match="age must be 0 or more"):
        age_group(-1)


def test_age_years_counts_the_birthday() -> None:
    assert age_years(dt.date(1930, 6, 15), dt.date(2026, 6, 14)) == 95
    assert age_years(dt.date(1930, 6, 15), dt.date(2026, 6, 15)) == 96


def test_icd10_category() -> None:
    assert icd10_category("F43.12") == "F43"
    assert icd10_category("f33.1") == "F33"
    assert icd10_category("F32") == "F32"


def test_research_ids_are_random_per_export_and_stable_within_it() -> None:
    one, two = Pseudonyms(), Pseudonyms()
    a = one.research_id("P", ("patient", 1))
    assert one.research_id("P", ("patient", 1)) == a
    assert one.research_id("P", ("patient", 2)) != a
    assert two.research_id("P", ("patient", 1)) != a  # a new export, a new id
    assert a.startswith("P-")
    assert len(a) == 12


def test_ids_do_not_collide() -> None:
    ps = Pseudonyms()
    ids = {ps.research_id("I", n) for n in range(2000)}
    assert len(ids) == 2000


def test_one_offset_per_patient_never_zero_and_intervals_kept() -> None:
    ps = Pseudonyms()
    day1, day2 = dt.date(2026, 3, 2), dt.date(2026, 3, 16)
    s1, s2 = ps.shift("p", day1), ps.shift("p", day2)
    assert s1 is not None
    assert s2 is not None
    assert s2 - s1 == day2 - day1
    assert s1 != day1
    offsets = [Pseudonyms().offset_days("p") for _ in range(300)]
    assert 0 not in offsets
    assert all(-365 <= o <= 365 for o in offsets)
    assert min(offsets) < 0 < max(offsets)
    assert len(set(offsets)) > 100  # drawn at random, not derived from the key
    assert ps.shift("p", None) is None


def test_check_rows_refuses_an_unexpected_column_or_type() -> None:
    table = next(t for t in TABLES if t.name == "patients")
    row: dict[str, Cell] = dict.fromkeys(table.names, "")
    check_rows(table, [row])
    with pytest.raises(ValueError, match="columns differ"):
        check_rows(table, [{**row, "family_name": "Anders"}])
    dates = next(t for t in TABLES if t.name == "courses")
    bad: dict[str, Cell] = dict.fromkeys(dates.names)
    bad["start_date"] = dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)  # a clock time is not a day
    with pytest.raises(ValueError, match="start_date must be date"):
        check_rows(dates, [bad])


def test_every_column_is_described() -> None:
    for table in TABLES:
        assert len(set(table.names)) == len(table.names)
        assert table.label
        for column in table.columns:
            assert column.meaning, (table.name, column.name)
            assert column.deidentified, (table.name, column.name)
