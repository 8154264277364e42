"""Point-in-time features, training pairs from history, and prediction queries.

Every feature of a query row is computed *as of* that row's own `as_of` date from records dated on or
before it (INTERFACES.md "Definitions"); plan features describe trainings completed just after it. All
look-ups are vectorised: records are sorted once by (group, day) into `_Timeline`s whose prefix sums answer
"state of group g on day d" and "sum over a window of days" with one `np.searchsorted` per query column,
so the cost is O((records + queries) · log records) whatever the mix of as-of dates.

Dating rules (what "dated after A" means for each record):
- an assessment is dated `assessed_on`;
- an SKP review of year Y is dated 31 December Y (it is final only once the year is over);
- a completed training (`selesai`) is dated `completed_on`; an abandoned one (`tidak_selesai`) is dated
  `completed_on` when given, else `started_on` (the contract has no other drop-out date);
  `berjalan` records are never counted;
- employee attributes (unit, position, grade, education, employment) exist only as of the export date,
  so they are used as they are (the export carries no history of them); tenure is measured to A.

Protected attributes (sex, birth_date, the NIP digits) never reach a feature: the index is built from
`export.without_protected()` and the NIP is used only as an opaque key.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.constants import (
    ACTIVE_STATUS,
    ASSESSMENT_METHODS,
    ASSESSMENT_VALID_YEARS,
    COMPETENCY_KINDS,
    EDUCATIONS,
    JP_RIGHT_PER_YEAR,
    LEVEL_MAX,
    LEVEL_MIN,
    PNS_GRADES,
    SKP_EXPECTATIONS,
    SKP_RATINGS,
)
from features.export import Export

DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_YEAR = 365.25
MIN_PAIR_MONTHS = 3
MAX_PAIR_MONTHS = 36
# The most trusted method: a prediction is of an unbiased measurement, i.e. an assessment-centre one.
PREDICTION_METHOD = ASSESSMENT_METHODS[0]
# Last-resort fallback for a never-assessed competency with no comparable colleague: the scale's middle.
SCALE_MIDDLE = (LEVEL_MIN + LEVEL_MAX) / 2
# "No plan training targets this competency": the band distance is set to the scale's width, so that it
# only ever decreases when a targeting training is added (needed by the monotone constraint).
NO_BAND_DISTANCE = LEVEL_MAX - LEVEL_MIN

# Format groups of plan trainings (DOMAIN.md: classical vs non-classical forms).
FORMAT_GROUPS: dict[str, str] = {
    "klasikal": "classroom", "blended": "classroom", "workshop": "classroom",
    "e_learning": "online", "seminar": "online",
    "coaching": "workplace", "mentoring": "workplace", "magang": "workplace",
}

# ---------------------------------------------------------------------------------------------------
# Feature names (the business features of the gap model; explain.py has a label for each)
# ---------------------------------------------------------------------------------------------------
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "competency_id", "competency_kind", "current_method", "target_method", "employment", "position_type",
    "job_family", "unit_kind",
)
HISTORY_FEATURES: tuple[str, ...] = (
    "current_level", "level_age_months", "n_assessments", "level_trend", "previous_level",
    "mean_level_history", "never_assessed", "thin_evidence", "related_mean_level", "others_mean_level",
    "required_level", "current_gap", "skp_percentile", "skp_last_rating", "skp_mean_3y", "tenure_years",
    "grade_rank", "education_rank", "trainings_12m", "trainings_36m", "abandoned_12m", "abandoned_36m",
    "jp_12m", "jp_compliant", "targeted_trainings_36m", "unit_mean_level", "horizon_months",
)
PLAN_FEATURES: tuple[str, ...] = (
    "plan_n_targeting", "plan_jp_targeting", "plan_n_in_band", "plan_n_below_band", "plan_n_above_band",
    "plan_band_distance", "plan_n_classroom", "plan_n_online", "plan_n_workplace", "plan_n_other",
    "plan_jp_total",
)
NUMERIC_FEATURES: tuple[str, ...] = HISTORY_FEATURES + PLAN_FEATURES
FEATURES: tuple[str, ...] = CATEGORICAL_FEATURES + NUMERIC_FEATURES
# Direction the domain is certain of (+1: a larger value never lowers the predicted level; -1: never
# raises it): completing more trainings never hurts, and a course farther from one's band helps less.
MONOTONE: dict[str, int] = {name: 1 for name in PLAN_FEATURES} | {"plan_band_distance": -1}
# Columns build_features adds for people, not for the model.
DESCRIPTIVE_COLUMNS: tuple[str, ...] = ("competency_name", "current_level_source", "current_assessed_on")

PAIR_COLUMNS: tuple[str, ...] = (
    "nip", "competency_id", "as_of", "horizon_months", "target", "target_on", "target_method", "plan",
    "pair_kind",
)
QUERY_COLUMNS: tuple[str, ...] = ("nip", "competency_id", "as_of", "horizon_months", "required_level")

_DAY_OFFSET = 100_000  # added to days since 1970 so that any date after ~1700 is positive
_DAY_SPAN = 1 << 18  # keys are group * span + day; days stay below the span until ~2400
_RATING_RANK = {r: len(SKP_RATINGS) - i for i, r in enumerate(SKP_RATINGS)}  # sangat_baik 5 … sangat_kurang 1
_EXPECTATION_RANK = {e: len(SKP_EXPECTATIONS) - i for i, e in enumerate(SKP_EXPECTATIONS)}
_TRUST_RANK = {m: i for i, m in enumerate(ASSESSMENT_METHODS)}


def _days(values: object) -> np.ndarray:
    """Day numbers (int64, offset so that they are positive) of dates/timestamps; NaT becomes -1."""
    stamps = pd.to_datetime(pd.Series(values) if not isinstance(values, pd.Series) else values)
    raw = stamps.to_numpy(dtype="datetime64[D]")
    out = raw.astype(np.int64) + _DAY_OFFSET
    out[np.isnat(raw)] = -1
    return out


def _day_of(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64)) + _DAY_OFFSET


def _year_end_days(years: np.ndarray) -> np.ndarray:
    """Day numbers of 31 December of each year."""
    ends = (years.astype(np.int64) - 1970 + 1).astype("datetime64[Y]").astype("datetime64[D]") - 1
    return ends.astype(np.int64) + _DAY_OFFSET


def _years_of_days(days: np.ndarray) -> np.ndarray:
    """Calendar years of day numbers."""
    return (days - _DAY_OFFSET).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _str(series: pd.Series) -> pd.Series:
    return series if series.dtype == "str" else series.astype("str")


@dataclass
class _Timeline:
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
    def build(cls, groups: np.ndarray, days: np.ndarray, **values: np.ndarray) -> _Timeline:
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
    daily: _Timeline  # trusted level per (employee × competency, day)
    employee_state: _Timeline  # running sums of latest levels per employee, by competency kind
    unit_state: _Timeline  # running sums of latest levels per (unit × competency)
    ptype_state: _Timeline  # running sums of latest levels per (position type × competency)
    competency_state: _Timeline  # running sums of latest levels per competency
    completed: _Timeline  # completed trainings per employee (count, JP)
    completed_ids: np.ndarray  # training_id of each `completed` event, in the same order
    abandoned: _Timeline  # abandoned trainings per employee
    targeted: _Timeline  # completed trainings per (employee × targeted competency)
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
        comps["competency_id"] = _str(comps["competency_id"])
        comps = comps.drop_duplicates("competency_id").set_index("competency_id")
        comps["code"] = np.arange(len(comps), dtype=np.int64)
        comps["kind_code"] = pd.Index(COMPETENCY_KINDS).get_indexer(comps["kind"]).astype(np.int64)
        n_comp = len(comps)

        emp = cls._employee_table(ex)
        nips = pd.Index(emp.index)

        standards = ex["position_standards"].assign(
            position_id=lambda d: _str(d["position_id"]), competency_id=lambda d: _str(d["competency_id"]))
        standards = standards.set_index(["position_id", "competency_id"])["required_level"].astype("float64")

        # Assessments of known employees and competencies, with codes and day numbers.
        a = ex["assessments"][["nip", "competency_id", "assessed_on", "level", "method"]].copy()
        a["nip_code"] = nips.get_indexer(_str(a["nip"]))
        a["comp_code"] = comps["code"].reindex(_str(a["competency_id"])).to_numpy()
        a = a[(a["nip_code"] >= 0) & a["comp_code"].notna() & a["level"].notna() & a["assessed_on"].notna()]
        a = a.assign(comp_code=a["comp_code"].astype(np.int64), day=_days(a["assessed_on"]),
                     trust=a["method"].map(_TRUST_RANK).fillna(len(_TRUST_RANK)).astype(np.int64))
        a = a.sort_values(["nip_code", "comp_code", "day", "trust"], kind="stable").reset_index(drop=True)

        # The current level on a day is the most trusted of that day's measurements (DATA_CONTRACT.md).
        d = a.drop_duplicates(["nip_code", "comp_code", "day"], keep="first").reset_index(drop=True)
        pair = d["nip_code"].to_numpy() * n_comp + d["comp_code"].to_numpy()
        level = d["level"].to_numpy(dtype=np.float64)
        first = np.r_[True, pair[1:] != pair[:-1]]
        prev = np.where(first, 0.0, np.r_[0.0, level[:-1]])
        t = (d["day"].to_numpy() - _DAY_OFFSET) / DAYS_PER_YEAR - 50.0  # years since 2020: small numbers
        daily = _Timeline.build(pair, d["day"].to_numpy(), n=np.ones(len(d)), level=level, t=t, tt=t * t,
                                ty=t * level, method=d["trust"].to_numpy())

        # Running state "sum and count of latest levels" changes by (new − old, first?) at each new level.
        delta, fresh = level - prev, first.astype(np.float64)
        kind = comps["kind_code"].to_numpy()[d["comp_code"].to_numpy()]
        per_kind = {}
        for k in range(len(COMPETENCY_KINDS)):
            per_kind[f"sum{k}"] = np.where(kind == k, delta, 0.0)
            per_kind[f"cnt{k}"] = np.where(kind == k, fresh, 0.0)
        emp_codes = d["nip_code"].to_numpy()
        employee_state = _Timeline.build(emp_codes, d["day"].to_numpy(), sum=delta, cnt=fresh, **per_kind)
        comp_codes = d["comp_code"].to_numpy()
        unit_state = _Timeline.build(emp["unit_code"].to_numpy()[emp_codes] * n_comp + comp_codes,
                                     d["day"].to_numpy(), sum=delta, cnt=fresh)
        ptype_state = _Timeline.build(emp["ptype_code"].to_numpy()[emp_codes] * n_comp + comp_codes,
                                      d["day"].to_numpy(), sum=delta, cnt=fresh)
        competency_state = _Timeline.build(comp_codes, d["day"].to_numpy(), sum=delta, cnt=fresh)

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
        units = ex["units"].assign(unit_id=lambda d: _str(d["unit_id"])).drop_duplicates("unit_id")
        positions = ex["positions"].assign(position_id=lambda d: _str(d["position_id"]))
        positions = positions.drop_duplicates("position_id").set_index("position_id")
        emp = ex["employees"][["nip", "unit_id", "position_id", "grade", "employment", "education", "hired_on",
                               "status"]].copy()
        emp = emp.assign(nip=_str(emp["nip"]), unit_id=_str(emp["unit_id"]),
                         position_id=_str(emp["position_id"])).drop_duplicates("nip").set_index("nip")
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
        emp["hired_day"] = _days(emp["hired_on"])
        return emp

    @staticmethod
    def _catalogue(ex: Export, comps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        trainings = ex["trainings"].assign(training_id=lambda d: _str(d["training_id"]))
        trainings = trainings.drop_duplicates("training_id").set_index("training_id")
        trainings = pd.DataFrame({
            "hours_jp": trainings["hours_jp"].astype("float64").fillna(0.0),
            "format_group": trainings["format"].map(FORMAT_GROUPS).fillna("classroom").astype("str"),
        })
        targets = ex["training_targets"].assign(training_id=lambda d: _str(d["training_id"]),
                                                competency_id=lambda d: _str(d["competency_id"]))
        targets = targets[targets["competency_id"].isin(comps.index)].copy()
        targets["comp_code"] = comps["code"].reindex(targets["competency_id"]).to_numpy().astype(np.int64)
        targets["min_level"] = targets["min_level"].astype("float64")
        targets["max_level"] = targets["max_level"].astype("float64")
        return trainings, targets.reset_index(drop=True)

    @staticmethod
    def _training_timelines(ex: Export, nips: pd.Index, trainings: pd.DataFrame, targets: pd.DataFrame,
                            n_comp: int) -> tuple[_Timeline, np.ndarray, _Timeline, _Timeline]:
        r = ex["training_records"]
        r = r.assign(nip_code=nips.get_indexer(_str(r["nip"])), training_id=_str(r["training_id"]))
        r = r[r["nip_code"] >= 0]
        done = r[(r["status"] == "selesai") & r["completed_on"].notna()]
        done = done.assign(day=_days(done["completed_on"]),
                           jp=trainings["hours_jp"].reindex(done["training_id"]).fillna(0.0).to_numpy())
        completed = _Timeline.build(done["nip_code"].to_numpy(), done["day"].to_numpy(), n=np.ones(len(done)),
                                    jp=done["jp"].to_numpy())
        order = np.lexsort((done["day"].to_numpy(), done["nip_code"].to_numpy()))
        completed_ids = done["training_id"].to_numpy(dtype=object)[order]
        quit_ = r[r["status"] == "tidak_selesai"]
        quit_day = _days(quit_["completed_on"].fillna(quit_["started_on"]))
        abandoned = _Timeline.build(quit_["nip_code"].to_numpy(), quit_day, n=np.ones(len(quit_)))
        aimed = done[["nip_code", "training_id", "day"]].merge(targets[["training_id", "comp_code"]],
                                                              on="training_id")
        targeted = _Timeline.build(aimed["nip_code"].to_numpy() * n_comp + aimed["comp_code"].to_numpy(),
                                   aimed["day"].to_numpy(), n=np.ones(len(aimed)))
        return completed, completed_ids, abandoned, targeted

    @staticmethod
    def _skp_matrices(ex: Export, nips: pd.Index, emp: pd.DataFrame
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Employee × year matrices of SKP rating ranks and within-unit-year percentiles."""
        p = ex["performance_reviews"]
        p = p.assign(nip_code=nips.get_indexer(_str(p["nip"])))
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
# Queries and pairs
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


