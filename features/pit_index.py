"""The point-in-time index of an export (`PitIndex`) and the prediction queries asked of it.

Part of `features.pit` (whose docstring states the dating rules): records are sorted once by
(group, day) into `Timeline`s whose prefix sums answer "state of group g on day d" and "sum over a
window of days" with one `np.searchsorted` per query column. `features.pit_features` computes the
features of query rows from the index, `features.pit_pairs` the training and back-test pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.constants import (
    ACTIVE_STATUS,
    ASSESSMENT_METHODS,
    COMPETENCY_KINDS,
    EDUCATIONS,
    PNS_GRADES,
    SKP_EXPECTATIONS,
    SKP_RATINGS,
)
from features.export import Export

DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_YEAR = 365.25

# Format groups of plan trainings (DOMAIN.md: classical vs non-classical forms).
FORMAT_GROUPS: dict[str, str] = {
    "klasikal": "classroom", "blended": "classroom", "workshop": "classroom",
    "e_learning": "online", "seminar": "online",
    "coaching": "workplace", "mentoring": "workplace", "magang": "workplace",
}
QUERY_COLUMNS: tuple[str, ...] = ("nip", "competency_id", "as_of", "horizon_months", "required_level")

DAY_OFFSET = 100_000  # added to days since 1970 so that any date after ~1700 is positive
_DAY_SPAN = 1 << 18  # keys are group * span + day; days stay below the span until ~2400
_RATING_RANK = {r: len(SKP_RATINGS) - i for i, r in enumerate(SKP_RATINGS)}  # sangat_baik 5 … sangat_kurang 1
_EXPECTATION_RANK = {e: len(SKP_EXPECTATIONS) - i for i, e in enumerate(SKP_EXPECTATIONS)}
_TRUST_RANK = {m: i for i, m in enumerate(ASSESSMENT_METHODS)}


def to_days(values: object) -> np.ndarray:
    """Day numbers (int64, offset so that they are positive) of dates/timestamps; NaT becomes -1."""
    stamps = pd.to_datetime(pd.Series(values) if not isinstance(values, pd.Series) else values)
    raw = stamps.to_numpy(dtype="datetime64[D]")
    out = raw.astype(np.int64) + DAY_OFFSET
    out[np.isnat(raw)] = -1
    return out


def day_of(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64)) + DAY_OFFSET


def date_of(day: int) -> date:
    """The date of a day number (the inverse of `day_of`)."""
    return date.fromisoformat(str(np.datetime64(int(day) - DAY_OFFSET, "D")))


def year_end_days(years: np.ndarray) -> np.ndarray:
    """Day numbers of 31 December of each year."""
    ends = (years.astype(np.int64) - 1970 + 1).astype("datetime64[Y]").astype("datetime64[D]") - 1
    return ends.astype(np.int64) + DAY_OFFSET


def years_of_days(days: np.ndarray) -> np.ndarray:
    """Calendar years of day numbers."""
    return (days - DAY_OFFSET).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def as_str(series: pd.Series) -> pd.Series:
    return series if series.dtype == "str" else series.astype("str")


@dataclass
class Timeline:
    """Events sorted by (group, day) with running sums of their values *within* each group.

    Sums restart at every group, so a group's answer depends on its own events only (bit for bit): the
    records of other employees, or their order, can never change a feature by a rounding error.
    """

    keys: np.ndarray
    groups: np.ndarray
    days: np.ndarray
    running: dict[str, np.ndarray]  # running[name][i] = sum of name over the group's events up to i
    values: dict[str, np.ndarray]  # per-event values in sorted order

    @classmethod
    def build(cls, groups: np.ndarray, days: np.ndarray, **values: np.ndarray) -> Timeline:
        groups = np.asarray(groups, dtype=np.int64)
        days = np.asarray(days, dtype=np.int64)
        order = np.lexsort((days, groups))
        g = groups[order]
        sorted_values = {k: np.asarray(v, dtype=np.float64)[order] for k, v in values.items()}
        running = {k: pd.Series(v).groupby(g).cumsum().to_numpy(np.float64) for k, v in sorted_values.items()}
        return cls(g * _DAY_SPAN + days[order], g, days[order], running, sorted_values)

    def position(self, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Number of events before (group, day] in sort order: events of lower groups, or of `group` on or
        before `day`."""
        return np.searchsorted(self.keys, groups * _DAY_SPAN + days, side="right")

    def last(self, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index (in sort order) of each group's last event on or before `days`; -1 when there is none."""
        if len(self.keys) == 0:
            return np.full(len(groups), -1, dtype=np.int64)
        i = self.position(groups, days) - 1
        found = (i >= 0) & (self.groups[np.maximum(i, 0)] == groups)
        return np.where(found, i, -1)

    def upto(self, name: str, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Sum of `name` over the events of each group dated on or before `days`."""
        if len(self.keys) == 0:
            return np.zeros(len(groups), dtype=np.float64)
        i = self.last(groups, days)
        return np.where(i >= 0, self.running[name][np.maximum(i, 0)], 0.0)

    def window(self, name: str, groups: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Sum of `name` over the events of each group with lo < day ≤ hi."""
        return self.upto(name, groups, hi) - self.upto(name, groups, np.minimum(lo, hi))


@dataclass
class PitIndex:
    """An export sorted for point-in-time look-ups; build once (`PitIndex.build`), query many times."""

    exported_on: date
    nips: pd.Index
    competencies: pd.DataFrame  # index competency_id: name, kind, code
    employees: pd.DataFrame  # index nip: static attributes, in `nips` order
    standards: pd.Series  # required_level by (position_id, competency_id)
    assessments: pd.DataFrame  # every assessment, with nip/competency codes and day numbers (evidence)
    trainings: pd.DataFrame  # catalogue indexed by training_id: hours_jp, format_group
    targets: pd.DataFrame  # training_id, competency_id, min_level, max_level, comp code
    target_keys: np.ndarray  # sorted catalogue position × n_competencies + comp code of every target
    target_order: np.ndarray  # the `targets` row of each sorted key
    daily: Timeline  # trusted level per (employee × competency, day)
    employee_state: Timeline  # running sums of latest levels per employee, by competency kind
    unit_state: Timeline  # running sums of latest levels per (unit × competency)
    ptype_state: Timeline  # running sums of latest levels per (position type × competency)
    competency_state: Timeline  # running sums of latest levels per competency
    completed: Timeline  # completed trainings per employee (count, JP)
    completed_ids: np.ndarray  # training_id of each `completed` event, in the same order
    abandoned: Timeline  # abandoned trainings per employee
    targeted: Timeline  # completed trainings per (employee × targeted competency)
    skp_years: np.ndarray  # the SKP years of the matrices below
    skp_last_rank: np.ndarray  # [employee, year]: last rating rank on or before the year (forward-filled)
    skp_last_pct: np.ndarray  # [employee, year]: last within-unit percentile on or before the year
    skp_rank: np.ndarray  # [employee, year]: rating rank of that year (NaN when absent)
    # Look-up tables derived from the fields above on first use (one-employee requests): see `_derived`.
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_competencies(self) -> int:
        return len(self.competencies)

    def _derived(self, name: str, build: Any) -> Any:
        """`derived[name]`, built by `build()` the first time (a race only builds it twice)."""
        value = self.derived.get(name)
        if value is None:
            value = self.derived[name] = build()
        return value

    def arrays(self, table: str) -> dict[str, np.ndarray]:
        """The columns of `employees` or `competencies` (with its index as a column) as numpy arrays: a
        one-row request takes a few values from them (converting an Arrow column costs more than the rest)."""
        def build() -> dict[str, np.ndarray]:
            frame = (self.employees if table == "employees" else self.competencies).reset_index()
            return {str(c): frame[c].to_numpy() for c in frame.columns}

        return self._derived(f"arrays:{table}", build)

    def standards_of(self, position_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(competency_ids, required levels) the position requires, in `standards` order, known
        competencies only."""
        def build() -> dict[str, tuple[np.ndarray, np.ndarray]]:
            std = self.standards
            comps = std.index.get_level_values(1).astype("str")
            known = self.competencies.index.get_indexer(comps) >= 0
            positions = std.index.get_level_values(0).astype("str").to_numpy()[known]
            comp_ids = comps.to_numpy()[known].astype(object)
            required = std.to_numpy(np.float64)[known]
            rows: dict[str, list[int]] = {}
            for i, position in enumerate(positions):
                rows.setdefault(str(position), []).append(i)
            return {p: (comp_ids[r], required[r]) for p, r in rows.items()}

        table = self._derived("standards_by_position", build)
        return table.get(str(position_id), (np.empty(0, dtype=object), np.empty(0, dtype=np.float64)))

    @classmethod
    def build(cls, export: Export) -> PitIndex:
        """Sort and code one export; O(n log n) in its number of records."""
        ex = export.without_protected()
        comps = ex["competencies"][["competency_id", "name", "kind"]].copy()
        comps["competency_id"] = as_str(comps["competency_id"])
        comps = comps.drop_duplicates("competency_id").set_index("competency_id")
        comps["code"] = np.arange(len(comps), dtype=np.int64)
        comps["kind_code"] = pd.Index(COMPETENCY_KINDS).get_indexer(comps["kind"]).astype(np.int64)
        n_comp = len(comps)

        emp = cls._employee_table(ex)
        nips = pd.Index(emp.index)

        standards = ex["position_standards"].assign(
            position_id=lambda d: as_str(d["position_id"]), competency_id=lambda d: as_str(d["competency_id"]))
        standards = standards.set_index(["position_id", "competency_id"])["required_level"].astype("float64")

        # Assessments of known employees and competencies, with codes and day numbers.
        a = ex["assessments"][["nip", "competency_id", "assessed_on", "level", "method"]].copy()
        a["nip_code"] = nips.get_indexer(as_str(a["nip"]))
        a["comp_code"] = comps["code"].reindex(as_str(a["competency_id"])).to_numpy()
        a = a[(a["nip_code"] >= 0) & a["comp_code"].notna() & a["level"].notna() & a["assessed_on"].notna()]
        a = a.assign(comp_code=a["comp_code"].astype(np.int64), day=to_days(a["assessed_on"]),
                     trust=a["method"].map(_TRUST_RANK).fillna(len(_TRUST_RANK)).astype(np.int64))
        a = a.sort_values(["nip_code", "comp_code", "day", "trust"], kind="stable").reset_index(drop=True)

        # The current level on a day is the most trusted of that day's measurements (DATA_CONTRACT.md).
        d = a.drop_duplicates(["nip_code", "comp_code", "day"], keep="first").reset_index(drop=True)
        pair = d["nip_code"].to_numpy() * n_comp + d["comp_code"].to_numpy()
        level = d["level"].to_numpy(dtype=np.float64)
        first = np.r_[True, pair[1:] != pair[:-1]]
        prev = np.where(first, 0.0, np.r_[0.0, level[:-1]])
        t = (d["day"].to_numpy() - DAY_OFFSET) / DAYS_PER_YEAR - 50.0  # years since 2020: small numbers
        daily = Timeline.build(pair, d["day"].to_numpy(), n=np.ones(len(d)), level=level, t=t, tt=t * t,
                                ty=t * level, method=d["trust"].to_numpy())

        # Running state "sum and count of latest levels" changes by (new − old, first?) at each new level.
        delta, fresh = level - prev, first.astype(np.float64)
        kind = comps["kind_code"].to_numpy()[d["comp_code"].to_numpy()]
        per_kind = {}
        for k in range(len(COMPETENCY_KINDS)):
            per_kind[f"sum{k}"] = np.where(kind == k, delta, 0.0)
            per_kind[f"cnt{k}"] = np.where(kind == k, fresh, 0.0)
        emp_codes = d["nip_code"].to_numpy()
        employee_state = Timeline.build(emp_codes, d["day"].to_numpy(), sum=delta, cnt=fresh, **per_kind)
        comp_codes = d["comp_code"].to_numpy()
        unit_state = Timeline.build(emp["unit_code"].to_numpy()[emp_codes] * n_comp + comp_codes,
                                     d["day"].to_numpy(), sum=delta, cnt=fresh)
        ptype_state = Timeline.build(emp["ptype_code"].to_numpy()[emp_codes] * n_comp + comp_codes,
                                      d["day"].to_numpy(), sum=delta, cnt=fresh)
        competency_state = Timeline.build(comp_codes, d["day"].to_numpy(), sum=delta, cnt=fresh)

        trainings, targets = cls._catalogue(ex, comps)
        completed, completed_ids, abandoned, targeted = cls._training_timelines(ex, nips, trainings, targets,
                                                                               n_comp)
        skp = cls._skp_matrices(ex, nips, emp)
        key = trainings.index.get_indexer(targets["training_id"]).astype(np.int64) * n_comp + targets["comp_code"]
        target_order = np.argsort(key.to_numpy(), kind="stable")
        return cls(export.exported_on, nips, comps, emp, standards, a, trainings, targets,
                   key.to_numpy()[target_order], target_order, daily,
                   employee_state, unit_state, ptype_state, competency_state, completed, completed_ids,
                   abandoned, targeted, *skp)

    @staticmethod
    def _employee_table(ex: Export) -> pd.DataFrame:
        units = ex["units"].assign(unit_id=lambda d: as_str(d["unit_id"])).drop_duplicates("unit_id")
        positions = ex["positions"].assign(position_id=lambda d: as_str(d["position_id"]))
        positions = positions.drop_duplicates("position_id").set_index("position_id")
        emp = ex["employees"][["nip", "unit_id", "position_id", "grade", "employment", "education", "hired_on",
                               "status"]].copy()
        emp = emp.assign(nip=as_str(emp["nip"]), unit_id=as_str(emp["unit_id"]),
                         position_id=as_str(emp["position_id"])).drop_duplicates("nip").set_index("nip")
        unit_index = pd.Index(units["unit_id"])
        emp["unit_code"] = np.maximum(unit_index.get_indexer(emp["unit_id"]), 0).astype(np.int64)
        emp["unit_kind"] = units.set_index("unit_id")["kind"].reindex(emp["unit_id"]).to_numpy()
        emp["position_type"] = positions["position_type"].reindex(emp["position_id"]).to_numpy()
        emp["job_family"] = positions["job_family"].reindex(emp["position_id"]).to_numpy()
        ptypes = pd.Index(sorted(set(emp["position_type"].dropna().astype(str))))
        emp["ptype_code"] = np.maximum(ptypes.get_indexer(emp["position_type"]), 0).astype(np.int64)
        emp["grade_rank"] = emp["grade"].map(_grade_rank).astype("float64")
        emp["education_rank"] = emp["education"].map({e: i + 1 for i, e in enumerate(EDUCATIONS)})
        emp["education_rank"] = emp["education_rank"].astype("float64")
        emp["hired_day"] = to_days(emp["hired_on"])
        return emp

    @staticmethod
    def _catalogue(ex: Export, comps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        trainings = ex["trainings"].assign(training_id=lambda d: as_str(d["training_id"]))
        trainings = trainings.drop_duplicates("training_id").set_index("training_id")
        trainings = pd.DataFrame({
            "hours_jp": trainings["hours_jp"].astype("float64").fillna(0.0),
            "format_group": trainings["format"].map(FORMAT_GROUPS).fillna("classroom").astype("str"),
        })
        targets = ex["training_targets"].assign(training_id=lambda d: as_str(d["training_id"]),
                                                competency_id=lambda d: as_str(d["competency_id"]))
        targets = targets[targets["competency_id"].isin(comps.index)].copy()
        targets["comp_code"] = comps["code"].reindex(targets["competency_id"]).to_numpy().astype(np.int64)
        targets["min_level"] = targets["min_level"].astype("float64")
        targets["max_level"] = targets["max_level"].astype("float64")
        return trainings, targets.reset_index(drop=True)

    @staticmethod
    def _training_timelines(ex: Export, nips: pd.Index, trainings: pd.DataFrame, targets: pd.DataFrame,
                            n_comp: int) -> tuple[Timeline, np.ndarray, Timeline, Timeline]:
        r = ex["training_records"]
        r = r.assign(nip_code=nips.get_indexer(as_str(r["nip"])), training_id=as_str(r["training_id"]))
        r = r[r["nip_code"] >= 0]
        done = r[(r["status"] == "selesai") & r["completed_on"].notna()]
        done = done.assign(day=to_days(done["completed_on"]),
                           jp=trainings["hours_jp"].reindex(done["training_id"]).fillna(0.0).to_numpy())
        completed = Timeline.build(done["nip_code"].to_numpy(), done["day"].to_numpy(), n=np.ones(len(done)),
                                    jp=done["jp"].to_numpy())
        order = np.lexsort((done["day"].to_numpy(), done["nip_code"].to_numpy()))
        completed_ids = done["training_id"].to_numpy(dtype=object)[order]
        quit_ = r[r["status"] == "tidak_selesai"]
        quit_day = to_days(quit_["completed_on"].fillna(quit_["started_on"]))
        abandoned = Timeline.build(quit_["nip_code"].to_numpy(), quit_day, n=np.ones(len(quit_)))
        aimed = done[["nip_code", "training_id", "day"]].merge(targets[["training_id", "comp_code"]],
                                                              on="training_id")
        targeted = Timeline.build(aimed["nip_code"].to_numpy() * n_comp + aimed["comp_code"].to_numpy(),
                                   aimed["day"].to_numpy(), n=np.ones(len(aimed)))
        return completed, completed_ids, abandoned, targeted

    @staticmethod
    def _skp_matrices(ex: Export, nips: pd.Index, emp: pd.DataFrame
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Employee × year matrices of SKP rating ranks and within-unit-year percentiles."""
        p = ex["performance_reviews"]
        p = p.assign(nip_code=nips.get_indexer(as_str(p["nip"])))
        p = p[(p["nip_code"] >= 0) & p["year"].notna()].copy()
        if p.empty:
            empty = np.full((len(nips), 1), np.nan)
            return np.array([1900]), empty, empty, empty
        p["year"] = p["year"].astype(np.int64)
        p["rank"] = p["rating"].map(_RATING_RANK).astype("float64")
        # Predicates are quota-shaped per unit, so the percentile within the unit-year is what is comparable;
        # the result/behaviour ranks break ties inside a predicate.
        score = (p["rank"] * 100 + p["work_result"].map(_EXPECTATION_RANK).astype("float64") * 10
                 + p["work_behavior"].map(_EXPECTATION_RANK).astype("float64"))
        p["unit_code"] = emp["unit_code"].to_numpy()[p["nip_code"].to_numpy()]
        p["pct"] = score.groupby([p["unit_code"], p["year"]]).rank(pct=True, method="average")
        years = np.arange(p["year"].min(), p["year"].max() + 1)
        shape = (len(nips), len(years))
        rank, pct = np.full(shape, np.nan), np.full(shape, np.nan)
        rank[p["nip_code"].to_numpy(), p["year"].to_numpy() - years[0]] = p["rank"].to_numpy()
        pct[p["nip_code"].to_numpy(), p["year"].to_numpy() - years[0]] = p["pct"].to_numpy()
        last_rank = pd.DataFrame(rank).ffill(axis=1).to_numpy()
        last_pct = pd.DataFrame(pct).ffill(axis=1).to_numpy()
        return years, last_rank, last_pct, rank


def _grade_rank(grade: object) -> float:
    """Grade on one ordinal scale: PNS I/a = 1 … IV/e = 17; PPPK golongan k = k (PPPK IX ≈ PNS III/a)."""
    if not isinstance(grade, str):
        return np.nan
    if grade in PNS_GRADES:
        return float(PNS_GRADES.index(grade) + 1)
    if grade.startswith("pppk_") and grade[5:].isdigit():
        return float(grade[5:])
    return np.nan


def as_index(source: Export | PitIndex) -> PitIndex:
    """The index of an export (built now) or the index itself."""
    return source if isinstance(source, PitIndex) else PitIndex.build(source)


# ---------------------------------------------------------------------------------------------------
# Prediction queries
# ---------------------------------------------------------------------------------------------------
def prediction_queries(export: Export | PitIndex, as_of: date, horizon_months: int = 12,
                       nips: Sequence[str] | None = None) -> pd.DataFrame:
    """Active employees (or exactly `nips`, whatever their status) × the competencies their position requires.

    Columns: nip, competency_id, as_of, horizon_months, required_level. Unknown `nips` raise KeyError.
    """
    index = as_index(export)
    emp = index.employees
    if nips is None:
        chosen = emp[emp["status"] == ACTIVE_STATUS]
    else:
        wanted = pd.Index([str(n) for n in nips])
        # get_indexer uses the index's cached hash table; isin on Arrow strings rebuilds one per call
        # (~40 ms at 7k employees, the largest cost of a one-employee request).
        rows = emp.index.get_indexer(wanted)
        if (rows < 0).any():
            raise KeyError(f"{int((rows < 0).sum())} unknown employee(s)")
        # Explicit employees: their positions' standards from a per-position table (a merge costs ~5 ms
        # even for one employee); same rows, same order as the merge below.
        positions = emp["position_id"].to_numpy()[rows]
        parts = [index.standards_of(p) for p in positions]
        counts = np.fromiter((len(c) for c, _ in parts), dtype=np.int64, count=len(parts))
        return queries_frame(
            np.repeat(wanted.to_numpy().astype(object), counts),
            np.concatenate([c for c, _ in parts]) if parts else np.empty(0, dtype=object),
            np.concatenate([r for _, r in parts]) if parts else np.empty(0, dtype=np.float64),
            as_of, horizon_months)
    std = index.standards.rename("required_level").reset_index()
    q = (chosen[["position_id"]].rename_axis("nip").reset_index()
         .merge(std, on="position_id", how="inner", sort=False))
    q = q[index.competencies.index.get_indexer(q["competency_id"]) >= 0]
    return queries_frame(q["nip"].astype("str").to_numpy(), q["competency_id"].astype("str").to_numpy(),
                          q["required_level"].to_numpy(dtype=np.float64), as_of, horizon_months)


def queries_frame(nips: np.ndarray, competency_ids: np.ndarray, required: np.ndarray, as_of: date,
                  horizon_months: int) -> pd.DataFrame:
    """Query rows (the columns of `prediction_queries`) from their nip, competency and required level."""
    return pd.DataFrame({
        "nip": pd.array(nips, dtype="str"),
        "competency_id": pd.array(competency_ids, dtype="str"),
        "as_of": np.full(len(nips), np.datetime64(pd.Timestamp(as_of).to_datetime64(), "ns")),
        "horizon_months": np.full(len(nips), horizon_months, dtype=np.int64),
        "required_level": np.asarray(required, dtype=np.float64),
    })
