"""Per-snapshot tables of the engine: what a request needs of one export that does not depend on the request.

Built once per snapshot and kept for the last two (`Predictor.warm` builds them ahead of the first
request): the point-in-time index, the course catalogue and reference look-ups (`Catalogue`), and per
as-of date the eligibility of every employee, the evidence (`engine.evidence`: comparable participants
against comparable non-participants) and JP this year (`Context`). The pair features' tables (`features.pair_features.PairTables`: completions by course and job family, the
share of each course's targets a position requires, own past gains) are built with the index.
`SnapshotTables` is the part of `Predictor` that builds and caches them; the cache is never
pickled. `PairRows` holds the eligible (employee, training) pairs of one request (`engine.recommend`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from engine.effects import COURSE_FEATURES, course_catalogue, with_courses
from engine.evidence import EvidenceTable, did_evidence
from features.constants import ACTIVE_STATUS
from features.eligibility import eligibility_matrix
from features.export import Export
from features.jp import jp_this_year
from features.pair_features import PairTables, with_pair_features
from features.pit import PLAN_FEATURES, PitIndex, plan_features
from features.pit_index import to_days

AS_OF_CACHE = 4  # per-date tables kept per snapshot (the export date and a few back-test dates)
EVIDENCE_BANDS = 8  # band codes -1 … 4 fit in 3 bits of an evidence key


@dataclass
class Catalogue:
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
    def build(cls, export: Export, index: PitIndex, catalogue: pd.DataFrame) -> Catalogue:
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
            courses=course_tables(catalogue, index),
        )


def course_tables(catalogue: pd.DataFrame, index: PitIndex) -> dict[str, np.ndarray]:
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
class Context:
    """What a request needs of one export, built once per snapshot: the point-in-time index, the course
    catalogue, the reference look-ups, and per as-of date the evidence, eligibility and JP tables."""

    key: Any
    export: Export
    index: PitIndex
    catalogue: pd.DataFrame
    evidence: dict[date, EvidenceTable]
    tables: Catalogue
    pair_tables: PairTables  # the learned pair features' tables (`features.pair_features`)
    eligibility: dict[date, tuple[pd.Index, np.ndarray, np.ndarray]] = field(default_factory=dict)
    jp_year: dict[date, pd.Series] = field(default_factory=dict)


@dataclass
class PairRows:
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
    level_sd: np.ndarray  # per row: the uncertainty of the employee's true level (standard deviation)
    closes: np.ndarray  # per row: gap the point effect closes in expectation over `level_sd`
    point_closes: np.ndarray  # per row: gap the point effect closes at the point level (what is shown)
    participants: np.ndarray  # per row: comparable past participants (`engine.evidence`)
    mean_change: np.ndarray  # per row: their change beyond comparable non-participants' (NaN when none)
    non_participants: np.ndarray  # per row: comparable non-participant records
    change_non_participants: np.ndarray  # per row: their (level-adjusted) mean change (NaN when none)
    change_participants: np.ndarray  # per row: the participants' own mean change (NaN when none)
    order: np.ndarray  # rows by pair, then expected gap closed (largest first), then target order


class SnapshotTables:
    """The per-snapshot cache of `Predictor` (`Predictor.__init__` and `__setstate__` make `_lock` and
    `_cache`; pickling leaves them behind)."""

    _lock: threading.Lock
    _cache: list[Context]

    def _context(self, export: Export) -> Context:
        key = export.snapshot_id or id(export)
        with self._lock:
            for ctx in self._cache:
                # Without a snapshot id, only the very same object may reuse an index.
                if ctx.key == key and (export.snapshot_id is not None or ctx.export is export):
                    return ctx
        index = PitIndex.build(export)
        catalogue = course_catalogue(export)
        ctx = Context(key, export, index, catalogue, {}, Catalogue.build(export, index, catalogue),
                      PairTables.of(index, export))
        with self._lock:
            self._cache = [ctx] + [c for c in self._cache if c.key != key][:1]
        return ctx

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

    def _evidence(self, ctx: Context, as_of: date) -> EvidenceTable:
        """The difference-in-differences evidence at `as_of` (`engine.evidence.did_evidence`), keyed by
        (training position × competencies + competency code) × EVIDENCE_BANDS + band + 1."""
        def build() -> EvidenceTable:
            table = did_evidence(ctx.export, as_of)
            keys = self._evidence_keys(ctx, ctx.tables.training_ids.get_indexer(table["training_id"].astype(str)),
                                       ctx.index.competencies.index.get_indexer(table["competency_id"].astype(str)),
                                       table["band"].to_numpy(np.int64))
            return EvidenceTable.of(table, keys)

        return self._remember(ctx.evidence, as_of, build)

    @staticmethod
    def _evidence_keys(ctx: Context, position: np.ndarray, comp_code: np.ndarray, band: np.ndarray
                       ) -> np.ndarray:
        keys = (position.astype(np.int64) * ctx.index.n_competencies + comp_code) * EVIDENCE_BANDS + band + 1
        return np.where((position >= 0) & (comp_code >= 0), keys, -1)

    def _eligibility(self, ctx: Context, as_of: date) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """Eligibility of every employee of the export at `as_of`: (nips in export order, the catalogue
        position of each active training, matrix [employee, training]); `features.eligibility` decides
        each employee on their own records, so a request reads its rows of this one matrix."""
        def build() -> tuple[pd.Index, np.ndarray, np.ndarray]:
            nips, trainings, matrix = eligibility_matrix(ctx.export, ctx.index.nips, as_of)
            return nips, ctx.tables.training_ids.get_indexer(trainings), matrix

        return self._remember(ctx.eligibility, as_of, build)

    def _eligible(self, ctx: Context, nips: Sequence[str] | None, as_of: date
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

    def _jp_year(self, ctx: Context, as_of: date) -> pd.Series:
        return self._remember(ctx.jp_year, as_of, lambda: jp_this_year(ctx.export, as_of))

    @staticmethod
    def _plan_rows(ctx: Context, base_x: pd.DataFrame, queries: pd.DataFrame, plans: Sequence[Sequence[str]]
                   ) -> pd.DataFrame:
        """`base_x` (features of `queries` with the empty plan) with the plan, course and pair features of
        `plans[i]` on row i, as of each query's date: the effect model's rows for a what-if (the same
        features as the recommendations' `_effect_rows`)."""
        index = ctx.index
        comp_code = index.competencies.index.get_indexer(base_x["competency_id"].astype(str)).astype(np.int64)
        planned = plan_features(index, comp_code, base_x["current_level"].to_numpy(np.float64), plans)
        out = base_x.copy()
        for name in PLAN_FEATURES:
            out[name] = planned[name]
        nip_code = index.nips.get_indexer(pd.Index(queries["nip"].astype(str))).astype(np.int64)
        return with_pair_features(with_courses(out, ctx.catalogue, plans), ctx.pair_tables, index, nip_code,
                                  to_days(queries["as_of"]), plans)

    def _forget(self, export: Export) -> None:
        with self._lock:
            self._cache = [c for c in self._cache if c.export is not export]