def training_pairs(export: Export | PitIndex, before: date | None = None, steps: Sequence[int] = (1, 2),
                   query_horizons: Sequence[int] = (6, 12, 24)) -> pd.DataFrame:
    """Pairs (state as of A, a later assessed level of the same employee and competency) for training.

    Two kinds of pair, both with a target measurement 3–36 months after A:
    - ``next`` / ``next2`` (`steps`): A = the day of an assessment, the target = each measurement of the
      next (and next-but-one) assessment day of the same competency: several horizons per history;
    - ``query`` (`query_horizons`): A = H months before each measurement, whatever was known then; this
      is the shape of a real prediction (the latest level is some months old at A, or missing), which
      assessment-day pairs never show (their latest level is always fresh). Measured on a generated
      export (1,500 employees): MAE against the true level 0.274 without them, 0.244 with H = 12 and
      0.243 with H = 6, 12, 24 (the default: several horizons for what-ifs at other horizons).
    `plan` = the training_ids completed (selesai) in (A, target_on], in completion order. With `before`,
    only pairs whose target is on or before it. Sorted by (target_on, nip, competency_id).
    """
    index = as_index(export)
    n_comp = index.n_competencies
    a = index.assessments
    if before is not None:
        a = a[a["day"] <= _day_of(before)]
    pair = a["nip_code"].to_numpy() * n_comp + a["comp_code"].to_numpy()
    # Day rank of every measurement within its (employee, competency) history: 0, 1, 2, … per distinct day.
    new_day = np.r_[True, (pair[1:] != pair[:-1]) | (a["day"].to_numpy()[1:] != a["day"].to_numpy()[:-1])]
    group_start = np.r_[True, pair[1:] != pair[:-1]]
    day_no = np.cumsum(new_day) - 1
    day_no = day_no - np.maximum.accumulate(np.where(group_start, day_no, 0))
    targets = pd.DataFrame({"pair": pair, "day_no": day_no, "day": a["day"].to_numpy(),
                            "target": a["level"].to_numpy(np.float64), "target_method": a["method"].to_numpy(),
                            "nip_code": a["nip_code"].to_numpy(), "comp_code": a["comp_code"].to_numpy()})
    days_only = targets.drop_duplicates(["pair", "day_no"])[["pair", "day_no", "day"]]
    parts = []
    for step in steps:
        earlier = days_only.assign(day_no=days_only["day_no"] + step).rename(columns={"day": "as_of_day"})
        parts.append(targets.merge(earlier, on=["pair", "day_no"]).assign(pair_kind="next" if step == 1
                                                                           else f"next{step}"))
    for months in query_horizons:
        parts.append(targets.assign(as_of_day=targets["day"] - int(round(months * DAYS_PER_MONTH)),
                                    pair_kind="query"))
    return _finish_pairs(index, pd.concat(parts, ignore_index=True))


