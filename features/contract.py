"""The data contract (DATA_CONTRACT.md) in code: parse the cells of an export and check every rule.

`features.io` reads the files into `RawTable`s (text columns for CSV, Arrow-typed columns for Parquet);
`validate_tables` turns them into typed DataFrames (dtypes of `features.export`) and reports every
broken rule into an `ErrorLog`. Validation is driven by the table specs of `features.constants`
(type, required, nullable, choices, min/max, key, foreign keys); the rules they cannot express are the
`_check_*` functions below. Cells are parsed into their dtypes by `features.contract_cells`. Everything is
vectorised: a 150k-row export validates in a few seconds.

Choices made where the contract is silent (each is what an HR system exporting real data expects):

1. Row numbers count CSV *records*, header = row 1, blank lines included, so in a file without quoted
   line breaks the row number is the line number an editor shows. Blank lines, and lines of empty
   cells only (",,,," as spreadsheets write them), are skipped. Parquet rows use the same convention
   (first row = 2). A not-UTF-8 error names the physical line of the first bad byte.
2. A CSV record with the wrong number of fields is an error; it is padded with empty cells (or cut) to
   the header's width and still checked, so that one broken employee row does not also make every
   assessment of that employee an "unknown nip".
3. int columns accept integral decimals ("2.0", "2.", "+3"), because pandas and spreadsheets write
   nullable integers that way; "2.5", "1e3" and "2,0" are errors. decimal columns take "." as the
   decimal point and accept exponents ("1e2"); NaN and infinities are errors. Numbers carry no
   thousands separators.
4. Dates are strictly `YYYY-MM-DD` in CSV. Parquet date and timestamp columns are accepted: a timestamp
   keeps its calendar date as written (a time zone is dropped, not converted; the time of day is
   discarded). A Parquet text column is parsed exactly like CSV text, whatever the contract type.
   A Parquet integer column is accepted for an identifier (str) column, as its decimal digits.
5. bool is `true`/`false` in any letter case (CSV) or a Parquet bool; `1`, `0`, `yes`, `ya` are errors.
6. enum_list cells: tokens are split on `;`, stripped, empty tokens ignored ("pns;" = "pns"); the typed
   value is the tokens joined by `;`; a cell with no token is null (= all).
7. Cells are stripped of surrounding whitespace (including non-breaking spaces from spreadsheets) in
   every column; an empty cell is null. A non-nullable column with a null is an error ("value required").
8. Unknown columns (and a blank header cell, e.g. a trailing comma) are dropped with a warning; a
   duplicated column name is an error. A header row sharing no column with the table is reported as
   "no header row", and a one-column header containing `;` as a wrong delimiter, instead of one
   missing-column error per column.
9. Files in the folder that are not a contract table (other than `export.json`) are ignored with a
   warning when they end in .csv/.parquet, silently otherwise (e.g. the generator's `truth/`). File names
   are matched exactly (lower case). pandas' `__index_level_N__` Parquet columns are dropped silently.
10. export.json: `contract_version` must be the integer 1; `exported_on` a `YYYY-MM-DD` string;
    `organisation` is optional (default "") but must be text when given; other keys are warned about.
11. A duplicate key reports every row after the first, naming the first row; rows whose key has a
    broken cell are left out of the key and foreign-key checks (their cell error is reported already).
    A foreign key is checked only when the parent table and its key column could be read.
12. NIP checks (employees only): not 18 digits → one error; otherwise digits 1–8 must be a valid date
    and equal birth_date, digits 9–14 a valid YYYYMM equal to hired_on's year and month, digit 15 1 or 2
    and agree with sex; each mismatch is its own error on column nip.
13. "Not in the future" applies to exactly the columns the contract names (hired_on, assessed_on,
    started_on, completed_on, performance year); birth_date and awards.year are not checked, nor is a
    cycle in parent_unit_id. If export.json has no valid exported_on these checks are skipped (that
    error is reported instead).
14. Privacy: `str(ContractError)` never shows a protected value (birth_date, sex: "<protected>") nor
    the NIP digits that encode them: a NIP shows only its last three digits (`**************123`,
    `features.values.mask_nip`); the full value stays in `ContractError.value` for programs (it is left
    out of the error's repr). Rules never quote a birth date or sex.
15. Errors are reported sorted by file (export.json, then the table order of the contract), row,
    column; the first `cap` are kept and all are counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from features.constants import (
    MANAGERIAL_COMPETENCIES,
    SKP_MATRIX,
    SOCIO_CULTURAL_COMPETENCIES,
    TABLES,
    TABLES_BY_NAME,
    Column,
    Table,
)
from features.contract_cells import is_text, null_series, parse_column
from features.export import PANDAS_DTYPES, empty_table
from features.values import mask_nip

META_FILE_RANK = -1
_PROTECTED_VALUE_COLUMNS = frozenset({"birth_date", "sex"})


@dataclass(frozen=True)
class ContractError:
    """One broken rule: where (file, 1-based row with header = 1, column), the value, and the rule."""

    file: str
    row: int | None
    column: str | None
    value: str | None = field(repr=False)  # may be a NIP: only `__str__`'s masked form is printable
    rule: str

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.value is not None:
            parts.append(f"value {shown_value(self.column, self.value)!r}")
        return ", ".join(parts) + f": {self.rule}"


def shown_value(column: str | None, value: str) -> str:
    """The value as it may be printed: protected attributes withheld, a NIP masked to its last digits
    (`mask_nip`), in a composite key too (`nip+competency_id+…` shows `**************123, M-KOM, …`)."""
    names = column.split("+") if column else []
    if set(names) & _PROTECTED_VALUE_COLUMNS:
        return "<protected>"
    if "nip" in names:
        cells = value.split(", ")
        if len(names) == 1 or len(cells) != len(names):  # a cell left out (null): which one is the NIP?
            return mask_nip(value)
        value = ", ".join(mask_nip(cell) if name == "nip" else cell for name, cell in zip(names, cells, strict=True))
    return value if len(value) <= 60 else value[:59] + "…"


class ErrorLog:
    """Collects contract errors: every error is counted, the first `cap` (file, row, column order) kept."""

    def __init__(self, cap: int = 200) -> None:
        self.cap = max(int(cap), 1)
        self.total = 0
        self._kept: list[tuple[tuple[int, int, int, int], ContractError]] = []
        self._sequence = 0  # ties keep the order errors were found in

    def __len__(self) -> int:
        return self.total

    def add(self, error: ContractError, file_rank: int = 0, column_rank: int = 0) -> None:
        self.total += 1
        self._sequence += 1
        self._kept.append(((file_rank, error.row or 0, column_rank, self._sequence), error))
        if len(self._kept) > 4 * self.cap:  # bound memory on pathological exports
            self._trim()

    def add_many(self, total: int, errors: Sequence[ContractError], file_rank: int, column_rank: int) -> None:
        """Count `total` errors of which `errors` (at most `cap`, in row order) are materialised."""
        self.total += total - len(errors)
        for error in errors:
            self.add(error, file_rank, column_rank)

    def _trim(self) -> None:
        self._kept.sort(key=lambda item: item[0])
        del self._kept[self.cap:]

    @property
    def errors(self) -> list[ContractError]:
        """The kept errors, sorted by file, row and column, at most `cap`."""
        self._trim()
        return [error for _, error in self._kept]


@dataclass
class RawTable:
    """One table file as read: its columns (text `str` Series for CSV; Parquet columns keep their types)."""

    table: Table
    file: str
    columns: dict[str, pd.Series]
    rows: np.ndarray  # the 1-based row number of each record (header = 1)

    @property
    def n_rows(self) -> int:
        return len(self.rows)


@dataclass
class _Checked:
    """A table during validation: raw cells, typed values and which cells are valid."""

    raw: RawTable
    rank: int
    typed: dict[str, pd.Series] = field(default_factory=dict)
    valid: dict[str, np.ndarray] = field(default_factory=dict)  # present, not null, parsed, in range

    @property
    def file(self) -> str:
        return self.raw.file

    def has(self, *names: str) -> bool:
        return all(name in self.valid for name in names)

    def all_valid(self, *names: str) -> np.ndarray:
        mask = np.ones(self.raw.n_rows, dtype=bool)
        for name in names:
            mask &= self.valid[name]
        return mask

    def column_rank(self, name: str) -> int:
        names = self.raw.table.column_names
        return names.index(name) if name in names else len(names)

    def report(self, log: ErrorLog, column: str, mask: np.ndarray, rule: str | Callable[[int], str]) -> None:
        """Log one error per True cell of `mask`; `rule` is a text or a function of the row position.

        Only the first `cap` errors are materialised (a rule function is called for those only), so a
        column broken on every one of 150k rows costs no more than one broken cell.
        """
        mask = np.asarray(mask, dtype=bool)
        total = int(mask.sum())
        if not total:
            return
        positions = np.flatnonzero(mask)[: log.cap]
        value_columns = column.split("+")  # a composite key shows all its cells
        errors = []
        for pos in positions:
            cells = [_cell_text(self.raw.columns[c], pos) for c in value_columns if c in self.raw.columns]
            value = ", ".join(v for v in cells if v is not None) if cells else None
            text = rule if isinstance(rule, str) else rule(int(pos))
            errors.append(ContractError(self.file, int(self.raw.rows[pos]), column, value, text))
        log.add_many(total, errors, self.rank, self.column_rank(column.split("+")[0]))


def _cell_text(series: pd.Series, pos: int) -> str | None:
    value = series.iloc[pos]
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat() if (value.hour or value.minute or value.second) else value.date().isoformat()
    return str(value)


def _fmt_bound(value: float, column: Column) -> str:
    return str(int(value)) if column.type == "int" else str(float(value))


# ---------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------
def _check_cells(checked: _Checked, log: ErrorLog, warnings: list[str]) -> None:
    """Columns present, types, nulls, choices and ranges of one table."""
    raw = checked.raw
    table = raw.table
    for name in raw.columns:
        if name not in table.column_names:
            shown = repr(name) if name else "(blank header)"
            warnings.append(f"{raw.file}: unknown column {shown} ignored")
    for column in table.columns:
        if column.name not in raw.columns:
            if column.required:
                log.add(ContractError(raw.file, None, column.name, None, "required column missing"),
                        checked.rank, checked.column_rank(column.name))
            continue
        parsed = parse_column(column, raw.columns[column.name])
        if parsed.column_problem:
            log.add(ContractError(raw.file, None, column.name, None, parsed.column_problem),
                    checked.rank, checked.column_rank(column.name))
            continue
        bad = np.zeros(raw.n_rows, dtype=bool)
        for mask, rule in parsed.problems:
            checked.report(log, column.name, mask & ~bad, rule)
            bad |= mask
        if not column.nullable:
            rule = "value required" if column.type not in ("str", "enum") else "non-empty value required"
            checked.report(log, column.name, parsed.null, rule)
        values = parsed.values.reset_index(drop=True)
        ok = ~parsed.null & ~bad
        if column.min is not None or column.max is not None:
            numbers = values.to_numpy(dtype="float64", na_value=np.nan)
            out = np.zeros(raw.n_rows, dtype=bool)
            if column.min is not None:
                out |= numbers < column.min
            if column.max is not None:
                out |= numbers > column.max
            out &= ok
            if column.min is not None and column.max is not None:
                rule = f"must be between {_fmt_bound(column.min, column)} and {_fmt_bound(column.max, column)}"
            elif column.min is not None:
                rule = f"must be ≥ {_fmt_bound(column.min, column)}"
            else:
                rule = f"must be ≤ {_fmt_bound(column.max or 0, column)}"
            checked.report(log, column.name, out, rule)
            ok &= ~out
        checked.typed[column.name] = values
        checked.valid[column.name] = ok


def _check_key(checked: _Checked, log: ErrorLog) -> None:
    key = list(checked.raw.table.key)
    if not key or not checked.has(*key):
        return
    ok = checked.all_valid(*key)
    frame = pd.DataFrame({name: checked.typed[name] for name in key})[ok]
    if frame.empty:
        return
    frame["__row"] = checked.raw.rows[ok]
    duplicated = frame.duplicated(subset=key, keep="first")
    if not duplicated.any():
        return
    first_rows = frame.groupby(key, sort=False, dropna=False)["__row"].transform("first").to_numpy()
    positions = np.flatnonzero(ok)
    mask = np.zeros(checked.raw.n_rows, dtype=bool)
    mask[positions[duplicated.to_numpy()]] = True
    first_of = dict(zip(positions.tolist(), first_rows.tolist(), strict=True))
    checked.report(log, "+".join(key), mask,
                   lambda pos: f"duplicate key ({', '.join(key)}), first given in row {first_of[pos]}")


def _check_foreign_keys(checked: _Checked, tables: Mapping[str, _Checked], log: ErrorLog) -> None:
    for column, parent_name, parent_column in checked.raw.table.foreign_keys:
        parent = tables.get(parent_name)
        if parent is None or not parent.has(parent_column) or not checked.has(column):
            continue  # the parent could not be read: that error is reported already
        known = parent.typed[parent_column][parent.valid[parent_column]].unique()
        ok = checked.valid[column]
        unknown = ok & ~checked.typed[column].isin(known).to_numpy(dtype=bool)
        checked.report(log, column, unknown, f"unknown {parent_column}: not in {parent.file}")


def _check_not_future(checked: _Checked, columns: Sequence[str], exported_on: date | None, log: ErrorLog
                      ) -> None:
    if exported_on is None:
        return
    limit = pd.Timestamp(exported_on)
    for name in columns:
        if checked.has(name):
            late = checked.valid[name] & (checked.typed[name] > limit).to_numpy(dtype=bool, na_value=False)
            checked.report(log, name, late, f"in the future: after exported_on {exported_on.isoformat()}")


def _check_employees(checked: _Checked, exported_on: date | None, log: ErrorLog) -> None:
    _check_not_future(checked, ["hired_on"], exported_on, log)
    if not checked.has("nip"):
        return
    nip = checked.typed["nip"]
    present = checked.valid["nip"]
    well_formed = present & nip.str.fullmatch(r"\d{18}").to_numpy(dtype=bool, na_value=False)
    checked.report(log, "nip", present & ~well_formed, "18 digits required")
    ok_nip = pd.Series(well_formed)
    nip_birth = pd.to_datetime(nip.str.slice(0, 8).where(ok_nip), format="%Y%m%d", errors="coerce")
    birth_ok = well_formed & nip_birth.notna().to_numpy()
    checked.report(log, "nip", well_formed & ~birth_ok, "digits 1–8 must be a birth date YYYYMMDD")
    if checked.has("birth_date"):
        both = birth_ok & checked.valid["birth_date"]
        differ = both & (nip_birth != checked.typed["birth_date"]).to_numpy(dtype=bool, na_value=False)
        checked.report(log, "nip", differ, "digits 1–8 must equal birth_date")
    nip_hired = pd.to_datetime(nip.str.slice(8, 14).where(ok_nip), format="%Y%m", errors="coerce")
    hired_ok = well_formed & nip_hired.notna().to_numpy()
    checked.report(log, "nip", well_formed & ~hired_ok, "digits 9–14 must be an appointment month YYYYMM")
    if checked.has("hired_on"):
        hired = checked.typed["hired_on"]
        both = hired_ok & checked.valid["hired_on"]
        differ = both & ((nip_hired.dt.year != hired.dt.year) | (nip_hired.dt.month != hired.dt.month)
                         ).to_numpy(dtype=bool, na_value=False)
        checked.report(log, "nip", differ,
                       lambda pos: f"digits 9–14 must equal hired_on's year and month ({hired.iloc[pos]:%Y%m})")
    sex_digit = nip.str.slice(14, 15)
    digit_ok = well_formed & sex_digit.isin(["1", "2"]).to_numpy(dtype=bool)
    checked.report(log, "nip", well_formed & ~digit_ok, "digit 15 must be 1 (l) or 2 (p)")
    if checked.has("sex"):
        expected = checked.typed["sex"].map({"l": "1", "p": "2"})
        both = digit_ok & checked.valid["sex"]
        differ = both & (sex_digit != expected).to_numpy(dtype=bool, na_value=False)
        checked.report(log, "nip", differ, "digit 15 must agree with sex (1 = l, 2 = p)")


def _check_performance(checked: _Checked, exported_on: date | None, log: ErrorLog) -> None:
    if exported_on is not None and checked.has("year"):
        late = checked.valid["year"] & (checked.typed["year"] > exported_on.year).to_numpy(dtype=bool,
                                                                                             na_value=False)
        checked.report(log, "year", late, f"after the export year {exported_on.year}")
    if checked.has("rating", "work_result", "work_behavior"):
        ok = checked.all_valid("rating", "work_result", "work_behavior")
        result, behavior = checked.typed["work_result"], checked.typed["work_behavior"]
        matrix = pd.Series({f"{r}|{b}": rating for (r, b), rating in SKP_MATRIX.items()})
        expected = (result.astype(object) + "|" + behavior.astype(object)).map(matrix)
        differ = ok & (checked.typed["rating"].astype(object) != expected).to_numpy(dtype=bool)

        def rule(pos: int) -> str:
            return (f"must be '{expected.iloc[pos]}' for work_result {result.iloc[pos]} and work_behavior "
                    f"{behavior.iloc[pos]} (SKP matrix, PermenPAN-RB 6/2022)")

        checked.report(log, "rating", differ, rule)


def _check_training_targets(checked: _Checked, log: ErrorLog) -> None:
    if checked.has("min_level", "max_level"):
        ok = checked.all_valid("min_level", "max_level")
        below = ok & (checked.typed["max_level"] < checked.typed["min_level"]).to_numpy(dtype=bool,
                                                                                        na_value=False)
        min_level = checked.typed["min_level"]
        checked.report(log, "max_level", below, lambda pos: f"must be ≥ min_level ({min_level.iloc[pos]})")


def _check_training_records(checked: _Checked, exported_on: date | None, log: ErrorLog) -> None:
    _check_not_future(checked, ["started_on", "completed_on"], exported_on, log)
    if checked.has("started_on", "completed_on"):
        ok = checked.all_valid("started_on", "completed_on")
        started = checked.typed["started_on"]
        before = ok & (checked.typed["completed_on"] < started).to_numpy(dtype=bool, na_value=False)
        checked.report(log, "completed_on", before,
                       lambda pos: f"before started_on ({started.iloc[pos]:%Y-%m-%d})")
    if checked.has("status"):
        status = checked.typed["status"]
        valid_status = checked.valid["status"]
        if "completed_on" in checked.raw.columns:  # given as read, even if it is not a valid date
            completed_given = ~_null_cells(checked.raw.columns["completed_on"])
        else:
            completed_given = np.zeros(checked.raw.n_rows, dtype=bool)
        selesai = valid_status & (status == "selesai").to_numpy(dtype=bool, na_value=False)
        berjalan = valid_status & (status == "berjalan").to_numpy(dtype=bool, na_value=False)
        checked.report(log, "completed_on", selesai & ~completed_given, "required when status is selesai")
        checked.report(log, "completed_on", berjalan & completed_given, "must be empty when status is berjalan")


def _null_cells(series: pd.Series) -> np.ndarray:
    """Cells that are absent or empty text, as read."""
    null = series.isna().to_numpy(dtype=bool, copy=True)
    if is_text(series):
        null = null | (series.str.strip() == "").to_numpy(dtype=bool, na_value=True)
    return null


def _check_competency_catalogue(checked: _Checked, warnings: list[str]) -> None:
    if not checked.has("name", "kind"):
        return
    ok = checked.all_valid("name", "kind")
    given = set(zip(checked.typed["name"][ok].str.lower(), checked.typed["kind"][ok], strict=True))
    expected = [(name, "manajerial") for name in MANAGERIAL_COMPETENCIES]
    expected += [(name, "sosial_kultural") for name in SOCIO_CULTURAL_COMPETENCIES]
    for name, kind in expected:
        if (name.lower(), kind) not in given:
            warnings.append(f"{checked.file}: PermenPAN-RB 38/2017 competency '{name}' ({kind}) is missing")


def _typed_frame(checked: _Checked) -> pd.DataFrame:
    """The table in the dtypes of features.export (absent optional columns are null)."""
    n = checked.raw.n_rows
    data: dict[str, pd.Series] = {}
    for column in checked.raw.table.columns:
        dtype = PANDAS_DTYPES[column.type]
        if column.name in checked.typed:
            values = checked.typed[column.name]
            if column.type == "bool":
                values = values.astype("bool") if not values.isna().any() else values
            else:
                values = values.astype(dtype)
        else:
            values = null_series(column, n)
        data[column.name] = values.reset_index(drop=True)
    return pd.DataFrame(data, index=pd.RangeIndex(n))


def validate_tables(raw_tables: Mapping[str, RawTable], exported_on: date | None, log: ErrorLog,
                    warnings: list[str]) -> dict[str, pd.DataFrame]:
    """Check every rule of the contract on the tables read; returns the typed tables (all of TABLES).

    Tables missing from `raw_tables` (absent optional ones, or ones whose file could not be read — that
    error is already in `log`) come back empty, and foreign keys into them are not checked.
    """
    checked: dict[str, _Checked] = {}
    for rank, table in enumerate(TABLES):
        raw = raw_tables.get(table.name)
        if raw is None:
            continue
        item = _Checked(raw, rank)
        _check_cells(item, log, warnings)
        _check_key(item, log)
        checked[table.name] = item
    for name, item in checked.items():
        _check_foreign_keys(item, checked, log)
        if name == "employees":
            _check_employees(item, exported_on, log)
        elif name == "assessments":
            _check_not_future(item, ["assessed_on"], exported_on, log)
        elif name == "performance_reviews":
            _check_performance(item, exported_on, log)
        elif name == "training_targets":
            _check_training_targets(item, log)
        elif name == "training_records":
            _check_training_records(item, exported_on, log)
        elif name == "competencies":
            _check_competency_catalogue(item, warnings)
    out: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        out[table.name] = _typed_frame(checked[table.name]) if table.name in checked else empty_table(table)
    return out


def table_rank(name: str) -> int:
    """The position of a table in the contract (the order errors are reported in)."""
    return list(TABLES_BY_NAME).index(name) if name in TABLES_BY_NAME else len(TABLES_BY_NAME)
