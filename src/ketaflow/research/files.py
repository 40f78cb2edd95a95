"""The research export's files (no Django): one CSV and one Parquet file per table, the data
dictionary (CSV, generated from the same column declarations as the tables) and the manifest
(JSON), as a mapping of file name to bytes, and as a zip.

CSV cells go through ``web.export.csv_text`` (no spreadsheet formula survives); dates are ISO
``YYYY-MM-DD``, booleans ``true``/``false``, an empty cell is a missing value. Parquet columns
have the dictionary's types (string, int64, float64, bool, date32).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

import pyarrow as pa
import pyarrow.parquet as pq

from ketaflow.clinical.deidentify import (
    IDENTIFIERS,
    SAFE_HARBOR_SOURCE,
    SAFE_HARBOR_STATEMENT,
    TABLES,
    Cell,
    ColumnType,
    Table,
)
from ketaflow.web.export import csv_text

DICTIONARY = "data_dictionary.csv"
MANIFEST = "manifest.json"
DICTIONARY_HEADER = ("table", "column", "type", "unit", "meaning", "de-identification")


class Format(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


def parse_formats(text: str) -> tuple[Format, ...]:
    """``"csv,parquet"`` -> the formats; an unknown one is refused naming it and the choices."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("--format: give csv, parquet or both (csv,parquet)")
    found: list[Format] = []
    for name in names:
        try:
            fmt = Format(name)
        except ValueError:
            raise ValueError(
                f"--format: {name!r} is not a format (choose csv, parquet or both)"
            ) from None
        if fmt not in found:
            found.append(fmt)
    return tuple(found)


def _csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def table_csv(table: Table, rows: Sequence[Mapping[str, Cell]]) -> bytes:
    lines: list[Sequence[str | int | float]] = [table.names]
    lines += [[_csv_cell(row[name]) for name in table.names] for row in rows]
    return csv_text(lines).encode()


_ARROW: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.FLOAT: pa.float64(),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.DATE: pa.date32(),
}


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, _ARROW[c.type]) for c in table.columns])


def _arrow_cell(kind: ColumnType, value: Cell) -> Cell:
    """A float column's integers as floats (pyarrow refuses to mix them in a float64 array)."""
    if kind is ColumnType.FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def table_parquet(table: Table, rows: Sequence[Mapping[str, Cell]]) -> bytes:
    columns = {
        c.name: pa.array([_arrow_cell(c.type, row[c.name]) for row in rows], type=_ARROW[c.type])
        for c in table.columns
    }
    arrow_table = pa.table(columns, schema=arrow_schema(table))
    out = io.BytesIO()
    pq.write_table(arrow_table, out)
    return out.getvalue()


def dictionary_csv(tables: Iterable[Table] = TABLES) -> bytes:
    lines: list[Sequence[str]] = [DICTIONARY_HEADER]
    for table in tables:
        lines += [
            (table.name, c.name, c.type.value, c.unit, c.meaning, c.deidentified)
            for c in table.columns
        ]
    return csv_text(lines).encode()


def manifest_json(
    *,
    exported_at: dt.datetime,
    version: str,
    counts: Mapping[str, int],
    formats: Sequence[Format],
    clinic_time_zone: str,
) -> bytes:
    manifest = {
        "title": "KetaFlow de-identified research export",
        "exported_at": exported_at.isoformat(timespec="seconds"),
        "ketaflow_version": version,
        "formats": [f.value for f in formats],
        "row_counts": dict(counts),
        "tables": {t.name: f"one row per {t.one_row_per}" for t in TABLES},
        "days_in_time_zone": clinic_time_zone,
        "dates": "every date is shifted by a secret random offset per patient (up to a year "
        "either way); intervals within a patient are exact, calendar dates are not real",
        "research_ids": "random for this export; they match nothing in another export",
        "safe_harbor_statement": SAFE_HARBOR_STATEMENT,
        "identifiers_removed": [f"({i.letter}) {i.name}: {i.handling}" for i in IDENTIFIERS],
        "source": SAFE_HARBOR_SOURCE,
        "files": [DICTIONARY, MANIFEST] + [f"{t.name}.{f.value}" for t in TABLES for f in formats],
    }
    return (json.dumps(manifest, indent=2) + "\n").encode()


def export_files(
    tables: Mapping[str, Sequence[Mapping[str, Cell]]],
    *,
    formats: Sequence[Format],
    exported_at: dt.datetime,
    version: str,
    clinic_time_zone: str,
) -> dict[str, bytes]:
    """Every file of the export, by name."""
    files: dict[str, bytes] = {}
    for table in TABLES:
        rows = tables[table.name]
        if Format.CSV in formats:
            files[f"{table.name}.csv"] = table_csv(table, rows)
        if Format.PARQUET in formats:
            files[f"{table.name}.parquet"] = table_parquet(table, rows)
    files[DICTIONARY] = dictionary_csv()
    files[MANIFEST] = manifest_json(
        exported_at=exported_at,
        version=version,
        counts={name: len(rows) for name, rows in tables.items()},
        formats=formats,
        clinic_time_zone=clinic_time_zone,
    )
    return files


def zip_bytes(files: Mapping[str, bytes], folder: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return out.getvalue()