def holdout_pairs(export: Export | PitIndex, as_of: date, min_months: int = MIN_PAIR_MONTHS,
                  max_months: int = MAX_PAIR_MONTHS) -> pd.DataFrame:
    """Back-test pairs: A = `as_of` for every measurement 3–36 months after it (pair_kind ``holdout``);
    plan = the trainings completed in (A, target_on]. Same columns as `training_pairs`."""
    index = as_index(export)
    a = index.assessments
    day = _day_of(as_of)
    a = a[a["day"] > day]
    p = pd.DataFrame({"nip_code": a["nip_code"].to_numpy(), "comp_code": a["comp_code"].to_numpy(),
                      "day": a["day"].to_numpy(), "target": a["level"].to_numpy(np.float64),
                      "target_method": a["method"].to_numpy(), "as_of_day": day, "pair_kind": "holdout"})
    return _finish_pairs(index, p, min_months, max_months)


def _finish_pairs(index: PitIndex, p: pd.DataFrame, min_months: int = MIN_PAIR_MONTHS,
                  max_months: int = MAX_PAIR_MONTHS) -> pd.DataFrame:
    """Horizon filter (and A not before hiring), plans, and the public column set."""
    months = np.rint((p["day"].to_numpy() - p["as_of_day"].to_numpy()) / DAYS_PER_MONTH)
    hired = index.employees["hired_day"].to_numpy()[p["nip_code"].to_numpy()]
    keep = (months >= min_months) & (months <= max_months) & (p["as_of_day"].to_numpy() >= hired)
    p = p[keep].assign(horizon_months=months[keep].astype(np.int64))
    p = p.sort_values(["day", "nip_code", "comp_code", "as_of_day", "target_method"], kind="stable")
    plans = _completed_between(index, p["nip_code"].to_numpy(), p["as_of_day"].to_numpy(), p["day"].to_numpy())
    to_ts = lambda days: pd.to_datetime(days - _DAY_OFFSET, unit="D")  # noqa: E731
    return pd.DataFrame({
        "nip": index.nips.to_numpy()[p["nip_code"].to_numpy()],
        "competency_id": index.competencies.index.to_numpy()[p["comp_code"].to_numpy()],
        "as_of": to_ts(p["as_of_day"].to_numpy()),
        "horizon_months": p["horizon_months"].to_numpy(),
        "target": p["target"].to_numpy(),
        "target_on": to_ts(p["day"].to_numpy()),
        "target_method": p["target_method"].to_numpy(),
        "plan": plans,
        "pair_kind": p["pair_kind"].to_numpy(),
    }).astype({"nip": "str", "competency_id": "str", "target_method": "str", "pair_kind": "str",
               "as_of": "datetime64[ns]", "target_on": "datetime64[ns]"})


