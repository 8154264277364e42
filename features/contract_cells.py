"""Cells of an export, parsed into the dtypes of `features.export` (part of the contract: `features.contract`).

Text cells (CSV, or Parquet strings) and typed Parquet values become the contract's dtypes; a bad cell
becomes null and is listed with the rule it breaks. The readings chosen where the contract is silent
(integral decimals in int columns, `true`/`false` in any case, enum lists, whitespace, Parquet types)
are numbered in the docstring of `features.contract` (choices 3–7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.constants import Column
from features.export import PANDAS_DTYPES

_INT_RE = r"[+-]?\d+(?:\.0*)?"
_DECIMAL_RE = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_MAX_INT_DIGITS = 15  # parsed exactly through float64; no contract quantity comes near it
# datetime64[ns] holds 1677-09-21 … 2262-04-11; a date outside is an error, not a silent NaT.
_MIN_YEAR, _MAX_YEAR = 1678, 2261


@dataclass
class Parsed:
    values: pd.Series
    null: np.ndarray
    problems: list[tuple[np.ndarray, str]]
    column_problem: str | None = None  # the whole column has an unusable type (Parquet)


def is_text(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.StringDtype)


def parse_column(column: Column, series: pd.Series) -> Parsed:
    """Parse one column into its contract dtype; bad cells become null and are listed in `problems`."""
    if is_text(series):
        return _parse_text(column, series.str.strip())
    return _parse_typed(column, series)


def _parse_text(column: Column, text: pd.Series) -> Parsed:
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    null = ~present
    problems: list[tuple[np.ndarray, str]] = []
    kind = column.type
    values: pd.Series
    if kind in ("str", "enum"):
        values = text.where(pd.Series(present, index=text.index)).astype("str")
        if kind == "enum":
            bad = present & ~text.isin(column.choices).to_numpy(dtype=bool)
            problems.append((bad, f"must be one of: {', '.join(column.choices)}"))
    elif kind == "enum_list":
        values, bad_tokens, empty = _parse_enum_list(column, text, present)
        null = null | empty
        problems.append((bad_tokens, f"`;`-separated values, each one of: {', '.join(column.choices)}"))
    elif kind == "int":
        ok = text.str.fullmatch(_INT_RE).to_numpy(dtype=bool) & present
        problems.append((present & ~ok, "whole number required"))
        digits = text.str.replace(r"\.0*$", "", regex=True).str.lstrip("+-")
        too_long = ok & (digits.str.len().to_numpy(dtype="float64", na_value=0) > _MAX_INT_DIGITS)
        problems.append((too_long, "whole number out of range"))
        ok &= ~too_long
        cleaned = text.str.replace(r"\.0*$", "", regex=True).where(pd.Series(ok, index=text.index))
        values = pd.to_numeric(cleaned.astype(object), errors="coerce").astype("Int64")
    elif kind == "decimal":
        ok = text.str.fullmatch(_DECIMAL_RE).to_numpy(dtype=bool) & present
        problems.append((present & ~ok, "number required (decimal point '.')"))
        numbers = pd.to_numeric(text.where(pd.Series(ok, index=text.index)).astype(object), errors="coerce")
        numbers = numbers.astype("float64")
        infinite = ok & ~np.isfinite(numbers.to_numpy(na_value=0.0))
        problems.append((infinite, "number out of range"))
        values = numbers.where(~pd.Series(infinite, index=text.index))
    elif kind == "date":
        ok = text.str.fullmatch(_DATE_RE).to_numpy(dtype=bool) & present
        dates = pd.to_datetime(text.where(pd.Series(ok, index=text.index)), format="%Y-%m-%d", errors="coerce")
        ok &= dates.notna().to_numpy()
        years = dates.dt.year.to_numpy(dtype="float64", na_value=np.nan)
        ok &= (years >= _MIN_YEAR) & (years <= _MAX_YEAR)
        problems.append((present & ~ok, "date YYYY-MM-DD required"))
        values = dates.where(pd.Series(ok, index=text.index)).astype("datetime64[ns]")
    elif kind == "bool":
        lowered = text.str.lower()
        ok = lowered.isin(["true", "false"]).to_numpy(dtype=bool) & present
        problems.append((present & ~ok, "true or false required"))
        values = pd.Series((lowered == "true").to_numpy(dtype=bool), index=text.index, dtype="boolean")
        values[~ok] = pd.NA
    else:  # pragma: no cover - constants.ColumnType is closed
        raise ValueError(f"unknown column type {kind}")
    return Parsed(values, null, problems)


def _parse_enum_list(column: Column, text: pd.Series, present: np.ndarray
                     ) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Split `;` lists; returns normalised text, cells with an unknown token, cells with no token."""
    normalised = pd.Series(np.nan, index=text.index, dtype="str")
    bad = np.zeros(len(text), dtype=bool)
    empty = np.zeros(len(text), dtype=bool)
    choices = set(column.choices)
    positions = np.flatnonzero(present)
    out: list[object] = []
    for pos in positions:  # trainings is a small catalogue; a Python loop over its cells is cheap
        tokens = [token.strip() for token in str(text.iloc[pos]).split(";")]
        tokens = [token for token in tokens if token]
        if not tokens:
            empty[pos] = True
            out.append(np.nan)
        elif not set(tokens) <= choices:
            bad[pos] = True
            out.append(np.nan)
        else:
            out.append(";".join(tokens))
    if len(positions):
        normalised.iloc[positions] = pd.Series(out, dtype="str").to_numpy()
    return normalised, bad, empty


