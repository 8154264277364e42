"""The inference engine: one picklable object, one method per answer (CLI, API, planner, batch files).

`Predictor` holds the fitted gap model (level at the horizon with its interval and explanation), the
effect estimator (what a plan of trainings adds to a competency; `training.effects`) and `metadata`.
Every request does its work in one vectorised pass per step: build the features of all the rows it
needs (competencies × candidate plans), predict them in one call, aggregate with numpy.

Definitions (INTERFACES.md): predicted level given a plan = the gap model's level with the empty plan
plus the estimated effect τ of the plan on that competency (0 for competencies the plan does not target),
kept within the 1–5 scale; gap = max(0, required − predicted); expected gain of t = total gap(∅) −
total gap({t}). Recommendations rank eligible trainings by expected gain (ties: lower cost, then
training_id), keep only gains above `gain_epsilon` and never pad a list.

Evidence of a recommendation: the comparable past participants (`features.eligibility`: those whose
level before the training was in the employee's whole-level band) for the competency the training closes
most; `thin_evidence` when fewer than `thin_participants` of them, and then the interval's lower end is
set to 0 (too few people to rule out "no gain").

What does not depend on the request is built once per snapshot (the last two are kept; `warm` builds
them ahead of the first request): the point-in-time index, catalogue look-ups, and per as-of date the
eligibility of every employee, the comparable-participant evidence and JP this year. A one-employee
request then computes its own features, the gap model, the point effect of each eligible training, and
the effect model's bootstrap interval only for the trainings it shows. The cache is dropped when
pickling.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from features.constants import (
    ACTIVE_STATUS,
    CANDIDATE_COLUMNS,
    DEFAULT_HORIZON_MONTHS,
    EDUCATIONS,
    EMPLOYMENTS,
    GAPS_COLUMNS,
    GRADES,
    JP_RIGHT_PER_YEAR,
    LEVEL_MAX,
    LEVEL_MIN,
    RECOMMENDATIONS_COLUMNS,
    TABLES_BY_NAME,
)
from features.contract import ErrorLog, RawTable, validate_tables
from features.eligibility import eligibility_matrix, level_band, training_evidence_by_band
from features.export import PANDAS_DTYPES, Export, empty_table
from features.pit import (
    FEATURES,
    PLAN_FEATURES,
    PitIndex,
    build_features,
    plan_features,
    prediction_queries,
    queries_frame,
    training_pairs,
)
from features.settings import get_settings
from training import explain as words
from training.effects import (
    COURSE_FEATURES,
    MODERATOR_FEATURES,
    NotEnoughHistory,
    SLearnerEffect,
    XLearnerEffect,
    counterfactual_plan_features,
    course_catalogue,
    with_courses,
)
from training.gap_model import GapModel, temporal_split
from training.results import (
    CompetencyDelta,
    CompetencyGap,
    Contribution,
    EmployeeGaps,
    EmployeeRecommendations,
    EngineError,
    Evidence,
    Explanation,
    GapClosed,
    Recommendation,
    TrainingEvidence,
    UnitSummary,
    UnitSummaryCompetency,
    UnknownEmployee,
    UnknownPosition,
    UnknownTraining,
    UnknownUnit,
    WhatIf,
)

GAIN_EPSILON = 0.01  # levels: an expected gain at or below this is noise, not a reason to train
THIN_PARTICIPANTS = 5  # fewer comparable past participants than this: thin evidence
MAX_HORIZON_MONTHS = 36  # the longest horizon the training pairs show
CHUNK_EMPLOYEES = 1000  # batch scoring works on this many employees at a time (bounded memory)
TOP_CONTRIBUTIONS = 6  # contributions shown per competency; the rest are summed into "Faktor lain"
INLINE_NIP = "inline"  # the internal id of an employee sent inline: never a real NIP (not 18 digits)
LANGS = ("id", "en")
JPM_BANDS = ("kurang_memenuhi_syarat", "masih_memenuhi_syarat", "memenuhi_syarat")
PLAN_EFFECT_FEATURE = "plan_n_targeting"  # the contribution that carries the plan's effect τ
PAIR_COLUMNS = (
    "nip", "training_id", "expected_gain", "lower", "upper", "cost_idr", "hours_jp", "competency_ids",
    "primary_competency", "participants", "mean_observed_change", "thin_evidence", "total_gap_before",
)

Progress = Callable[[str], None]


@dataclass
class _Catalogue:
    """Look-up tables of one export's reference data, built once per snapshot (a request then reads them
    instead of re-indexing the export's tables)."""

    training_ids: pd.Index  # `PitIndex.trainings` order: a training's "position"
    cost_idr: np.ndarray  # by position
    hours_jp: np.ndarray  # by position
    info: dict[str, dict[str, Any]]  # training_id → title, format, provider
    target_start: np.ndarray  # by position: first row of its targets in `target_comp` (file order) …
    target_count: np.ndarray  # … and how many
    target_comp: np.ndarray  # competency code of each target, grouped by training position
    bands: dict[tuple[str, str], tuple[int, int]]  # (training_id, competency_id) → (min_level, max_level)
    competency_names: dict[str, str]
    positions: dict[str, str]  # position_id → title
    courses: dict[str, np.ndarray]  # COURSE_FEATURES of a one-training plan: [position, competency code]

    @classmethod
    def build(cls, export: Export, index: PitIndex, catalogue: pd.DataFrame) -> _Catalogue:
        trainings = export["trainings"].drop_duplicates("training_id")
        trainings = trainings.set_index(trainings["training_id"].astype(str)).reindex(index.trainings.index)
        targets = index.targets  # file order, known competencies only
        position = index.trainings.index.get_indexer(targets["training_id"])
        order = np.argsort(position, kind="stable")
        count = np.bincount(position[position >= 0], minlength=len(index.trainings)).astype(np.int64)
        order = order[position[order] >= 0]
        return cls(
            training_ids=index.trainings.index,
            cost_idr=trainings["cost_idr"].fillna(0).to_numpy(np.int64),
            hours_jp=trainings["hours_jp"].fillna(0).to_numpy(np.int64),
            info={str(t): {"title": str(r.title), "format": str(r.format), "provider": str(r.provider)}
                  for t, r in zip(trainings.index, trainings[["title", "format", "provider"]].itertuples(),
                                  strict=True)},
            target_start=np.r_[0, np.cumsum(count)[:-1]].astype(np.int64),
            target_count=count,
            target_comp=targets["comp_code"].to_numpy(np.int64)[order],
            bands={(str(t), str(c)): (int(lo), int(hi)) for t, c, lo, hi in zip(
                targets["training_id"], targets["competency_id"], targets["min_level"], targets["max_level"],
                strict=True)},
            competency_names={str(c): str(n) for c, n in zip(index.competencies.index,
                                                              index.competencies["name"], strict=True)},
            positions={str(p): str(t) for p, t in zip(export["positions"]["position_id"],
                                                      export["positions"]["title"], strict=True)},
            courses=_course_tables(catalogue, index),
        )


def _course_tables(catalogue: pd.DataFrame, index: PitIndex) -> dict[str, np.ndarray]:
    """`course_catalogue` as dense [training position, competency code] tables (NaN: not a target), so the
    course features of one-training plans are two look-ups: what `course_features` gives for them."""
    position = index.trainings.index.get_indexer(catalogue["training_id"].astype(str))
    comp = index.competencies.index.get_indexer(catalogue["competency_id"].astype(str))
    known = (position >= 0) & (comp >= 0)
    out = {}
    for column in COURSE_FEATURES:
        table = np.full((len(index.trainings), index.n_competencies), np.nan)
        table[position[known], comp[known]] = catalogue[column.removeprefix("course_")].to_numpy(np.float64)[known]
        out[column] = table
    return out


@dataclass
class _Context:
    """What a request needs of one export, built once per snapshot: the point-in-time index, the course
    catalogue, the reference look-ups, and per as-of date the evidence, eligibility and JP tables."""

    key: Any
    export: Export
    index: PitIndex
    catalogue: pd.DataFrame
    evidence: dict[date, tuple[np.ndarray, np.ndarray, np.ndarray]]
    tables: _Catalogue
    eligibility: dict[date, tuple[pd.Index, np.ndarray, np.ndarray]] = field(default_factory=dict)
    jp_year: dict[date, pd.Series] = field(default_factory=dict)


@dataclass
class _PairRows:
    """Eligible (employee, training) pairs and their rows, one per (pair × competency the training targets
    and the employee's position requires); see `Predictor._pair_rows`."""

    nip: np.ndarray  # per pair
    position: np.ndarray  # per pair: the training's catalogue position
    training_id: np.ndarray  # per pair
    cost_idr: np.ndarray  # per pair
    hours_jp: np.ndarray  # per pair
    total_gap_before: np.ndarray  # per pair: the employee's total gap with the empty plan
    row_pair: np.ndarray  # per row: its pair (rows are grouped by pair, in target order)
    competency_id: np.ndarray  # per row
    q_row: np.ndarray  # per row: its query row
    effect_rows: pd.DataFrame  # per row: the effect model's input, the pair's training as the plan
    base_pred: pd.DataFrame  # per row: level and interval with the empty plan
    required: np.ndarray  # per row
    base_level: np.ndarray  # per row
    gap_before: np.ndarray  # per row
    tau: np.ndarray  # per row: the point effect
    closes: np.ndarray  # per row: gap closed by the point effect
    participants: np.ndarray  # per row: comparable past participants
    mean_change: np.ndarray  # per row: their mean observed change (NaN when none)
    order: np.ndarray  # rows by pair, then gap closed (largest first), then target order