def _completed_between(index: PitIndex, nip_codes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[tuple]:
    """The training_ids each employee completed in (lo, hi], as tuples in completion order."""
    start = index.completed.position(nip_codes, lo)
    stop = index.completed.position(nip_codes, hi)
    ids = index.completed_ids
    empty: tuple = ()
    return [tuple(ids[s:e]) if e > s else empty for s, e in zip(start.tolist(), stop.tolist(), strict=True)]


# ---------------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------------
def build_features(export: Export | PitIndex, queries: pd.DataFrame,
                   plans: Sequence[Sequence[str]] | None = None) -> pd.DataFrame:
    """One row of features per query row (same index), each as of the row's own `as_of`.

    `queries` needs nip, competency_id, as_of, horizon_months; optional: required_level (else from the
    position standard), target_method (else assessment_center, the unbiased measurement a prediction is
    of) and plan (used when `plans` is None). `plans[i]` is the plan of row i: training_ids completed just
    after as_of. Unknown employees or competencies raise KeyError.
    Never-assessed competencies: current_level is the employee's mean latest level in their other
    competencies, else the competency's mean among colleagues of the same position type as of the date,
    else its mean over everyone, else the middle of the scale; `current_level_source` says which.
    """
    index = as_index(export)
    n = len(queries)
    nip_code = index.nips.get_indexer(_str(queries["nip"]))
    comp_code = index.competencies.index.get_indexer(_str(queries["competency_id"]))  # code = position
    if (nip_code < 0).any() or (comp_code < 0).any():
        raise KeyError("unknown employee or competency in queries")
    comp_code = comp_code.astype(np.int64)
    as_of = _days(queries["as_of"])
    n_comp = index.n_competencies
    pair = nip_code * n_comp + comp_code
    emp = index.arrays("employees")
    comps = index.arrays("competencies")
    f: dict[str, object] = {}

    # The competency and the employee's (snapshot) attributes.
    f["competency_id"] = comps["competency_id"][comp_code]
    kind_code = comps["kind_code"][comp_code]
    f["competency_kind"] = comps["kind"][comp_code]
    for col in ("employment", "position_type", "job_family", "unit_kind"):
        f[col] = emp[col][nip_code]

    # Current level and its history.
    d = index.daily
    last = d.last(pair, as_of)
    has = last >= 0
    li = np.maximum(last, 0)
    observed = np.where(has, _take(d.values["level"], li), np.nan)
    f["current_method"] = np.where(has, np.array(ASSESSMENT_METHODS + ("lainnya",), dtype=object)[
        np.minimum(_take(d.values["method"], li).astype(np.int64), len(ASSESSMENT_METHODS))], "belum_dinilai")
    age_days = np.where(has, as_of - _take(d.days, li), np.nan)
    f["level_age_months"] = age_days / DAYS_PER_MONTH
    cnt = d.upto("n", pair, as_of)
    f["n_assessments"] = cnt
    has_prev = has & (li >= 1) & (cnt >= 2)
    f["previous_level"] = np.where(has_prev, _take(d.values["level"], np.maximum(li - 1, 0)), np.nan)
    sy, st, stt, sty = (d.upto(k, pair, as_of) for k in ("level", "t", "tt", "ty"))
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = cnt * stt - st * st
        f["level_trend"] = np.where((cnt >= 2) & (denom > 1e-9), (cnt * sty - st * sy) / denom, np.nan)
        f["mean_level_history"] = np.where(cnt > 0, sy / cnt, np.nan)

    # Latest levels of the employee's other competencies (same kind, and all).
    es = index.employee_state
    own, own_n = np.where(has, observed, 0.0), has.astype(np.float64)
    tot_s, tot_c = es.upto("sum", nip_code, as_of) - own, es.upto("cnt", nip_code, as_of) - own_n
    kind_s, kind_c = np.zeros(n), np.zeros(n)
    for k in range(len(COMPETENCY_KINDS)):
        sel = kind_code == k
        if sel.any():
            kind_s[sel] = es.upto(f"sum{k}", nip_code[sel], as_of[sel]) - own[sel]
            kind_c[sel] = es.upto(f"cnt{k}", nip_code[sel], as_of[sel]) - own_n[sel]
    with np.errstate(invalid="ignore", divide="ignore"):
        f["related_mean_level"] = np.where(kind_c > 0.5, kind_s / np.maximum(kind_c, 1), np.nan)
        others = np.where(tot_c > 0.5, tot_s / np.maximum(tot_c, 1), np.nan)
    f["others_mean_level"] = others

    # Fallback for never-assessed competencies (documented in the docstring).
    ptype_mean = _state_mean(index.ptype_state, emp["ptype_code"][nip_code] * n_comp + comp_code,
                             as_of)
    comp_mean = _state_mean(index.competency_state, comp_code, as_of)
    current = observed.copy()
    source = np.where(has, "assessed", "").astype(object)
    for values, label in ((others, "other_competencies"), (ptype_mean, "position_type"),
                          (comp_mean, "competency"), (np.full(n, SCALE_MIDDLE), "scale_middle")):
        fill = np.isnan(current) & ~np.isnan(values)
        current[fill] = values[fill]
        source[fill] = label
    f["current_level"] = current
    f["never_assessed"] = (~has).astype(np.float64)
    f["thin_evidence"] = (~has | (age_days > ASSESSMENT_VALID_YEARS * DAYS_PER_YEAR)).astype(np.float64)

    # Standard and gap.
    if "required_level" in queries.columns:
        required = pd.to_numeric(queries["required_level"], errors="coerce").to_numpy(dtype=np.float64)
    else:
        key = pd.MultiIndex.from_arrays([emp["position_id"][nip_code], f["competency_id"]])
        required = index.standards.reindex(key).to_numpy(dtype=np.float64)
    f["required_level"] = required
    f["current_gap"] = required - current

    # SKP, relative to the unit-year distribution; a year counts once it is over.
    f.update(_skp_features(index, nip_code, as_of))

    # Tenure, grade, education.
    hired = emp["hired_day"][nip_code]
    f["tenure_years"] = np.where(hired >= 0, np.maximum(as_of - hired, 0) / DAYS_PER_YEAR, np.nan)
    f["grade_rank"] = emp["grade_rank"][nip_code]
    f["education_rank"] = emp["education_rank"][nip_code]

    # Training history.
    y1, y3 = as_of - int(round(DAYS_PER_YEAR)), as_of - int(round(3 * DAYS_PER_YEAR))
    f["trainings_12m"] = index.completed.window("n", nip_code, y1, as_of)
    f["trainings_36m"] = index.completed.window("n", nip_code, y3, as_of)
    f["abandoned_12m"] = index.abandoned.window("n", nip_code, y1, as_of)
    f["abandoned_36m"] = index.abandoned.window("n", nip_code, y3, as_of)
    f["jp_12m"] = index.completed.window("jp", nip_code, y1, as_of)
    year = _years_of_days(as_of)
    jp_prev_year = index.completed.window("jp", nip_code, _year_end_days(year - 2), _year_end_days(year - 1))
    f["jp_compliant"] = (jp_prev_year >= JP_RIGHT_PER_YEAR).astype(np.float64)
    f["targeted_trainings_36m"] = index.targeted.window("n", pair, y3, as_of)

    # Colleagues in the same unit (the employee excluded).
    us = index.unit_state
    unit_pair = emp["unit_code"][nip_code] * n_comp + comp_code
    u_s, u_c = us.upto("sum", unit_pair, as_of) - own, us.upto("cnt", unit_pair, as_of) - own_n
    with np.errstate(invalid="ignore", divide="ignore"):
        f["unit_mean_level"] = np.where(u_c > 0.5, u_s / np.maximum(u_c, 1), np.nan)
    f["horizon_months"] = pd.to_numeric(queries["horizon_months"]).to_numpy(dtype=np.float64)
    if "target_method" in queries.columns:
        f["target_method"] = _str(queries["target_method"]).fillna(PREDICTION_METHOD).to_numpy(dtype=object)
    else:
        f["target_method"] = np.full(n, PREDICTION_METHOD, dtype=object)

    if plans is None:
        plans = list(queries["plan"]) if "plan" in queries.columns else [()] * n
    if len(plans) != n:
        raise ValueError(f"{len(plans)} plans for {n} query rows")
    f.update(plan_features(index, comp_code, current, plans))

    f["competency_name"] = comps["name"][comp_code]
    f["current_level_source"] = source
    assessed_on = np.where(has, _take(d.days, li) - _DAY_OFFSET, 0).astype("datetime64[D]")
    assessed_on[~has] = np.datetime64("NaT")
    f["current_assessed_on"] = assessed_on.astype("datetime64[ns]")
    # Typed arrays first, one DataFrame at the end: per-column astype costs more than all the look-ups.
    columns: dict[str, object] = {}
    for col in FEATURES + DESCRIPTIVE_COLUMNS:
        if col in NUMERIC_FEATURES:
            columns[col] = np.asarray(f[col], dtype=np.float64)
        elif col == "current_assessed_on":
            columns[col] = f[col]
        else:
            columns[col] = pd.array(np.asarray(f[col], dtype=object), dtype="str")
    return pd.DataFrame(columns, index=queries.index)


def _take(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """values[positions], or zeros when a timeline has no event at all (callers mask those rows out)."""
    return values[positions] if len(values) else np.zeros(len(positions), dtype=values.dtype)


def _state_mean(state: _Timeline, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
    s, c = state.upto("sum", groups, days), state.upto("cnt", groups, days)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0.5, s / np.maximum(c, 1), np.nan)


def _skp_features(index: PitIndex, nip_code: np.ndarray, as_of: np.ndarray) -> dict[str, np.ndarray]:
    """Last rating, its within-unit percentile and the mean rating of the last three finished years."""
    years = index.skp_years
    year = _years_of_days(as_of)
    finished = np.where(_year_end_days(year) <= as_of, year, year - 1)  # 31 Dec of the year itself counts
    col = finished - years[0]
    inside = col >= 0
    c = np.clip(col, 0, len(years) - 1)
    out = {
        "skp_percentile": np.where(inside, index.skp_last_pct[nip_code, c], np.nan),
        "skp_last_rating": np.where(inside, index.skp_last_rank[nip_code, c], np.nan),
    }
    total, count = np.zeros(len(nip_code)), np.zeros(len(nip_code))
    for back in range(3):
        cb = col - back
        ok = (cb >= 0) & (cb < len(years))
        vals = np.where(ok, index.skp_rank[nip_code, np.clip(cb, 0, len(years) - 1)], np.nan)
        total += np.nan_to_num(vals)
        count += ~np.isnan(vals)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["skp_mean_3y"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def plan_features(index: PitIndex, comp_code: np.ndarray, current_level: np.ndarray,
                  plans: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """Features of each row's plan for its competency: trainings targeting it, in band or not, by format."""
    n = len(comp_code)
    lengths = np.fromiter((len(p) for p in plans), dtype=np.int64, count=n)
    out: dict[str, np.ndarray] = {name: np.zeros(n) for name in PLAN_FEATURES}
    out["plan_band_distance"] = np.full(n, NO_BAND_DISTANCE)
    if lengths.sum() == 0:
        return out
    row = np.repeat(np.arange(n), lengths)
    ids = pd.Index(list(itertools.chain.from_iterable(plans)), dtype="str")
    cat = index.trainings
    pos = cat.index.get_indexer(ids)
    if (pos < 0).any():
        raise KeyError("unknown training in plans")
    jp = cat["hours_jp"].to_numpy()[pos]
    out["plan_jp_total"] = np.bincount(row, weights=jp, minlength=n)
    t = index.targets
    # Which (training, competency) pairs are targets: integer keys, binary search.
    keys = pos.astype(np.int64) * index.n_competencies + comp_code[row]
    at = np.minimum(np.searchsorted(index.target_keys, keys), max(len(index.target_keys) - 1, 0))
    found = (index.target_keys[at] == keys) if len(index.target_keys) else np.zeros(len(keys), dtype=bool)
    hit = np.where(found, index.target_order[at] if len(index.target_keys) else 0, -1)
    aims = hit >= 0
    out["plan_n_other"] = np.bincount(row[~aims], minlength=n).astype(np.float64)
    r, h = row[aims], hit[aims]
    level = current_level[r]
    lo, hi = t["min_level"].to_numpy()[h], t["max_level"].to_numpy()[h] + 1.0
    below, above = level < lo, level >= hi
    out["plan_n_targeting"] = np.bincount(r, minlength=n).astype(np.float64)
    out["plan_jp_targeting"] = np.bincount(r, weights=jp[aims], minlength=n)
    out["plan_n_in_band"] = np.bincount(r, weights=(~below & ~above), minlength=n)
    out["plan_n_below_band"] = np.bincount(r, weights=below, minlength=n)
    out["plan_n_above_band"] = np.bincount(r, weights=above, minlength=n)
    distance = np.where(below, lo - level, np.where(above, level - hi, 0.0))
    nearest = np.full(n, NO_BAND_DISTANCE)
    np.minimum.at(nearest, r, distance)
    out["plan_band_distance"] = nearest
    group = cat["format_group"].to_numpy()[pos][aims]
    for name in ("classroom", "online", "workplace"):
        out[f"plan_n_{name}"] = np.bincount(r, weights=(group == name), minlength=n)
    return out


def assessment_history(export: Export | PitIndex, nip: str, competency_id: str, as_of: date) -> pd.DataFrame:
    """The assessments of one employee and competency on or before `as_of` (the evidence of a prediction):
    assessed_on, method, level, oldest first, same-day measurements in trust order."""
    index = as_index(export)
    rows = _history_rows(index, nip, competency_id, as_of)
    a = index.assessments
    return pd.DataFrame({c: a[c].array.take(rows) for c in ("assessed_on", "method", "level")})


def assessment_records(index: PitIndex, nip: str, competency_id: str, as_of: date
                       ) -> list[tuple[date, str, float]]:
    """`assessment_history` as plain (day, method, level) tuples, newest first (what a request renders)."""
    days, methods, levels = index._derived("assessment_values", lambda: (
        index.assessments["assessed_on"].to_numpy("datetime64[ns]").astype("datetime64[D]"),
        index.assessments["method"].astype("str").tolist(),
        index.assessments["level"].to_numpy(np.float64)))
    rows = _history_rows(index, nip, competency_id, as_of)[::-1]
    return [(days[r].item(), methods[r], float(levels[r])) for r in rows]


def _history_rows(index: PitIndex, nip: str, competency_id: str, as_of: date) -> np.ndarray:
    """Rows of `index.assessments` of one employee and competency on or before `as_of`, oldest first."""
    try:
        nip_code = index.nips.get_loc(str(nip))
        comp_code = index.competencies.index.get_loc(str(competency_id))
    except KeyError:
        return np.zeros(0, dtype=np.int64)
    if not isinstance(nip_code, int) or not isinstance(comp_code, int):
        return np.zeros(0, dtype=np.int64)
    # `assessments` is sorted by (nip_code, comp_code, day, trust): one binary search finds the history.
    a = index.assessments
    keys, day = index._derived("assessment_keys", lambda: (
        a["nip_code"].to_numpy(np.int64) * index.n_competencies + a["comp_code"].to_numpy(np.int64),
        a["day"].to_numpy(np.int64)))
    key = nip_code * index.n_competencies + comp_code
    lo, hi = np.searchsorted(keys, [key, key + 1])
    return np.arange(lo, hi)[day[lo:hi] <= _day_of(as_of)]
