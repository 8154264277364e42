"""A unit's learning culture (issue 19, point 4): how its staff train, beside the city's other units.

For a unit head, not for judging a person: every figure is an aggregate over the unit's active staff
(with its sub-units, as the unit summary counts them), as of the snapshot date, and is suppressed (null,
with the reason) when fewer than `MIN_CELL` people or enrolments are behind it (small-cell disclosure: a
rate over two people tells whether each of them finished). The figures:

- completion rate: enrolments completed (`selesai`) over those that ended (`selesai` + `tidak_selesai`) in
  the last `COMPLETION_MONTHS` months; an enrolment ends on `completed_on`, or, when that is empty (the
  contract allows it for `tidak_selesai`), on `started_on`. Running ones (`berjalan`) have not ended.
- no training: the share of staff in service for the whole of the last `INACTIVE_MONTHS` months who
  completed no training in them (someone hired last month has not had the time: they would only make the
  figure look worse).
- 20 JP compliance: for each of the last `COMPLIANCE_YEARS` complete calendar years and the current year
  so far, the share of staff in service on 1 January of that year who completed at least
  `JP_RIGHT_PER_YEAR` JP of training in it (up to the snapshot date). Records are the staff's own,
  wherever they worked then: the figure describes today's team.

Beside each figure stands its distribution over the city's units, each unit counted as the summary counts
it (with its sub-units, so a kecamatan and its kelurahan both take part), among the units whose figure is
not suppressed. Everything is computed for every unit at once (`culture_table`, cached per snapshot and
as-of date by `engine.units_summary`); `learning_culture` then reads one unit's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from engine.core import _t
from engine.results import CityRange, CultureFigure, CultureYear, LearningCulture
from features.constants import ACTIVE_STATUS, JP_RIGHT_PER_YEAR
from features.export import Export

MIN_CELL = 5  # fewer people or enrolments than this behind a figure: suppressed
COMPLETION_MONTHS = 36
INACTIVE_MONTHS = 24
COMPLIANCE_YEARS = 3  # complete calendar years before the current one


@dataclass
class CultureTable:
    """Per unit (index: every unit_id of units.csv, in file order): the numerator and basis of each figure
    over the unit's active staff with its sub-units; `years` are the compliance years, oldest first."""

    as_of: date
    years: list[int]
    counts: pd.DataFrame


def _ancestors(units: pd.DataFrame) -> pd.DataFrame:
    """(unit code, ancestor-or-self code) pairs of the unit tree: a person of unit c counts in each
    ancestor's figure, which is what `engine.units.unit_scope` gives from the other end."""
    ids = units["unit_id"].astype(str).tolist()
    code = {u: i for i, u in enumerate(ids)}
    parents = units["parent_unit_id"] if "parent_unit_id" in units.columns else pd.Series(pd.NA, index=units.index)
    parent = {u: str(p) for u, p in zip(ids, parents.tolist(), strict=True) if p is not None and not pd.isna(p)}
    child, ancestor = [], []
    for unit in ids:  # a few hundred units; the walk stops at a (contract-breaking) cycle
        seen: set[str] = set()
        at: str | None = unit
        while at is not None and at in code and at not in seen:
            seen.add(at)
            child.append(code[unit])
            ancestor.append(code[at])
            at = parent.get(at)
    return pd.DataFrame({"unit": np.asarray(child, np.int64), "ancestor": np.asarray(ancestor, np.int64)})


def _months_before(as_of: date, months: int) -> pd.Timestamp:
    return pd.Timestamp(as_of) - pd.DateOffset(months=months)