# The columns of a ranked pair that a recommendation shows (with its interval and what it closes).
_SHOWN_PAIR_COLUMNS = ("nip", "training_id", "rank", "expected_gain", "cost_idr", "hours_jp", "primary_competency",
                       "participants", "mean_observed_change", "thin_evidence")
AS_OF_CACHE = 4  # per-date tables kept per snapshot (the export date and a few back-test dates)
EVIDENCE_BANDS = 8  # band codes -1 … 4 fit in 3 bits of an evidence key


def _t(lang: str, id_text: str, en_text: str) -> str:
    return en_text if lang == "en" else id_text


def _num(x: float, lang: str, decimals: int = 2) -> str:
    return words.number(float(x), lang, decimals)


def _rupiah(x: float, lang: str) -> str:
    whole = f"{int(round(x)):,}"
    return f"IDR {whole}" if lang == "en" else "Rp " + whole.replace(",", ".")


def jpm_band(jpm: float, bands: Sequence[float] | None = None) -> str:
    """The JPM category of a match in % (Settings.jpm_bands: < first kurang, < second masih memenuhi)."""
    low, high = tuple(bands or get_settings().jpm_bands)
    if jpm < low:
        return JPM_BANDS[0]
    if jpm < high:
        return JPM_BANDS[1]
    return JPM_BANDS[2]


