"""Read an export folder (DATA_CONTRACT.md) into a validated, typed `Export`.

Each table is `NAME.csv` or `NAME.parquet`; `export.json` carries the contract version and the export
date. CSV is read as text (no type inference: identifiers keep their leading zeros); the rules and the
choices made where the contract is silent are in `features.contract`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.constants import CONTRACT_VERSION, EXPORT_META_FILE, TABLES, TABLES_BY_NAME, Table
from features.contract import META_FILE_RANK, ContractError, ErrorLog, RawTable, table_rank, validate_tables
from features.export import Export

Progress = Callable[[str], None]
_BOM = b"\xef\xbb\xbf"
_FORMATS = ("csv", "parquet")
_META_KEYS = ("contract_version", "organisation", "exported_on")


class ExportInvalid(Exception):
    """The export breaks the contract: `errors` (at most the cap) of `total` errors, in file/row order."""

    def __init__(self, errors: list[ContractError], total: int) -> None:
        self.errors = list(errors)
        self.total = total
        first = f"; first: {self.errors[0]}" if self.errors else ""
        super().__init__(f"{total} contract error(s){first}")


def read_export(folder: Path, max_errors: int = 200, progress: Progress | None = None) -> Export:
    """Read and validate every table of the export in `folder`; raises ExportInvalid with all errors."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    say = progress or (lambda message: None)
    log = ErrorLog(max_errors)
    warnings: list[str] = []
    exported_on, organisation = _read_meta(folder / EXPORT_META_FILE, log, warnings)
    raw_tables: dict[str, RawTable] = {}
    for table in TABLES:
        raw = _read_table(folder, table, log)
        if raw is not None:
            say(f"read {raw.file} ({raw.n_rows:,} rows)")
            raw_tables[table.name] = raw
    warnings.extend(_unknown_files(folder))
    tables = validate_tables(raw_tables, exported_on, log, warnings)
    say(f"validated {len(raw_tables)} tables, {sum(len(df) for df in tables.values()):,} rows: "
        f"{log.total} error(s), {len(warnings)} warning(s)")
    if log.total or exported_on is None:
        raise ExportInvalid(log.errors, log.total)
    return Export(tables, exported_on, organisation, CONTRACT_VERSION, warnings=warnings)