def _parse_typed(column: Column, series: pd.Series) -> Parsed:
    """Parquet columns that are not text: accept the Arrow types that mean the contract type."""
    series = series.reset_index(drop=True)
    null = series.isna().to_numpy(dtype=bool)
    present = ~null
    dtype = series.dtype
    kind = column.type
    problems: list[tuple[np.ndarray, str]] = []
    is_int = pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    is_float = pd.api.types.is_float_dtype(dtype)
    is_datetime = pd.api.types.is_datetime64_any_dtype(dtype)

    def unusable() -> Parsed:
        values = null_series(column, len(series))
        problem = f"Parquet type {dtype} is not accepted for a {kind} column"
        return Parsed(values, np.zeros(len(series), dtype=bool), [], problem)

    if len(series) and null.all():  # an all-null column has no usable type information
        return _parse_text(column, pd.Series([""] * len(series), dtype="str"))
    if kind in ("str", "enum", "enum_list"):
        if not is_int:
            return unusable()
        text = series.astype("Int64").astype("str").where(pd.Series(present), "")
        return _parse_text(column, text.astype("str"))
    if kind == "int":
        if is_int:
            return Parsed(series.astype("Int64"), null, problems)
        if not is_float:
            return unusable()
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        ok = present & np.isfinite(numbers) & (np.floor(numbers) == numbers) & (np.abs(numbers) < 2**53)
        problems.append((present & ~ok, "whole number required"))
        return Parsed(pd.Series(np.where(ok, numbers, np.nan)).astype("Int64"), null, problems)
    if kind == "decimal":
        if not (is_int or is_float):
            return unusable()
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        infinite = present & ~np.isfinite(numbers)
        problems.append((infinite, "number out of range"))
        return Parsed(pd.Series(np.where(infinite, np.nan, numbers), dtype="float64"), null, problems)
    if kind == "date":
        if not is_datetime:
            return unusable()
        if getattr(dtype, "tz", None) is not None:
            series = series.dt.tz_localize(None)  # keep the wall-clock date as written (choice 4)
        years = series.dt.year.to_numpy(dtype="float64", na_value=np.nan)
        ok = present & (years >= _MIN_YEAR) & (years <= _MAX_YEAR)
        problems.append((present & ~ok, "date out of range"))
        values = series.where(pd.Series(ok)).dt.normalize().astype("datetime64[ns]")
        return Parsed(values, null, problems)
    if kind == "bool":
        if not pd.api.types.is_bool_dtype(dtype):
            return unusable()
        return Parsed(series.astype("boolean"), null, problems)
    raise ValueError(f"unknown column type {kind}")  # pragma: no cover



def null_series(column: Column, n: int) -> pd.Series:
    """A column of n nulls in the column's dtype (bool columns use the nullable `boolean`)."""
    if column.type == "bool":
        return pd.Series(pd.NA, index=range(n), dtype="boolean")
    if column.type == "int":
        return pd.Series(pd.NA, index=range(n), dtype="Int64")
    return pd.Series(np.nan, index=range(n)).astype(PANDAS_DTYPES[column.type])