class Predictor:
    """The model bundle the server loads (see the module docstring)."""

    def __init__(self, gap_model: Any, effect_model: Any, metadata: dict[str, Any] | None = None, *,
                 gain_epsilon: float = GAIN_EPSILON, thin_participants: int = THIN_PARTICIPANTS) -> None:
        self.gap_model = gap_model
        self.effect_model = effect_model
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.gain_epsilon = gain_epsilon
        self.thin_participants = thin_participants
        self._lock = threading.Lock()
        self._cache: list[_Context] = []

    # -- pickling: the cache and the lock stay behind ----------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        state.pop("_cache", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._cache = []

    @property
    def model_version(self) -> str:
        return str(self.metadata.get("model_version") or "unregistered")

    # -- per-export context ----------------------------------------------------------------------
    def _context(self, export: Export) -> _Context:
        key = export.snapshot_id or id(export)
        with self._lock:
            for ctx in self._cache:
                # Without a snapshot id, only the very same object may reuse an index.
                if ctx.key == key and (export.snapshot_id is not None or ctx.export is export):
                    return ctx
        index = PitIndex.build(export)
        catalogue = course_catalogue(export)
        ctx = _Context(key, export, index, catalogue, {}, _Catalogue.build(export, index, catalogue))
        with self._lock:
            self._cache = [ctx] + [c for c in self._cache if c.key != key][:1]
        return ctx

    def warm(self, export: Export, as_of: date | None = None) -> None:
        """Build the per-snapshot tables a request at `as_of` (default: the export date) needs, so the first
        request does not pay for them (the server calls this before it starts serving a snapshot)."""
        as_of = self._as_of(export, as_of)
        ctx = self._context(export)
        self._evidence(ctx, as_of)
        self._eligibility(ctx, as_of)
        self._jp_year(ctx, as_of)

    def _index(self, export: Export) -> PitIndex:
        return self._context(export).index

    def _remember(self, cache: dict[date, Any], as_of: date, build: Callable[[], Any]) -> Any:
        """`cache[as_of]`, built on first use (outside the lock: two racing requests may both build it);
        the oldest dates are dropped beyond AS_OF_CACHE."""
        value = cache.get(as_of)
        if value is None:
            value = build()
            with self._lock:
                cache[as_of] = value
                while len(cache) > AS_OF_CACHE:
                    cache.pop(next(iter(cache)))
        return value

    def _evidence(self, ctx: _Context, as_of: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Comparable-participant evidence at `as_of` as (sorted keys, participants, mean observed change);
        key = (training position × competencies + competency code) × EVIDENCE_BANDS + band + 1."""
        def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            table = training_evidence_by_band(ctx.export, as_of)
            keys = self._evidence_keys(ctx, ctx.tables.training_ids.get_indexer(table["training_id"].astype(str)),
                                       ctx.index.competencies.index.get_indexer(table["competency_id"].astype(str)),
                                       table["band"].to_numpy(np.int64))
            known = keys >= 0
            order = np.argsort(keys[known], kind="stable")
            return (keys[known][order], table["participants"].to_numpy(np.int64)[known][order],
                    table["mean_observed_change"].to_numpy(np.float64)[known][order])

        return self._remember(ctx.evidence, as_of, build)

    @staticmethod
    def _evidence_keys(ctx: _Context, position: np.ndarray, comp_code: np.ndarray, band: np.ndarray
                       ) -> np.ndarray:
        keys = (position.astype(np.int64) * ctx.index.n_competencies + comp_code) * EVIDENCE_BANDS + band + 1
        return np.where((position >= 0) & (comp_code >= 0), keys, -1)

    def _eligibility(self, ctx: _Context, as_of: date) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """Eligibility of every employee of the export at `as_of`: (nips in export order, the catalogue
        position of each active training, matrix [employee, training]); `features.eligibility` decides
        each employee on their own records, so a request reads its rows of this one matrix."""
        def build() -> tuple[pd.Index, np.ndarray, np.ndarray]:
            nips, trainings, matrix = eligibility_matrix(ctx.export, ctx.index.nips, as_of)
            return nips, ctx.tables.training_ids.get_indexer(trainings), matrix

        return self._remember(ctx.eligibility, as_of, build)

    def _eligible(self, ctx: _Context, nips: Sequence[str] | None, as_of: date
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Eligible (employee, training) pairs of `nips` (None: every active employee) as (nip, catalogue
        position) arrays, ordered by employee (export order), then by catalogue order."""
        names, positions, matrix = self._eligibility(ctx, as_of)
        if nips is None:
            status = ctx.index.employees["status"].reindex(names).to_numpy()
            rows = np.flatnonzero(status == ACTIVE_STATUS)
        else:
            rows = np.unique(names.get_indexer(pd.Index([str(n) for n in nips])))
            rows = rows[rows >= 0]
        r, c = np.nonzero(matrix[rows])
        return names.to_numpy()[rows][r], positions[c]

    def _jp_year(self, ctx: _Context, as_of: date) -> pd.Series:
        return self._remember(ctx.jp_year, as_of, lambda: jp_this_year(ctx.export, as_of))

    # -- validation ------------------------------------------------------------------------------
    @staticmethod
    def _as_of(export: Export, as_of: date | None) -> date:
        if as_of is None:
            return export.exported_on
        if isinstance(as_of, datetime):
            as_of = as_of.date()
        if as_of > export.exported_on:
            raise EngineError(f"as_of {as_of} is after the export date {export.exported_on}: no data from "
                              "the future", field="as_of")
        return as_of

    @staticmethod
    def _check(horizon_months: int, lang: str) -> None:
        if not 1 <= int(horizon_months) <= MAX_HORIZON_MONTHS:
            raise EngineError(f"horizon_months must be between 1 and {MAX_HORIZON_MONTHS}",
                              field="horizon_months")
        if lang not in LANGS:
            raise EngineError(f"lang must be one of {', '.join(LANGS)}", field="lang")

    @staticmethod
    def _employee(index: PitIndex, nip: str) -> pd.Series:
        nip = str(nip)
        if nip not in index.employees.index:
            # The NIP itself is not echoed: its digits encode the birth date and sex.
            raise UnknownEmployee("unknown employee (nip)", field="nip")
        return index.employees.loc[nip]

    @staticmethod
    def _known_nips(index: PitIndex, nips: Iterable[str]) -> list[str]:
        out = [str(n) for n in nips]
        missing = [i for i, n in enumerate(out) if n not in index.employees.index]
        if missing:
            # Positions, not values: a NIP's digits encode the birth date and sex.
            raise UnknownEmployee(f"{len(missing)} unknown employee(s) in nips, first at nips[{missing[0]}]",
                                  field=f"nips[{missing[0]}]")
        return list(dict.fromkeys(out))

    @staticmethod
    def _plan(ctx: _Context, plan: Sequence[str]) -> tuple[str, ...]:
        ids = tuple(dict.fromkeys(str(t) for t in plan))
        unknown = [t for t in ids if t not in ctx.tables.info]
        if unknown:
            raise UnknownTraining(f"unknown training {unknown[0]}", field="plan")
        return ids

    # -- levels with a plan ----------------------------------------------------------------------
    @staticmethod
    def _with_plans(ctx: _Context, base_x: pd.DataFrame, plans: Sequence[Sequence[str]]) -> pd.DataFrame:
        """`base_x` (features with the empty plan) with the plan and course features of `plans[i]` on
        row i."""
        index = ctx.index
        comp_code = index.competencies["code"].reindex(base_x["competency_id"].astype(str)).to_numpy(np.int64)
        planned = plan_features(index, comp_code, base_x["current_level"].to_numpy(np.float64), plans)
        out = base_x.copy()
        for name in PLAN_FEATURES:
            out[name] = planned[name]
        return with_courses(out, ctx.catalogue, plans)

    def _effect(self, plan_x: pd.DataFrame, base_x: pd.DataFrame, base: pd.DataFrame, interval: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.effect_model.effect(plan_x, base_x, base, interval=interval)

    def _levels(self, ctx: _Context, queries: pd.DataFrame, plans: Sequence[Sequence[str]] | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(features with the empty plan, features with the plans, levels) for the query rows.

        levels: base_level (empty plan), predicted_level, lower, upper, tau, gap, current_level (null
        when never assessed), thin_evidence.
        """
        base_x, plan_x, out, _ = self._explained_levels(ctx, queries, plans, explain=False)
        return base_x, plan_x, out

    def _explained_levels(self, ctx: _Context, queries: pd.DataFrame, plans: Sequence[Sequence[str]] | None,
                          *, explain: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Any]:
        """`_levels` and, with `explain`, the gap model's explanation of the empty-plan rows (the rows are
        encoded once for both)."""
        base_x = build_features(ctx.index, queries)
        explanation = None
        if explain and len(base_x) and hasattr(self.gap_model, "predict_and_explain"):
            base, explanation = self.gap_model.predict_and_explain(base_x)
        else:
            base = self.gap_model.predict(base_x)
            if explain and len(base_x):
                explanation = self.gap_model.explain(base_x)
        level = base["predicted_level"].to_numpy(np.float64)
        lower, upper = base["lower"].to_numpy(np.float64), base["upper"].to_numpy(np.float64)
        tau = np.zeros(len(base_x))
        plan_x = base_x
        if plans is not None and any(len(p) for p in plans):
            plan_x = self._with_plans(ctx, base_x, plans)
            tau, t_lo, t_hi = self._effect(plan_x, base_x, base)
            lower = np.clip(lower + t_lo, LEVEL_MIN, LEVEL_MAX)
            upper = np.clip(upper + t_hi, LEVEL_MIN, LEVEL_MAX)
        predicted = np.clip(level + tau, LEVEL_MIN, LEVEL_MAX)
        required = queries["required_level"].to_numpy(np.float64)
        assessed = base_x["current_level_source"].to_numpy() == "assessed"
        out = pd.DataFrame({
            "nip": queries["nip"].astype(str).to_numpy(),
            "competency_id": queries["competency_id"].astype(str).to_numpy(),
            "required_level": required,
            "current_level": np.where(assessed, base_x["current_level"].to_numpy(np.float64), np.nan),
            "base_level": level,
            "predicted_level": predicted,
            "lower": np.minimum(lower, predicted),
            "upper": np.maximum(upper, predicted),
            "tau": predicted - level,
            "gap": np.maximum(required - predicted, 0.0),
            "thin_evidence": base_x["thin_evidence"].to_numpy(np.float64) > 0.5,
        }, index=queries.index)
        return base_x, plan_x, out, explanation

    def _queries(self, index: PitIndex, nips: Sequence[str] | None, as_of: date, horizon_months: int
                 ) -> pd.DataFrame:
        return prediction_queries(index, as_of, horizon_months, nips=nips).reset_index(drop=True)

    # -- expected gains of (employee, training) pairs --------------------------------------------
    def pair_gains(self, export: Export, nips: Sequence[str] | None = None, *, as_of: date | None = None,
                   horizon_months: int = DEFAULT_HORIZON_MONTHS, detail: bool = False) -> pd.DataFrame:
        """Every eligible (employee, training) pair of `nips` (None: all active) with its expected gain.

        Columns PAIR_COLUMNS; with `detail` also `closes`, a list of (competency_id, gap_before, gap_after),
        and the 80% interval (without it, lower = upper = the point, except lower = 0 on thin evidence).
        Pairs whose training targets none of the employee's required competencies have gain 0.
        """
        as_of = self._as_of(export, as_of)
        ctx = self._context(export)
        index = ctx.index
        if nips is not None:
            nips = self._known_nips(index, nips)
        queries = self._queries(index, nips, as_of, horizon_months)
        return self._pair_gains(export, ctx, queries, nips, as_of, detail=detail)[list(PAIR_COLUMNS) + (
            ["closes"] if detail else [])]

    def _pair_gains(self, export: Export, ctx: _Context, queries: pd.DataFrame, nips: Sequence[str] | None,
                    as_of: date, *, detail: bool = False, levels: pd.DataFrame | None = None,
                    base_x: pd.DataFrame | None = None) -> pd.DataFrame:
        """PAIR_COLUMNS (and `closes` with `detail`) plus `pair`, the pair's row in `_pair_rows`."""
        if levels is None or base_x is None:
            base_x, _, levels = self._levels(ctx, queries)
        rows = self._pair_rows(ctx, levels, base_x, nips, as_of)
        pairs = self._pairs_frame(rows)
        if detail:
            every = np.arange(len(pairs))
            pairs["lower"], pairs["upper"] = self._pair_intervals(rows, pairs, every)
            pairs["closes"] = self._pair_closes(rows, every)
        return pairs

    def _pair_rows(self, ctx: _Context, levels: pd.DataFrame, base_x: pd.DataFrame,
                   nips: Sequence[str] | None, as_of: date) -> _PairRows:
        """The eligible pairs of `nips` and their (pair × targeted required competency) rows, each with the
        point effect of the pair's training on that competency and the gap it closes."""
        index, tables = ctx.index, ctx.tables
        n_comp = index.n_competencies
        pair_nip, pair_pos = self._eligible(ctx, nips, as_of)
        # Query rows by (employee, competency): a dense table over the request's employees.
        q_nip = levels["nip"].to_numpy(dtype=object)
        people = pd.Index(pd.unique(q_nip))
        q_emp = people.get_indexer(q_nip)
        q_comp = index.competencies.index.get_indexer(levels["competency_id"].to_numpy(dtype=object))
        lookup = np.full(len(people) * n_comp, -1, dtype=np.int64)
        lookup[q_emp * n_comp + q_comp] = np.arange(len(levels))
        # Expand every pair into its training's targets (file order), keep the required competencies.
        pair_emp = people.get_indexer(pair_nip)
        counts = np.where(pair_emp >= 0, tables.target_count[pair_pos], 0)
        row_pair = np.repeat(np.arange(len(pair_nip)), counts)
        first = np.repeat(tables.target_start[pair_pos] - (np.cumsum(counts) - counts), counts)
        comp = tables.target_comp[first + np.arange(len(row_pair))]
        q_row = lookup[pair_emp[row_pair] * n_comp + comp]
        keep = q_row >= 0
        row_pair, comp, q_row = row_pair[keep], comp[keep], q_row[keep]

        # The effect of each pair's training on each row's competency (point only: intervals are asked
        # for the pairs that are shown, `_pair_intervals`).
        effect_rows = self._effect_rows(ctx, base_x, q_row, pair_pos[row_pair], comp)
        base_pred = pd.DataFrame({"predicted_level": levels["base_level"].to_numpy(np.float64)[q_row],
                                  "lower": levels["lower"].to_numpy(np.float64)[q_row],
                                  "upper": levels["upper"].to_numpy(np.float64)[q_row]})
        tau, _, _ = self._effect(effect_rows, effect_rows, base_pred, interval=False)
        required = levels["required_level"].to_numpy(np.float64)[q_row]
        base_level = levels["base_level"].to_numpy(np.float64)[q_row]
        before = levels["gap"].to_numpy(np.float64)[q_row]
        closes = before - np.maximum(required - np.clip(base_level + tau, LEVEL_MIN, LEVEL_MAX), 0.0)
        # Evidence of comparable past participants: same training, competency and level band.
        band = level_band(base_x["current_level"].to_numpy(np.float64)[q_row])
        keys, participants, mean_change = self._evidence(ctx, as_of)
        wanted = self._evidence_keys(ctx, pair_pos[row_pair], comp, band)
        at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        found = (keys[at] == wanted) if len(keys) else np.zeros(len(wanted), dtype=bool)
        # Rows by pair, then by the gap they close (largest first), then target order: the first row of a
        # pair is its primary competency.
        order = np.lexsort((np.arange(len(row_pair)), -closes, row_pair))
        gap_before = np.bincount(q_emp, weights=levels["gap"].to_numpy(np.float64), minlength=len(people))
        return _PairRows(
            nip=pair_nip, position=pair_pos, training_id=tables.training_ids.to_numpy()[pair_pos],
            cost_idr=tables.cost_idr[pair_pos], hours_jp=tables.hours_jp[pair_pos],
            total_gap_before=np.where(pair_emp >= 0, gap_before[np.maximum(pair_emp, 0)], 0.0),
            row_pair=row_pair, competency_id=index.competencies.index.to_numpy()[comp], q_row=q_row,
            effect_rows=effect_rows, base_pred=base_pred, required=required, base_level=base_level,
            gap_before=before, tau=tau, closes=closes,
            participants=np.where(found, participants[at] if len(keys) else 0, 0),
            mean_change=np.where(found, mean_change[at] if len(keys) else np.nan, np.nan), order=order)

    def _effect_rows(self, ctx: _Context, base_x: pd.DataFrame, q_row: np.ndarray, position: np.ndarray,
                     comp: np.ndarray) -> pd.DataFrame:
        """The effect model's input for rows `q_row` of `base_x`, each with the one training at catalogue
        `position` as its plan (`comp`: the rows' competency codes). The X-learner reads its moderators,
        plan and course features only, so only those are copied (the S-learner needs them all)."""
        columns = list(base_x.columns)
        if isinstance(self.effect_model, XLearnerEffect):
            wanted = set(MODERATOR_FEATURES) | {"competency_id", "competency_kind", "current_level"}
            columns = [c for c in columns if c in wanted]
        data: dict[str, Any] = {}
        for c in columns:
            values = base_x[c].to_numpy()[q_row]
            # Text columns stay object arrays: inferring Arrow strings again costs more than the look-ups.
            data[c] = pd.Series(values, dtype=object) if values.dtype == object else values
        plans = [(t,) for t in ctx.tables.training_ids.to_numpy()[position]]
        data.update(plan_features(ctx.index, comp, base_x["current_level"].to_numpy(np.float64)[q_row], plans))
        for column, table in ctx.tables.courses.items():
            data[column] = table[position, comp]
        data["plan"] = plans
        return pd.DataFrame(data)

    def _pairs_frame(self, rows: _PairRows) -> pd.DataFrame:
        """One row per pair: PAIR_COLUMNS (the interval is the point, lower = 0 on thin evidence) and `pair`.

        The primary competency is the one the pair closes most (first in target order on ties); a pair whose
        training targets none of the employee's required competencies has gain 0 and no primary."""
        n = len(rows.nip)
        gain = np.round(np.clip(np.bincount(rows.row_pair, weights=rows.closes, minlength=n), 0.0, None), 6)
        primary = np.full(n, -1, dtype=np.int64)
        ordered = rows.order
        if len(ordered):
            pair_of = rows.row_pair[ordered]
            starts = np.r_[True, pair_of[1:] != pair_of[:-1]]
            primary[pair_of[starts]] = ordered[starts]
        has = primary >= 0
        at = np.maximum(primary, 0)
        participants = np.zeros(n, dtype=np.int64)
        mean_change = np.full(n, np.nan)
        competency = np.full(n, None, dtype=object)
        if len(ordered):
            participants = np.where(has, rows.participants[at], 0).astype(np.int64)
            mean_change = np.where(has, rows.mean_change[at], np.nan)
            competency = np.where(has, rows.competency_id[at], None)
        thin = participants < self.thin_participants
        closing: dict[int, list[str]] = {}
        for r in ordered[rows.closes[ordered] > 1e-9]:
            closing.setdefault(int(rows.row_pair[r]), []).append(str(rows.competency_id[r]))
        return pd.DataFrame({
            "nip": pd.array(rows.nip, dtype="str"),
            "training_id": pd.array(rows.training_id, dtype="str"),
            "expected_gain": gain,
            "lower": np.where(thin, 0.0, gain),
            "upper": gain,
            "cost_idr": rows.cost_idr,
            "hours_jp": rows.hours_jp,
            "competency_ids": [tuple(closing.get(i, ())) for i in range(n)],
            "primary_competency": pd.array(competency, dtype="str"),
            "participants": participants,
            "mean_observed_change": mean_change,
            "thin_evidence": thin,
            "total_gap_before": rows.total_gap_before,
            "pair": np.arange(n, dtype=np.int64),
        })

    def _pair_intervals(self, rows: _PairRows, pairs: pd.DataFrame, chosen: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the expected gain of the pairs `chosen` (their `pair` numbers; `pairs` holds
        their rows, in the same order): the effect model's interval on each of their rows, summed per pair
        like the gain."""
        chosen = np.asarray(chosen, dtype=np.int64)
        where = np.full(len(rows.nip), -1, dtype=np.int64)
        where[chosen] = np.arange(len(chosen))
        local = where[rows.row_pair]
        picked = np.flatnonzero(local >= 0)
        _, t_lo, t_hi = self._effect(rows.effect_rows.iloc[picked], rows.effect_rows.iloc[picked],
                                     rows.base_pred.iloc[picked].reset_index(drop=True), interval=True)
        before, required, base = rows.gap_before[picked], rows.required[picked], rows.base_level[picked]

        def summed(effect: np.ndarray) -> np.ndarray:
            closes = before - np.maximum(required - np.clip(base + effect, LEVEL_MIN, LEVEL_MAX), 0.0)
            total = np.bincount(local[picked], weights=closes, minlength=len(chosen))
            return np.round(np.clip(total, 0.0, None), 6)

        gain = pairs["expected_gain"].to_numpy(np.float64)
        thin = pairs["thin_evidence"].to_numpy(bool)
        lower = np.where(thin, 0.0, np.minimum(summed(t_lo), gain))
        return lower, np.maximum(summed(t_hi), gain)

    @staticmethod
    def _pair_closes(rows: _PairRows, chosen: np.ndarray) -> list[list[tuple[str, float, float]]]:
        """Per pair of `chosen`: (competency_id, gap before, gap after) of every targeted required
        competency, the one closed most first."""
        out: dict[int, list[tuple[str, float, float]]] = {int(p): [] for p in chosen}
        for r in rows.order:
            items = out.get(int(rows.row_pair[r]))
            if items is not None:
                before = float(rows.gap_before[r])
                items.append((str(rows.competency_id[r]), before, before - float(rows.closes[r])))
        return [out[int(p)] for p in chosen]

    def rank_pairs(self, pairs: pd.DataFrame, *, limit: int | None = 5, max_cost_idr: float | None = None,
                   max_jp: float | None = None) -> pd.DataFrame:
        """The recommended pairs: gain > epsilon, within the cost / JP limits, ranked per employee by gain
        (ties: lower cost, then training_id), at most `limit` each; adds `rank` (1 = best)."""
        keep = pairs["expected_gain"].to_numpy(np.float64) > self.gain_epsilon
        if max_cost_idr is not None:
            keep &= pairs["cost_idr"].to_numpy(np.float64) <= max_cost_idr
        if max_jp is not None:
            keep &= pairs["hours_jp"].to_numpy(np.float64) <= max_jp
        kept = np.flatnonzero(keep)
        # Sort codes of the text keys (np.unique sorts), then one stable lexicographic sort.
        nip_code = np.unique(pairs["nip"].to_numpy(dtype=object)[kept].astype(str), return_inverse=True)[1]
        training_code = np.unique(pairs["training_id"].to_numpy(dtype=object)[kept].astype(str),
                                  return_inverse=True)[1]
        order = np.lexsort((training_code, pairs["cost_idr"].to_numpy(np.float64)[kept],
                            -pairs["expected_gain"].to_numpy(np.float64)[kept], nip_code))
        sorted_nip = nip_code[order]
        new = np.r_[True, sorted_nip[1:] != sorted_nip[:-1]] if len(order) else np.zeros(0, dtype=bool)
        start = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0)) if len(order) else order
        rank = np.arange(len(order)) - start + 1
        shown = rank <= limit if limit is not None else np.ones(len(order), dtype=bool)
        out = pairs.take(kept[order[shown]]).reset_index(drop=True)
        out["rank"] = rank[shown].astype(np.int64)
        return out

    # -- gaps ------------------------------------------------------------------------------------
    def gaps(self, export: Export, nip: str, *, as_of: date | None = None,
             horizon_months: int = DEFAULT_HORIZON_MONTHS, plan: Sequence[str] = (),
             position_id: str | None = None, explain: bool = True, lang: str = "id") -> EmployeeGaps:
        """Per required competency: current, predicted (given `plan`), interval, required, gap, JPM."""
        self._check(horizon_months, lang)
        as_of = self._as_of(export, as_of)
        ctx = self._context(export)
        index = ctx.index
        employee = self._employee(index, nip)
        plan = self._plan(ctx, plan)
        position = self._position(ctx, position_id or str(employee["position_id"]))
        queries = self._position_queries(index, str(nip), as_of, horizon_months, position)
        return self._gaps_body(ctx, queries, str(nip), as_of, horizon_months, plan, position, explain, lang)

    @staticmethod
    def _position(ctx: _Context, position_id: str) -> str:
        if position_id not in ctx.tables.positions:
            raise UnknownPosition(f"unknown position {position_id}", field="position_id")
        return position_id

    def _position_queries(self, index: PitIndex, nip: str, as_of: date, horizon_months: int,
                          position_id: str) -> pd.DataFrame:
        """Query rows for the competencies `position_id` requires, with its required levels.

        The features stay those of the employee's own position (the model's `required_level` feature
        included): a prediction of the level does not depend on which standard it is compared with.
        """
        comps, target = index.standards_of(position_id)
        q = self._own_queries(index, nip, comps, as_of, horizon_months)
        q["target_required"] = target
        return q

    @staticmethod
    def _own_queries(index: PitIndex, nip: str, competency_ids: Sequence[str], as_of: date,
                     horizon_months: int) -> pd.DataFrame:
        """Query rows of `nip` for `competency_ids`, with the employee's own position's required level (the
        model's `required_level` feature; NaN where that position does not require the competency)."""
        own = dict(zip(*index.standards_of(str(index.employees.at[nip, "position_id"])), strict=True))
        required = np.array([own.get(c, np.nan) for c in competency_ids], dtype=np.float64)
        return queries_frame(np.full(len(competency_ids), nip, dtype=object),
                             np.asarray(competency_ids, dtype=object), required, as_of, horizon_months)

    def _gaps_body(self, ctx: _Context, queries: pd.DataFrame, nip: str, as_of: date, horizon_months: int,
                   plan: tuple[str, ...], position_id: str, explain: bool, lang: str,
                   shown_nip: str | None = None) -> EmployeeGaps:
        plans = [plan] * len(queries) if plan else None
        base_x, plan_x, levels, explanation = self._explained_levels(
            ctx, queries.drop(columns=["target_required"]), plans, explain=explain)
        required = queries["target_required"].to_numpy(np.float64)
        levels["required_level"] = required
        levels["gap"] = np.maximum(required - levels["predicted_level"].to_numpy(), 0.0)
        bands = tuple(get_settings().jpm_bands)
        records = levels.to_dict("records")
        values = plan_x.to_dict("records") if explanation is not None else []
        names = base_x["competency_name"].to_numpy(dtype=object)
        items = []
        for i, row in enumerate(records):
            jpm = 100.0 * float(row["predicted_level"]) / float(row["required_level"])
            body = None
            if explanation is not None:
                body = self._explanation(ctx.index, explanation, i, values[i], row, nip, as_of, lang)
            items.append(CompetencyGap(
                competency_id=str(row["competency_id"]), name=str(names[i]),
                required_level=int(row["required_level"]),
                current_level=(None if pd.isna(row["current_level"])
                               else round(float(row["current_level"]), 6)),
                predicted_level=float(row["predicted_level"]), lower=float(row["lower"]),
                upper=float(row["upper"]), gap=float(row["gap"]), jpm=round(jpm, 2),
                jpm_band=jpm_band(jpm, bands), thin_evidence=bool(row["thin_evidence"]), explanation=body))
        return EmployeeGaps(nip=shown_nip or nip, model_version=self.model_version, as_of=as_of,
                            horizon_months=int(horizon_months), position_id=position_id,
                            total_gap=float(levels["gap"].sum()), competencies=items)

    def _explanation(self, index: PitIndex, explanation: Any, i: int, values: dict[str, Any],
                     row: dict[str, Any], nip: str, as_of: date, lang: str) -> Explanation:
        frame = explanation.contributions
        names = list(frame.columns)
        contributions = frame.to_numpy(np.float64)[i].copy()
        plan_effect = float(row["predicted_level"] - row["base_level"])
        if plan_effect != 0.0:
            # The plan's effect τ is carried by "trainings planned for this competency".
            if PLAN_EFFECT_FEATURE not in names:
                names.append(PLAN_EFFECT_FEATURE)
                contributions = np.r_[contributions, 0.0]
            contributions[names.index(PLAN_EFFECT_FEATURE)] += plan_effect
        base_value = float(explanation.base_value[i])
        # Make the sum exact in floating point too: the rounding remainder joins the largest item.
        remainder = float(row["predicted_level"]) - base_value - float(contributions.sum())
        contributions[int(np.argmax(np.abs(contributions)))] += remainder
        rendered = words.render(pd.Series(contributions, index=names), values, lang, top=TOP_CONTRIBUTIONS)
        evidence = [Evidence(kind=e["kind"], text=e["text"], date=e["date"], detail=e["detail"])
                    for e in words.evidence(index, nip, str(row["competency_id"]), as_of, lang)]
        return Explanation(base_value=base_value,
                           contributions=[Contribution(**item) for item in rendered], evidence=evidence)

    def gaps_inline(self, export: Export, employee: dict[str, Any], assessments: list[dict[str, Any]],
                    performance_reviews: list[dict[str, Any]], training_records: list[dict[str, Any]], *,
                    as_of: date | None = None, horizon_months: int = DEFAULT_HORIZON_MONTHS,
                    lang: str = "id") -> EmployeeGaps:
        """Gaps of an employee the store does not hold: the reference tables come from `export`."""
        self._check(horizon_months, lang)
        as_of = self._as_of(export, as_of)
        one = inline_export(export, employee, assessments, performance_reviews, training_records, as_of)
        try:
            result = self.gaps(one, INLINE_NIP, as_of=as_of, horizon_months=horizon_months, lang=lang)
        finally:
            self._forget(one)
        return result

    def _forget(self, export: Export) -> None:
        with self._lock:
            self._cache = [c for c in self._cache if c.export is not export]

    # -- recommendations -------------------------------------------------------------------------
    def recommend(self, export: Export, nip: str, *, as_of: date | None = None,
                  horizon_months: int = DEFAULT_HORIZON_MONTHS, limit: int = 5,
                  max_cost_idr: float | None = None, max_jp: float | None = None,
                  lang: str = "id") -> EmployeeRecommendations:
        """Eligible trainings ranked by expected gain, with what they close, cost, reasons and evidence."""
        return self.recommend_many(export, [nip], as_of=as_of, horizon_months=horizon_months, limit=limit,
                                   max_cost_idr=max_cost_idr, max_jp=max_jp, lang=lang)[0]

    def recommend_many(self, export: Export, nips: Sequence[str], *, as_of: date | None = None,
                       horizon_months: int = DEFAULT_HORIZON_MONTHS, limit: int = 5,
                       max_cost_idr: float | None = None, max_jp: float | None = None,
                       lang: str = "id") -> list[EmployeeRecommendations]:
        """`recommend` for many employees in one vectorised pass (results in the order of `nips`)."""
        self._check(horizon_months, lang)
        if not 1 <= int(limit) <= 50:
            raise EngineError("limit must be between 1 and 50", field="limit")
        if max_cost_idr is not None and max_cost_idr < 0:
            raise EngineError("max_cost_idr must be ≥ 0", field="max_cost_idr")
        if max_jp is not None and max_jp < 0:
            raise EngineError("max_jp must be ≥ 0", field="max_jp")
        as_of = self._as_of(export, as_of)
        ctx = self._context(export)
        index = ctx.index
        if len(nips) == 1:
            self._employee(index, nips[0])
        nips = self._known_nips(index, nips)
        if not nips:
            return []
        queries = self._queries(index, nips, as_of, horizon_months)
        base_x, _, levels = self._levels(ctx, queries)
        rows = self._pair_rows(ctx, levels, base_x, nips, as_of)
        ranked = self.rank_pairs(self._pairs_frame(rows), limit=int(limit), max_cost_idr=max_cost_idr,
                                 max_jp=max_jp)
        # Intervals and what each pair closes: for the recommended pairs only.
        chosen = ranked["pair"].to_numpy(np.int64)
        lower, upper = self._pair_intervals(rows, ranked, chosen)
        columns = {c: ranked[c].tolist() for c in _SHOWN_PAIR_COLUMNS}
        shown = [SimpleNamespace(**dict(zip(_SHOWN_PAIR_COLUMNS, values, strict=True)), lower=lo, upper=hi,
                                 closes=closes)
                 for values, lo, hi, closes in zip(zip(*columns.values(), strict=True), lower.tolist(),
                                                   upper.tolist(), self._pair_closes(rows, chosen), strict=True)]
        tables = ctx.tables
        current = {(n, c): v for n, c, v in zip(levels["nip"].to_numpy(dtype=object),
                                                levels["competency_id"].to_numpy(dtype=object),
                                                levels["current_level"].to_numpy(np.float64), strict=True)}
        jp_year = self._jp_year(ctx, as_of)
        q_nip = levels["nip"].to_numpy(dtype=object)
        people = pd.Index(pd.unique(q_nip))
        total_gap = dict(zip(people, np.bincount(people.get_indexer(q_nip), weights=levels["gap"].to_numpy(
            np.float64), minlength=len(people)), strict=True))
        by_nip: dict[str, list[Any]] = {}
        for r in shown:
            by_nip.setdefault(str(r.nip), []).append(r)
        out = []
        for nip in nips:
            gap = float(total_gap.get(nip, 0.0))
            items: list[Recommendation] = []
            for r in by_nip.get(nip, []):
                t = tables.info[str(r.training_id)]
                closes = [GapClosed(str(c), round(float(b), 6), round(float(a), 6))
                          for c, b, a in r.closes if b - a > 1e-9]
                reasons = self._reasons(r, t, closes, tables, current, float(jp_year.get(nip, 0.0)), lang)
                items.append(Recommendation(
                    rank=int(r.rank), training_id=str(r.training_id), title=t["title"],
                    format=t["format"], provider=t["provider"],
                    expected_gain=float(r.expected_gain), lower=float(r.lower), upper=float(r.upper),
                    cost_idr=int(r.cost_idr), hours_jp=int(r.hours_jp), closes=closes,
                    reasons=reasons,
                    evidence=TrainingEvidence(int(r.participants), None if pd.isna(r.mean_observed_change)
                                              else round(float(r.mean_observed_change), 6)),
                    thin_evidence=bool(r.thin_evidence)))
            message = None
            if gap <= self.gain_epsilon:
                message = _t(lang, "Tidak ada kesenjangan kompetensi yang perlu ditutup",
                             "No competency gap to close")
            elif not items:
                message = _t(lang, "Tidak ada pelatihan yang memenuhi syarat yang diperkirakan menutup "
                                   "kesenjangan", "No eligible training is expected to close a gap")
            out.append(EmployeeRecommendations(nip=nip, model_version=self.model_version, as_of=as_of,
                                               horizon_months=int(horizon_months), total_gap=gap, items=items,
                                               message=message))
        return out

    def _reasons(self, r: Any, training: dict[str, str], closes: list[GapClosed], tables: _Catalogue,
                 current: dict[tuple[str, str], float], jp_year: float, lang: str) -> list[str]:
        """Why this training: the gaps it closes and whether the employee is in its band, cost and JP, the
        20 JP right, the comparable participants' observed change, and thin evidence."""
        reasons = []
        names = tables.competency_names
        for c in closes:
            name = names.get(c.competency_id, c.competency_id)
            before, after = _num(c.gap_before, lang), _num(c.gap_after, lang)
            reasons.append(_t(lang, f"Menutup kesenjangan {name}: {before} → {after} level.",
                              f"Closes the {name} gap: {before} → {after} levels."))
            level = current.get((r.nip, c.competency_id))
            band = tables.bands.get((str(r.training_id), c.competency_id))
            if band is not None and level is not None and not np.isnan(level):
                lo, hi = band
                fits = lo <= level < hi + 1
                reasons.append(_t(
                    lang,
                    f"Dirancang untuk level {name} {lo}–{hi}; level saat ini {_num(level, lang)}"
                    f" ({'sesuai' if fits else 'di luar rentang'}).",
                    f"Designed for {name} levels {lo}–{hi}; the current level is {_num(level, lang)}"
                    f" ({'a match' if fits else 'outside the band'})."))
        fmt = str(training["format"]).replace("_", " ")
        cost, jp, provider = _rupiah(r.cost_idr, lang), int(r.hours_jp), training["provider"]
        reasons.append(_t(lang, f"Biaya {cost} per peserta, {jp} JP ({fmt}, {provider}).",
                          f"Costs {cost} per participant, {jp} JP ({fmt}, {provider})."))
        if jp_year < JP_RIGHT_PER_YEAR:
            done = int(jp_year)
            right = JP_RIGHT_PER_YEAR
            reasons.append(_t(lang, f"Membantu memenuhi hak {right} JP tahun ini (baru {done} JP).",
                              f"Helps meet the {right} JP right this year (so far {done} JP)."))
        primary = names.get(str(r.primary_competency), str(r.primary_competency))
        if r.participants > 0 and not pd.isna(r.mean_observed_change):
            change = float(r.mean_observed_change)
            sign = "+" if change >= 0 else "−"
            n, size = int(r.participants), f"{sign}{_num(abs(change), lang)}"
            reasons.append(_t(lang, f"{n} peserta sebelumnya dengan level {primary} serupa: perubahan "
                                    f"rata-rata {size} level.",
                              f"{n} earlier participants at a similar {primary} level: mean change "
                              f"{size} levels."))
        if r.thin_evidence:
            reasons.append(_t(lang, f"Bukti tipis: kurang dari {self.thin_participants} peserta sebanding "
                                    "sebelumnya, jadi perkiraan ini kurang pasti.",
                              f"Thin evidence: fewer than {self.thin_participants} comparable earlier "
                              "participants, so this estimate is uncertain."))
        return reasons

    # -- what-if ---------------------------------------------------------------------------------
    def whatif(self, export: Export, nip: str, *, plan: Sequence[str], position_id: str | None = None,
               horizon_months: int = DEFAULT_HORIZON_MONTHS, lang: str = "id") -> WhatIf:
        """Baseline (empty plan, own position) vs the scenario (plan, optionally another position)."""
        baseline = self.gaps(export, nip, horizon_months=horizon_months, lang=lang)
        scenario = self.gaps(export, nip, horizon_months=horizon_months, plan=plan, position_id=position_id,
                             lang=lang)
        ctx = self._context(export)
        plan = self._plan(ctx, plan)
        index = ctx.index
        # Levels of every competency of either side, with and without the plan, for the deltas.
        comps = list(dict.fromkeys([c.competency_id for c in baseline.competencies]
                                   + [c.competency_id for c in scenario.competencies]))
        q = self._own_queries(index, str(nip), comps, baseline.as_of, horizon_months)
        _, _, before = self._levels(ctx, q)
        _, _, after = self._levels(ctx, q, [plan] * len(q) if plan else None)
        gap_before = {c.competency_id: c.gap for c in baseline.competencies}
        gap_after = {c.competency_id: c.gap for c in scenario.competencies}
        names = index.competencies["name"]
        delta, summary = [], []
        for i, comp in enumerate(comps):
            change = float(after["predicted_level"].iloc[i] - before["predicted_level"].iloc[i])
            g0, g1 = gap_before.get(comp, 0.0), gap_after.get(comp, 0.0)
            delta.append(CompetencyDelta(comp, round(change, 6), round(g1 - g0, 6)))
            if abs(change) > 1e-6 or abs(g1 - g0) > 1e-6:
                name = str(names.get(comp, comp))
                p0, p1 = float(before["predicted_level"].iloc[i]), float(after["predicted_level"].iloc[i])
                levels_text = f"{_num(p0, lang)} → {_num(p1, lang)}"
                gaps_text = f"{_num(g0, lang)} → {_num(g1, lang)}"
                summary.append(_t(lang, f"{name}: prediksi {levels_text}, kesenjangan {gaps_text}.",
                                  f"{name}: predicted {levels_text}, gap {gaps_text}."))
        if position_id and position_id != baseline.position_id:
            title = ctx.tables.positions.get(position_id, position_id)
            summary.insert(0, _t(lang, f"Skenario diukur terhadap standar jabatan {title}.",
                                 f"The scenario is measured against the standard of {title}."))
        if plan:
            _, positions = self._eligible(ctx, [str(nip)], baseline.as_of)
            open_ids = set(ctx.tables.training_ids.to_numpy()[positions])
            for t in plan:
                if t not in open_ids:
                    summary.append(_t(lang, f"Catatan: pegawai ini tidak memenuhi syarat untuk {t}.",
                                      f"Note: this employee is not eligible for training {t}."))
        totals = f"{_num(baseline.total_gap, lang)} → {_num(scenario.total_gap, lang)}"
        summary.append(_t(lang, f"Total kesenjangan {totals}.", f"Total gap {totals}."))
        return WhatIf(nip=str(nip), model_version=self.model_version, baseline=baseline, scenario=scenario,
                      delta=delta, total_gap_before=baseline.total_gap, total_gap_after=scenario.total_gap,
                      summary=summary)

    # -- planner and batch -----------------------------------------------------------------------
    def candidates(self, export: Export, nips: Sequence[str] | None = None, *, top_k: int | None = 5,
                   as_of: date | None = None, horizon_months: int = DEFAULT_HORIZON_MONTHS) -> pd.DataFrame:
        """The planner's input: per employee the top-k trainings with gain > epsilon (CANDIDATE_COLUMNS)."""
        self._check(horizon_months, "id")
        as_of = self._as_of(export, as_of)
        ctx = self._context(export)
        index = ctx.index
        chosen = self._known_nips(index, nips) if nips is not None else self._active(index)
        parts = []
        for chunk in _chunks(chosen, CHUNK_EMPLOYEES):
            queries = self._queries(index, chunk, as_of, horizon_months)
            pairs = self._pair_gains(export, ctx, queries, chunk, as_of)
            parts.append(self.rank_pairs(pairs, limit=top_k))
        ranked = pd.concat(parts, ignore_index=True) if parts else self.rank_pairs(
            pd.DataFrame(columns=list(PAIR_COLUMNS)), limit=top_k)
        units = index.employees["unit_id"]
        ranked["unit_id"] = units.reindex(ranked["nip"]).astype(str).to_numpy()
        jp = self._jp_year(ctx, as_of).reindex(ranked["nip"]).fillna(0.0)
        ranked["jp_this_year"] = jp.to_numpy(np.float64)
        out = ranked[list(CANDIDATE_COLUMNS)].reset_index(drop=True)
        return out.astype({"nip": "str", "training_id": "str", "unit_id": "str", "expected_gain": "float64",
                           "cost_idr": "int64", "hours_jp": "int64", "total_gap_before": "float64"})

    @staticmethod
    def _active(index: PitIndex) -> list[str]:
        emp = index.employees
        return [str(n) for n in emp.index[emp["status"] == ACTIVE_STATUS]]

    def score(self, export: Export, *, as_of: date | None = None,
              horizon_months: int = DEFAULT_HORIZON_MONTHS, top_k: int = 5,
              progress: Progress | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Batch files for every active employee: (gaps, recommendations), columns GAPS_COLUMNS and
        RECOMMENDATIONS_COLUMNS, in chunks of CHUNK_EMPLOYEES employees."""
        self._check(horizon_months, "id")
        as_of = self._as_of(export, as_of)
        ctx = self._context(export)
        index = ctx.index
        say = progress or (lambda _m: None)
        active = self._active(index)
        gaps, recs = [], []
        for i, chunk in enumerate(_chunks(active, CHUNK_EMPLOYEES)):
            queries = self._queries(index, chunk, as_of, horizon_months)
            base_x, _, levels = self._levels(ctx, queries)
            gaps.append(levels)
            pairs = self._pair_gains(export, ctx, queries, chunk, as_of, levels=levels, base_x=base_x)
            recs.append(self.rank_pairs(pairs, limit=top_k))
            say(f"scored {min((i + 1) * CHUNK_EMPLOYEES, len(active)):,} of {len(active):,} employees")
        version = self.model_version
        g = pd.concat(gaps, ignore_index=True) if gaps else pd.DataFrame(columns=list(GAPS_COLUMNS))
        g = g.assign(as_of=pd.Timestamp(as_of), horizon_months=int(horizon_months), model_version=version)
        r = pd.concat(recs, ignore_index=True) if recs else self.rank_pairs(
            pd.DataFrame(columns=list(PAIR_COLUMNS)), limit=top_k)
        r = r.assign(model_version=version)
        return (g[list(GAPS_COLUMNS)].reset_index(drop=True),
                r[list(RECOMMENDATIONS_COLUMNS)].astype({"rank": "int64"}).reset_index(drop=True))

    # -- unit summary ----------------------------------------------------------------------------
    def unit_summary(self, export: Export, unit_id: str, *, horizon_months: int = DEFAULT_HORIZON_MONTHS,
                     lang: str = "id") -> UnitSummary:
        """The unit's (with its sub-units') gaps per competency, employees below standard, JPM bands, JP
        compliance and the trainings recommended most."""
        self._check(horizon_months, lang)
        units = export["units"].set_index(export["units"]["unit_id"].astype(str))
        if str(unit_id) not in units.index:
            raise UnknownUnit(f"unknown unit {unit_id}", field="unit_id")
        as_of = export.exported_on
        ctx = self._context(export)
        index = ctx.index
        emp = index.employees
        # The unit with its sub-units (a kecamatan with its kelurahan, an OPD with its schools), as plans do.
        from training.plans import unit_scope

        scope = unit_scope(export["units"], [str(unit_id)])
        in_unit = emp["unit_id"].astype(str).isin(scope) & (emp["status"] == ACTIVE_STATUS)
        members = [str(n) for n in emp.index[in_unit]]
        competencies: list[UnitSummaryCompetency] = []
        by_type: list[dict[str, Any]] = []
        bands = {b: 0 for b in JPM_BANDS}
        top: list[dict[str, Any]] = []
        jp = self._jp_year(ctx, as_of).reindex(members).fillna(0.0)
        meeting = int((jp >= JP_RIGHT_PER_YEAR).sum())
        if members:
            queries = self._queries(index, members, as_of, horizon_months)
            base_x, _, levels = self._levels(ctx, queries)
            levels["name"] = base_x["competency_name"].to_numpy()
            levels["below"] = levels["predicted_level"] < levels["required_level"]
            per = levels.groupby(["competency_id", "name"], sort=True).agg(
                employees=("nip", "nunique"), mean_gap=("gap", "mean"), share=("below", "mean")).reset_index()
            competencies = [UnitSummaryCompetency(str(r.competency_id), str(r.name), int(r.employees),
                                                  round(float(r.mean_gap), 6), round(float(r.share), 6))
                            for r in per.itertuples(index=False)]
            levels["position_type"] = emp["position_type"].reindex(levels["nip"]).astype(str).to_numpy()
            pt = levels.groupby(["position_type", "competency_id"], sort=True)["gap"].mean().reset_index()
            by_type = [{"position_type": r.position_type, "competency_id": r.competency_id,
                        "mean_gap": round(float(r.gap), 6)} for r in pt.itertuples(index=False)]
            # JPM per employee: the mean over required competencies of min(100, predicted / required),
            # capped so that a surplus in one competency does not hide a gap in another.
            jpm = np.minimum(100.0 * levels["predicted_level"] / levels["required_level"], 100.0)
            settings_bands = tuple(get_settings().jpm_bands)
            for value in jpm.groupby(levels["nip"]).mean():
                bands[jpm_band(float(value), settings_bands)] += 1
            pairs = self._pair_gains(export, ctx, queries, members, as_of, levels=levels, base_x=base_x)
            ranked = self.rank_pairs(pairs, limit=5)
            titles = {t: info["title"] for t, info in ctx.tables.info.items()}
            agg = ranked.groupby("training_id").agg(employees_recommended=("nip", "nunique"),
                                                    total_expected_gain=("expected_gain", "sum"))
            agg = agg.reset_index()
            agg = agg.sort_values(["total_expected_gain", "training_id"], ascending=[False, True]).head(10)
            top = [{"training_id": r.training_id, "title": titles.get(str(r.training_id), str(r.training_id)),
                    "employees_recommended": int(r.employees_recommended),
                    "total_expected_gain": round(float(r.total_expected_gain), 6)} for r in agg.itertuples()]
        return UnitSummary(
            unit_id=str(unit_id), name=str(units.loc[str(unit_id), "name"]), model_version=self.model_version,
            as_of=as_of, horizon_months=int(horizon_months), employees=len(members),
            competencies=competencies, gap_by_position_type=by_type, jpm_bands=bands,
            jp_compliance={"year": as_of.year, "employees_meeting_20_jp": meeting,
                           "share": round(meeting / len(members), 6) if members else 0.0},
            top_trainings=top)

    # -- drift -----------------------------------------------------------------------------------
    def drift_summary(self, export: Export) -> dict[str, Any]:
        """Population drift (PSI) of this model's training population vs `export`, JSON-ready:
        `{"status", "psi_max", "prediction_psi", "features": {name: psi}}` (`training.drift`).

        Status "unknown" with None values when the bundle carries no drift reference or the computation
        fails: the server calls this in the background, so it logs and never raises.
        """
        unknown: dict[str, Any] = {"status": "unknown", "psi_max": None, "prediction_psi": None, "features": {}}
        if not self.metadata.get("drift_reference"):
            return unknown
        try:
            # Imported here: the server needs training.drift only for a model that carries a reference.
            from training.drift import drift_report

            report = drift_report(export, self, seed=get_settings().seed)
            features = {str(f): _finite(v) for f, v in zip(report.features["feature"], report.features["psi"],
                                                            strict=True)}
            return {"status": report.status, "psi_max": _finite(report.psi_max),
                    "prediction_psi": _finite(report.prediction_psi), "features": features}
        except Exception as exc:  # noqa: BLE001 - drift is a diagnostic: it must never take serving down
            logging.getLogger(__name__).warning("drift not computed for model %s: %s: %s", self.model_version,
                                                type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            return unknown


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------
def _finite(value: Any) -> float | None:
    """`value` as a float, None when missing or not finite (JSON has no NaN)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def jp_this_year(export: Export, as_of: date) -> pd.Series:
    """JP of trainings completed (selesai) in the calendar year of `as_of`, up to it, per nip."""
    r = export["training_records"]
    at = pd.Timestamp(as_of)
    done = r[(r["status"] == "selesai") & (r["completed_on"] <= at)
             & (r["completed_on"] >= pd.Timestamp(year=at.year, month=1, day=1))]
    hours = export["trainings"].set_index(export["trainings"]["training_id"].astype(str))["hours_jp"]
    jp = hours.reindex(done["training_id"].astype(str)).fillna(0).to_numpy(np.float64)
    return pd.Series(jp, index=done["nip"].astype(str).to_numpy()).groupby(level=0).sum()


_EMPLOYEE_FIELDS = ("position_id", "unit_id", "grade", "employment", "education", "hired_on")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _inline_table(name: str, rows: list[dict[str, Any]], nip: str, field_name: str, as_of: date
                  ) -> pd.DataFrame:
    """Rows of one table sent inline, parsed and checked by the contract's own validator, as if they were
    an export file; the first broken rule becomes an EngineError naming the field (`assessments[2].level`)."""
    spec = TABLES_BY_NAME[name]
    if not rows:
        return empty_table(spec)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise EngineError(f"{field_name}[{i}] must be an object", field=f"{field_name}[{i}]")
    wanted = [c for c in spec.columns if c.name == "nip" or c.required or any(c.name in r for r in rows)]
    columns = {c.name: pd.Series([nip if c.name == "nip" else _text(r.get(c.name)) for r in rows],
                                 dtype="str") for c in wanted}
    raw = RawTable(spec, f"{field_name}", columns, np.arange(2, len(rows) + 2))
    log = ErrorLog(1)
    typed = validate_tables({name: raw}, as_of, log, [])
    if log.total:
        error = log.errors[0]
        where = f"{field_name}[{(error.row or 2) - 2}]" + (f".{error.column}" if error.column else "")
        raise EngineError(f"{where}: {error.rule}", field=where)
    return typed[name]


def _employee_row(employee: dict[str, Any], as_of: date) -> dict[str, Any]:
    """The inline employee's fields, checked against the contract's enumerations."""
    missing = [f for f in _EMPLOYEE_FIELDS if employee.get(f) in (None, "")]
    if missing:
        raise EngineError(f"employee.{missing[0]} is required", field=f"employee.{missing[0]}")
    row = {f: str(employee[f]) for f in ("position_id", "unit_id", "grade", "employment", "education")}
    for name, choices in (("grade", GRADES), ("employment", EMPLOYMENTS), ("education", EDUCATIONS)):
        if row[name] not in choices:
            raise EngineError(f"employee.{name} must be one of: {', '.join(choices)}",
                              field=f"employee.{name}")
    try:
        hired = pd.Timestamp(date.fromisoformat(_text(employee["hired_on"]) or ""))
    except ValueError:
        raise EngineError("employee.hired_on must be a date YYYY-MM-DD", field="employee.hired_on") from None
    if hired > pd.Timestamp(as_of):
        raise EngineError("employee.hired_on is after the as-of date", field="employee.hired_on")
    return row | {"hired_on": hired}


def inline_export(export: Export, employee: dict[str, Any], assessments: list[dict[str, Any]],
                  performance_reviews: list[dict[str, Any]], training_records: list[dict[str, Any]],
                  as_of: date) -> Export:
    """A one-employee Export: the request's rows (under the synthetic id INLINE_NIP) and the reference
    tables of `export` (units, competencies, positions, standards, trainings, targets)."""
    row = _employee_row(employee, as_of)
    if row["position_id"] not in set(export["positions"]["position_id"].astype(str)):
        raise UnknownPosition(f"unknown position {row['position_id']}", field="employee.position_id")
    if row["unit_id"] not in set(export["units"]["unit_id"].astype(str)):
        raise UnknownUnit(f"unknown unit {row['unit_id']}", field="employee.unit_id")
    spec = TABLES_BY_NAME["employees"]
    row["status"] = ACTIVE_STATUS
    employees = pd.DataFrame({c.name: pd.Series([row.get(c.name)], dtype=PANDAS_DTYPES[c.type])
                              for c in spec.columns})
    employees["nip"] = pd.Series([INLINE_NIP], dtype="str")
    # Protected attributes are not asked for: they stay empty, and never reach a feature anyway.
    tables = dict(export.tables)
    tables["employees"] = employees
    tables["assessments"] = _inline_table("assessments", assessments, INLINE_NIP, "assessments", as_of)
    tables["performance_reviews"] = _inline_table("performance_reviews", performance_reviews, INLINE_NIP,
                                                  "performance_reviews", as_of)
    tables["training_records"] = _inline_table("training_records", training_records, INLINE_NIP,
                                               "training_records", as_of)
    tables["awards"] = empty_table(TABLES_BY_NAME["awards"])
    comps = set(export["competencies"]["competency_id"].astype(str))
    for i, c in enumerate(tables["assessments"]["competency_id"].astype(str)):
        if c not in comps:
            raise EngineError(f"assessments[{i}].competency_id: unknown competency {c}",
                              field=f"assessments[{i}].competency_id")
    known = set(export["trainings"]["training_id"].astype(str))
    for i, t in enumerate(tables["training_records"]["training_id"].astype(str)):
        if t not in known:
            raise EngineError(f"training_records[{i}].training_id: unknown training {t}",
                              field=f"training_records[{i}].training_id")
    return Export(tables, exported_on=as_of, organisation=export.organisation,
                  contract_version=export.contract_version, snapshot_id=f"inline-{uuid.uuid4().hex}")


# ---------------------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------------------
EFFECT_PAIR_KINDS = ("next", "next2")  # assessment-to-assessment pairs …
EFFECT_QUERY_HORIZON = DEFAULT_HORIZON_MONTHS  # … and the query pairs at the default horizon


@dataclass
class TrainingData:
    """The training pairs of an export with their point-in-time features (what every model learns from)."""

    index: PitIndex
    pairs: pd.DataFrame
    features: pd.DataFrame
    target: np.ndarray


def training_data(export: Export, *, before: date | None = None, progress: Progress | None = None
                  ) -> TrainingData:
    """Training pairs (`features.pit.training_pairs`, later assessment on or before `before`) and features."""
    say = progress or (lambda _m: None)
    say("building the point-in-time index")
    index = PitIndex.build(export)
    pairs = training_pairs(index, before=before)
    if len(pairs) < 100:
        raise ValueError(f"only {len(pairs)} training pairs: not enough history to fit a model")
    say(f"features of {len(pairs):,} training pairs")
    return TrainingData(index, pairs, build_features(index, pairs), pairs["target"].to_numpy(np.float64))


def fit_effect_model(export: Export, data: TrainingData, *, seed: int = 0,
                     params: dict[str, Any] | None = None, progress: Progress | None = None
                     ) -> XLearnerEffect:
    """The X-learner on the assessment-to-assessment pairs and the query pairs at the default horizon (the
    query pairs at other horizons repeat the same later measurements and would only cost time).
    Raises NotEnoughHistory when too few pairs hold a training."""
    pairs = data.pairs
    keep = (pairs["pair_kind"].isin(EFFECT_PAIR_KINDS) | (pairs["horizon_months"] == EFFECT_QUERY_HORIZON)
            ).to_numpy()
    catalogue = course_catalogue(export)
    features = data.features[keep]
    courses = with_courses(features, catalogue, pairs["plan"][keep].tolist())
    learner = XLearnerEffect(seed=seed, **(params or {}))
    counterfactual = (counterfactual_plan_features(data.index, features, seed, catalogue)
                      if learner.blend == "x" else None)
    return learner.fit(courses, data.target[keep], pairs["nip"].to_numpy()[keep], counterfactual, progress)


def fit_predictor(export: Export, *, seed: int = 0, before: date | None = None,
                  progress: Progress | None = None, effect_estimator: str = "x_learner",
                  gap_model_params: dict[str, Any] | None = None,
                  effect_params: dict[str, Any] | None = None, data: TrainingData | None = None) -> Predictor:
    """Train everything from an export: the gap model (temporal calibration split for its intervals) and
    the effect estimator ("x_learner", the default, or "s_learner": see `training.effects` and the
    comparison in `training.rec_eval.compare_effect_estimators`), and fill `metadata`.

    With `before`, only training pairs whose later assessment is on or before it are used (back-tests).
    `data` reuses training pairs already built for this export (and `before`).
    """
    say = progress or (lambda _m: None)
    if effect_estimator not in ("x_learner", "s_learner"):
        raise ValueError(f"unknown effect estimator {effect_estimator!r}")
    data = data or training_data(export, before=before, progress=say)
    pairs, features, target = data.pairs, data.features, data.target
    train, calib = temporal_split(pairs["target_on"])
    say("gap model (point, quantiles, conformal calibration)")
    gap_params = dict(gap_model_params or {})
    gap_model = GapModel(seed=seed, **gap_params).fit(features[train], target[train], features[calib],
                                                      target[calib])
    effect_params = dict(effect_params or {})
    effect: Any = SLearnerEffect(gap_model)
    if effect_estimator == "x_learner":
        try:
            effect = fit_effect_model(export, data, seed=seed, params=effect_params, progress=say)
        except NotEnoughHistory as exc:
            # Too little training history for the meta-learner (e.g. a new organisation): the level
            # model's own plan features still give an effect, so fall back rather than fail.
            say(f"effect model: {exc}; falling back to the S-learner")
            effect_estimator = "s_learner"
    window = {"start": pd.Timestamp(pairs["as_of"].min()).date().isoformat(),
              "end": pd.Timestamp(pairs["target_on"].max()).date().isoformat()}
    diagnostics = {k: float(v) for k, v in getattr(effect, "diagnostics_", {}).items()}
    metadata = {
        "model_version": None,
        "as_of": export.exported_on.isoformat(),
        "data_window": window,
        "snapshot_id": export.snapshot_id,
        "metrics": {},
        "fit_metrics": {"training_pairs": float(len(pairs)),
                        **{f"effect_{k}": v for k, v in diagnostics.items()}},
        "params": {"gap_model": gap_params, "effect_estimator": effect_estimator, "effect": effect_params},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "features": list(FEATURES),
        "effect_estimator": effect_estimator,
        "seed": int(seed),
        "before": before.isoformat() if before else None,
    }
    return Predictor(gap_model, effect, metadata)