def culture_table(export: Export, as_of: date) -> CultureTable:
    """Every unit's counts behind the learning-culture figures at `as_of` (see the module docstring), in one
    vectorised pass: per-person counts with `np.bincount`, then summed over each unit and its ancestors."""
    units = export["units"].drop_duplicates("unit_id")
    unit_ids = pd.Index(units["unit_id"].astype(str))
    emp = export["employees"].drop_duplicates("nip")
    emp = emp[emp["status"] == ACTIVE_STATUS]
    nips = pd.Index(emp["nip"].astype(str))
    n = len(nips)
    at = pd.Timestamp(as_of)
    hired = pd.to_datetime(emp["hired_on"]).to_numpy("datetime64[ns]")

    records = export["training_records"]
    person = nips.get_indexer(records["nip"].astype(str))
    status = records["status"].astype(str).to_numpy()
    started = pd.to_datetime(records["started_on"]).to_numpy("datetime64[ns]")
    completed = pd.to_datetime(records["completed_on"]).to_numpy("datetime64[ns]")
    ended_on = np.where(np.isnat(completed), started, completed)
    mine = person >= 0
    done = mine & (status == "selesai") & ~np.isnat(completed) & (completed <= at.to_datetime64())
    ended = done | (mine & (status == "tidak_selesai") & (ended_on <= at.to_datetime64()))

    def per_person(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(person[mask], weights=None if weights is None else weights[mask], minlength=n)

    since = _months_before(as_of, COMPLETION_MONTHS).to_datetime64()
    in_window = ended & (ended_on > since)
    cols: dict[str, np.ndarray] = {
        "completion_done": per_person(in_window & (status == "selesai")).astype(np.float64),
        "completion_ended": per_person(in_window).astype(np.float64),
    }
    cols["completion_people"] = (cols["completion_ended"] > 0).astype(np.float64)
    recent_since = _months_before(as_of, INACTIVE_MONTHS).to_datetime64()
    trained = per_person(done & (completed > recent_since)) > 0
    serving = hired <= recent_since
    cols["inactive_staff"] = (serving & ~trained).astype(np.float64)
    cols["inactive_basis"] = serving.astype(np.float64)

    trainings = export["trainings"].drop_duplicates("training_id")
    hours = trainings.set_index(trainings["training_id"].astype(str))["hours_jp"]
    jp = hours.reindex(records["training_id"].astype(str)).astype("float64").fillna(0.0).to_numpy(np.float64)
    completed_year = pd.DatetimeIndex(completed).year.to_numpy()
    years = list(range(as_of.year - COMPLIANCE_YEARS, as_of.year + 1))
    for year in years:
        jp_year = per_person(done & (completed_year == year), jp)
        in_service = hired <= np.datetime64(f"{year}-01-01", "ns")
        cols[f"jp_{year}_met"] = (in_service & (jp_year >= JP_RIGHT_PER_YEAR)).astype(np.float64)
        cols[f"jp_{year}_basis"] = in_service.astype(np.float64)

    per = pd.DataFrame(cols)
    unit_code = unit_ids.get_indexer(emp["unit_id"].astype(str))
    pairs = _ancestors(units)
    people = pd.DataFrame({"row": np.arange(n), "unit": unit_code}).merge(pairs, on="unit")
    summed = per.iloc[people["row"].to_numpy()].groupby(people["ancestor"].to_numpy()).sum()
    counts = summed.reindex(range(len(unit_ids)), fill_value=0.0)
    counts.index = unit_ids
    return CultureTable(as_of=as_of, years=years, counts=counts.astype(np.int64))


def _shares(numerator: pd.Series, basis: pd.Series, people: pd.Series) -> pd.Series:
    """numerator / basis per unit, NaN where fewer than MIN_CELL people or records are behind it."""
    enough = (basis >= MIN_CELL) & (people >= MIN_CELL)
    return (numerator / basis.where(basis > 0)).where(enough)


def _figure(shares: pd.Series, unit_id: str, basis: int, lang: str) -> CultureFigure:
    """The unit's figure with the distribution of the same figure over the units that have it."""
    known = shares.dropna().to_numpy(np.float64)
    value = shares.get(unit_id)
    own = None if value is None or pd.isna(value) else float(value)
    p25: float | None = None
    median: float | None = None
    p75: float | None = None
    if len(known):
        p25, median, p75 = (round(float(q), 6) for q in np.percentile(known, [25, 50, 75]))
    percentile = None
    if own is not None and len(known):
        # Mid-rank: units below count whole, units level with this one half (itself included).
        below = float(np.sum(known < own - 1e-12)) + 0.5 * float(np.sum(np.abs(known - own) <= 1e-12))
        percentile = round(100.0 * below / len(known), 6)
    city = CityRange(units=int(len(known)), p25=p25, median=median, p75=p75, unit_percentile=percentile)
    if own is None:
        reason = _t(lang, f"Disembunyikan: kurang dari {MIN_CELL} pegawai atau pendaftaran pelatihan di "
                          "baliknya, agar tidak ada orang yang dapat dikenali.",
                    f"Hidden: fewer than {MIN_CELL} employees or enrolments are behind it, so that no one "
                    "can be singled out.")
        return CultureFigure(value=None, basis=None, suppressed_reason=reason, city=city)
    return CultureFigure(value=round(own, 6), basis=int(basis), suppressed_reason=None, city=city)


def learning_culture(table: CultureTable, unit_id: str, lang: str = "id") -> LearningCulture:
    """The learning-culture figures of `unit_id` (a unit of `table`) beside the city's units."""
    c = table.counts
    row = c.loc[unit_id]
    completion = _figure(_shares(c["completion_done"], c["completion_ended"], c["completion_people"]),
                         unit_id, int(row["completion_ended"]), lang)
    inactive = _figure(_shares(c["inactive_staff"], c["inactive_basis"], c["inactive_basis"]),
                       unit_id, int(row["inactive_basis"]), lang)
    years = [CultureYear(year=y, complete=y < table.as_of.year,
                         figure=_figure(_shares(c[f"jp_{y}_met"], c[f"jp_{y}_basis"], c[f"jp_{y}_basis"]),
                                        unit_id, int(row[f"jp_{y}_basis"]), lang))
             for y in table.years]
    note = _t(lang, "Angka agregat unit beserta sub-unitnya, dibandingkan dengan unit lain di kota; tidak ada "
                    "nilai per orang.",
              "Aggregates of the unit with its sub-units, compared with the city's other units; no value per "
              "person.")
    return LearningCulture(as_of=table.as_of, min_cell=MIN_CELL, completion_months=COMPLETION_MONTHS,
                           completion_rate=completion, no_training_months=INACTIVE_MONTHS,
                           no_training_share=inactive, jp_right=JP_RIGHT_PER_YEAR, jp_compliance=years,
                           units_in_city=len(c), note=note)