# ---------------------------------------------------------------------------------------------------------
# export.json
# ---------------------------------------------------------------------------------------------------------
def _read_meta(path: Path, log: ErrorLog, warnings: list[str]) -> tuple[date | None, str]:
    """Returns (exported_on, organisation); exported_on is None when export.json is unusable."""
    name = path.name

    def error(column: str | None, value: Any, rule: str, row: int | None = None) -> None:
        shown = None if value is None else (value if isinstance(value, str) else json.dumps(value))
        log.add(ContractError(name, row, column, shown, rule), META_FILE_RANK)

    if not path.is_file():
        error(None, None, "required file missing")
        return None, ""
    data = path.read_bytes().removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        error(None, None, _not_utf8_rule(data, exc), row=data.count(b"\n", 0, exc.start) + 1)
        return None, ""
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        error(None, None, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
        return None, ""
    if not isinstance(meta, dict):
        error(None, None, "must be a JSON object with contract_version, organisation, exported_on")
        return None, ""
    for key in meta:
        if key not in _META_KEYS:
            warnings.append(f"{name}: unknown key {key!r} ignored")
    version = meta.get("contract_version")
    if "contract_version" not in meta:
        error("contract_version", None, "required")
    elif isinstance(version, bool) or not isinstance(version, int) or version != CONTRACT_VERSION:
        error("contract_version", version, f"must be {CONTRACT_VERSION} (the contract this program reads)")
    organisation = meta.get("organisation", "")
    if organisation is None:
        organisation = ""
    if not isinstance(organisation, str):
        error("organisation", organisation, "must be text")
        organisation = ""
    exported_on: date | None = None
    raw_date = meta.get("exported_on")
    if raw_date is None:
        error("exported_on", None, "required (YYYY-MM-DD)")
    elif not isinstance(raw_date, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw_date):
        error("exported_on", raw_date, "date YYYY-MM-DD required")
    else:
        try:
            exported_on = date.fromisoformat(raw_date)
        except ValueError:
            error("exported_on", raw_date, "date YYYY-MM-DD required")
    return exported_on, organisation.strip()


# ---------------------------------------------------------------------------------------------------------
# Table files
# ---------------------------------------------------------------------------------------------------------
def _read_table(folder: Path, table: Table, log: ErrorLog) -> RawTable | None:
    """Find and read one table's file; None when it is absent or unreadable (the error is logged)."""
    rank = table_rank(table.name)
    given = [folder / f"{table.name}.{fmt}" for fmt in _FORMATS if (folder / f"{table.name}.{fmt}").is_file()]
    if len(given) > 1:
        log.add(ContractError(given[0].name, None, None, None,
                              f"both {given[0].name} and {given[1].name} given: give each table once"), rank)
        return None
    if not given:
        if not table.optional:
            log.add(ContractError(f"{table.name}.csv", None, None, None,
                                  f"required table missing: give {table.name}.csv or {table.name}.parquet"), rank)
        return None
    path = given[0]
    if path.suffix == ".csv":
        return _read_csv(path, table, log, rank)
    return _read_parquet(path, table, log, rank)


def _not_utf8_rule(data: bytes, exc: UnicodeDecodeError) -> str:
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    line = data.count(b"\n", 0, exc.start) + 1
    return (f"not UTF-8: first invalid byte 0x{data[exc.start]:02x} on line {line}, "
            f"byte {exc.start - line_start + 1} of the line (save the file as UTF-8)")


def _read_csv(path: Path, table: Table, log: ErrorLog, rank: int) -> RawTable | None:
    name = path.name

    def fail(rule: str, row: int | None = None) -> None:
        log.add(ContractError(name, row, None, None, rule), rank)

    data = path.read_bytes()
    if not data:
        fail("empty file (0 bytes): a header row is required")
        return None
    data = data.removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(_not_utf8_rule(data, exc), row=data.count(b"\n", 0, exc.start) + 1)
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = list(reader)
    except csv.Error as exc:
        fail(f"not a readable CSV file: {exc}", row=reader.line_num)
        return None
    if not records or not any(any(cell.strip() for cell in record) for record in records):
        fail("no header row: the file holds no text")
        return None
    header = [cell.strip() for cell in records[0]]
    if not any(header):
        fail("no header row: the first line is empty", row=1)
        return None
    known = set(table.column_names)
    if not known & set(header):
        if len(header) == 1 and ";" in header[0]:
            fail("the delimiter must be a comma, not ';'", row=1)
        else:
            fail(f"no header row: expected the columns {', '.join(table.column_names)}", row=1)
        return None
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    for column in duplicated:
        log.add(ContractError(name, 1, column, None, "column given more than once"), rank)
    if duplicated:
        return None
    width = len(header)
    rows: list[int] = []
    cells: list[list[str]] = []
    for number, record in enumerate(records[1:], start=2):
        if len(record) == width and record[0].strip():  # the common case, checked cheaply
            rows.append(number)
            cells.append(record)
            continue
        if not any(cell.strip() for cell in record):
            continue  # a blank line (or a spreadsheet's ",,,," line) is no record (choice 1)
        if len(record) != width:
            log.add(ContractError(name, number, None, None,
                                  f"expected {width} fields (as in the header), found {len(record)}"), rank)
            record = (record + [""] * width)[:width]
        rows.append(number)
        cells.append(record)
    columns_data = list(zip(*cells, strict=True)) if cells else [()] * width
    columns = {
        column: pd.Series(values, dtype="str").str.strip()
        for column, values in zip(header, columns_data, strict=True)
    }
    return RawTable(table, name, columns, np.asarray(rows, dtype=np.int64))


def _read_parquet(path: Path, table: Table, log: ErrorLog, rank: int) -> RawTable | None:
    name = path.name
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        log.add(ContractError(name, None, None, None, f"not a readable Parquet file: {exc}"), rank)
        return None
    names = [n for n in arrow.column_names if not re.fullmatch(r"__index_level_\d+__", n)]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    for column in duplicated:
        log.add(ContractError(name, None, column, None, "column given more than once"), rank)
    if duplicated:
        return None
    columns = {}
    for column in names:
        columns[column] = _arrow_to_series(arrow.column(column)) if column in table.column_names else (
            pd.Series(np.zeros(arrow.num_rows)))  # unknown: only its name is used (for the warning)
    return RawTable(table, name, columns, np.arange(2, arrow.num_rows + 2, dtype=np.int64))


def _arrow_to_series(chunks: pa.ChunkedArray) -> pd.Series:
    """Text stays text (parsed like CSV); other Arrow types become the closest pandas dtype."""
    kind = chunks.type
    if pa.types.is_dictionary(kind):
        chunks = chunks.cast(kind.value_type)
        kind = chunks.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pd.Series(chunks.to_pylist(), dtype="str").str.strip()
    if pa.types.is_integer(kind):
        return pd.Series(chunks.to_pandas(), dtype="Int64") if chunks.null_count else pd.Series(
            chunks.to_numpy(), dtype="Int64")
    if pa.types.is_decimal(kind):
        return pd.Series(chunks.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")
    if pa.types.is_date(kind):
        # datetime64[s] holds any date; the contract check turns out-of-range years into errors
        return pd.Series(chunks.cast(pa.timestamp("s")).to_pandas())
    if pa.types.is_timestamp(kind):
        return pd.Series(chunks.to_pandas())
    if pa.types.is_boolean(kind):
        return pd.Series(chunks.to_pylist(), dtype="boolean")
    if pa.types.is_null(kind):
        return pd.Series([""] * len(chunks), dtype="str")
    return pd.Series(chunks.to_pandas())


def _unknown_files(folder: Path) -> list[str]:
    """Warnings for table-like files that are not part of the contract (e.g. a misspelt table name)."""
    expected = {f"{name}.{fmt}" for name in TABLES_BY_NAME for fmt in _FORMATS}
    return [
        f"{path.name}: not a table of the contract, ignored"
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in (".csv", ".parquet") and path.name not in expected
    ]
