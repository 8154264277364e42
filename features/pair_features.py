"""Learned pair features of (employee, competency, course) rows, each as of the row's own as-of date A.

What the effect model needs to know about a course *for this employee* beyond its band and JP, learned
from the export's own records (no hand-made grouping of formats or domains):

- the course's exact `format` (one-hot; no grouping);
- job-family fit: the share of the course's completers before A who are in the employee's job family
  (`course_family_share`, NaN before anyone completed it; the contract has no domain column, so who
  attends a course is what tells its domain), and the share of the course's targets that the employee's
  position requires (`course_required_share`);
- the employee's history as of A: months since the last completed course targeting the row's competency
  (`months_since_targeted`, capped at SPACING_CAP_MONTHS, with `never_targeted`), abandonment rate
  (tidak_selesai share of finished records) and completed courses, the employee's own past gains
  after courses (the change between the assessments around each earlier targeted completion, counted once
  its later assessment is on or before A), and the distance to the top of the scale (5 − level).

Point in time: every count comes from a `Timeline` read at A (records dated after A never count). The
per-export tables (`PairTables`) are built once per index and cached in it; a request reads them with
array look-ups only. The course's own past effect (its identity, shrunk toward its format) is learned by
the effect estimators (`engine.effects_base`), not here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.constants import LEVEL_MAX, TRAINING_FORMATS
from features.export import Export
from features.pit_index import DAYS_PER_MONTH, PitIndex, Timeline, as_str

SPACING_CAP_MONTHS = 60.0  # "long ago" and "never" are alike for spacing
GAIN_WINDOW_DAYS = 2 * 365  # an own past gain: the first assessment at most two years after the course
FORMAT_FEATURES: tuple[str, ...] = tuple(f"course_format_{f}" for f in TRAINING_FORMATS)
COURSE_PAIR_FEATURES: tuple[str, ...] = ("course_family_share", "course_required_share") + FORMAT_FEATURES
HISTORY_PAIR_FEATURES: tuple[str, ...] = (
    "distance_to_top", "months_since_targeted", "never_targeted", "abandon_rate", "n_completed",
    "own_past_gain", "n_own_gains",
)
PAIR_FEATURES: tuple[str, ...] = COURSE_PAIR_FEATURES + HISTORY_PAIR_FEATURES
# Not features: the row's primary course (its first course targeting the competency) and its format, which
# the effect estimators use for the course's shrunk target encoding.
COURSE_KEY_COLUMNS: tuple[str, ...] = ("course_id", "course_format")


@dataclass
class PairTables:
    """Per-export tables of the pair features (`PairTables.of(index, export)` caches them in the index)."""

    formats: np.ndarray  # by training position: code in TRAINING_FORMATS (-1: unknown)
    family_code: np.ndarray  # by employee code: job family code
    n_families: int
    family_done: Timeline  # completions per (training position × n_families + family)
    course_done: Timeline  # completions per training position
    required_share: np.ndarray  # [position code of the employee, training position]
    position_code: np.ndarray  # by employee code
    own_gains: Timeline  # per employee: gain after each earlier targeted completion, dated at its later assessment
    aimed: np.ndarray  # [training position, competency code]: the course targets the competency

    @classmethod
    def of(cls, index: PitIndex, export: Export) -> PairTables:
        """The tables of `index` (built on first use and kept in the index)."""
        return index._derived("pair_tables", lambda: cls.build(index, export))

    @classmethod
    def build(cls, index: PitIndex, export: Export) -> PairTables:
        n_train, n_comp = len(index.trainings), index.n_competencies
        cat = export["trainings"].assign(training_id=lambda d: as_str(d["training_id"]))
        fmt = cat.drop_duplicates("training_id").set_index("training_id")["format"].reindex(index.trainings.index)
        formats = pd.Index(TRAINING_FORMATS).get_indexer(fmt.astype("str")).astype(np.int64)
        emp = index.employees
        families = pd.Index(sorted(set(emp["job_family"].dropna().astype(str))))
        family_code = np.maximum(families.get_indexer(emp["job_family"].astype("str")), 0).astype(np.int64)
        n_fam = max(len(families), 1)
        # Completions by training position (the `completed` timeline's events, in its order).
        done = index.completed
        t_pos = index.trainings.index.get_indexer(pd.Index(index.completed_ids, dtype="str")).astype(np.int64)
        ok = t_pos >= 0
        fam = family_code[done.groups[ok]]
        family_done = Timeline.build(t_pos[ok] * n_fam + fam, done.days[ok], n=np.ones(int(ok.sum())))
        course_done = Timeline.build(t_pos[ok], done.days[ok], n=np.ones(int(ok.sum())))
        # Which of a course's targets the employee's position requires.
        aimed = np.zeros((n_train, n_comp), dtype=bool)
        tp = index.trainings.index.get_indexer(index.targets["training_id"])
        aimed[tp[tp >= 0], index.targets["comp_code"].to_numpy()[tp >= 0]] = True
        positions = pd.Index(sorted(set(emp["position_id"].astype(str))))
        position_code = positions.get_indexer(emp["position_id"].astype("str")).astype(np.int64)
        std = index.standards
        p_code = positions.get_indexer(std.index.get_level_values(0).astype("str"))
        c_code = index.competencies.index.get_indexer(std.index.get_level_values(1).astype("str"))
        required = np.zeros((max(len(positions), 1), n_comp))
        known = (p_code >= 0) & (c_code >= 0)
        required[p_code[known], c_code[known]] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            share = (required @ aimed.T.astype(np.float64)) / aimed.sum(axis=1)[None, :]
        return cls(formats, family_code, n_fam, family_done, course_done, share, position_code,
                   _own_gains(index), aimed)


def _own_gains(index: PitIndex) -> Timeline:
    """Per employee: for each completed course targeting a competency, the change from the last assessment
    on or before its completion to the next one (within GAIN_WINDOW_DAYS), dated on that next one."""
    t, d = index.targeted, index.daily
    if len(t.keys) == 0 or len(d.keys) == 0:
        return Timeline.build(np.zeros(0), np.zeros(0), gain=np.zeros(0), n=np.zeros(0))
    after = d.position(t.groups, t.days)
    before = after - 1
    n_daily = len(d.keys)
    a, b = np.minimum(after, n_daily - 1), np.maximum(before, 0)
    ok = (after < n_daily) & (before >= 0) & (d.groups[a] == t.groups) & (d.groups[b] == t.groups)
    ok &= d.days[a] - t.days <= GAIN_WINDOW_DAYS
    gain = d.values["level"][a] - d.values["level"][b]
    employee = t.groups // index.n_competencies
    return Timeline.build(employee[ok], d.days[a][ok], gain=gain[ok], n=np.ones(int(ok.sum())))


def history_pair_features(tables: PairTables, index: PitIndex, nip_code: np.ndarray, comp_code: np.ndarray,
                          as_of: np.ndarray, current_level: np.ndarray) -> dict[str, np.ndarray]:
    """HISTORY_PAIR_FEATURES of (employee, competency) rows as of their day numbers `as_of`."""
    pair = nip_code * index.n_competencies + comp_code
    last = index.targeted.last(pair, as_of)
    days = index.targeted.days
    since = np.where(last >= 0, (as_of - days[np.maximum(last, 0)] if len(days) else 0) / DAYS_PER_MONTH,
                     SPACING_CAP_MONTHS)
    completed = index.completed.upto("n", nip_code, as_of)
    abandoned = index.abandoned.upto("n", nip_code, as_of)
    gains, n_gains = tables.own_gains.upto("gain", nip_code, as_of), tables.own_gains.upto("n", nip_code, as_of)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(completed + abandoned > 0, abandoned / (completed + abandoned), np.nan)
        own = np.where(n_gains > 0, gains / n_gains, np.nan)
    return {
        "distance_to_top": LEVEL_MAX - np.asarray(current_level, dtype=np.float64),
        "months_since_targeted": np.minimum(since, SPACING_CAP_MONTHS),
        "never_targeted": (last < 0).astype(np.float64),
        "abandon_rate": rate,
        "n_completed": completed,
        "own_past_gain": own,
        "n_own_gains": n_gains,
    }


def course_pair_values(tables: PairTables, nip_code: np.ndarray, as_of: np.ndarray, position: np.ndarray
                       ) -> dict[str, np.ndarray]:
    """COURSE_PAIR_FEATURES of (employee, course) entries: the course at catalogue `position`."""
    fam = tables.family_code[nip_code]
    in_family = tables.family_done.upto("n", position * tables.n_families + fam, as_of)
    total = tables.course_done.upto("n", position, as_of)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        out["course_family_share"] = np.where(total > 0, in_family / np.maximum(total, 1.0), np.nan)
    pc = tables.position_code[nip_code]
    out["course_required_share"] = np.where(pc >= 0, tables.required_share[np.maximum(pc, 0), position], np.nan)
    fmt = tables.formats[position]
    for k, name in enumerate(FORMAT_FEATURES):
        out[name] = (fmt == k).astype(np.float64)
    return out


def course_pair_features(tables: PairTables, index: PitIndex, nip_code: np.ndarray, comp_code: np.ndarray,
                         as_of: np.ndarray, plans: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """COURSE_PAIR_FEATURES per row: the mean over the row's plan courses that target its competency (NaN
    when none does), and COURSE_KEY_COLUMNS of its first such course ("" when none)."""
    n = len(plans)
    lengths = np.fromiter((len(p) for p in plans), dtype=np.int64, count=n)
    out: dict[str, np.ndarray] = {name: np.full(n, np.nan) for name in COURSE_PAIR_FEATURES}
    out["course_id"] = np.full(n, "", dtype=object)
    out["course_format"] = np.full(n, "", dtype=object)
    if lengths.sum() == 0:
        return out
    row = np.repeat(np.arange(n), lengths)
    ids = pd.Index(list(itertools.chain.from_iterable(plans)), dtype="str")
    position = index.trainings.index.get_indexer(ids).astype(np.int64)
    hit = (position >= 0) & tables.aimed[np.maximum(position, 0), comp_code[row]]
    r, p = row[hit], position[hit]
    if not len(r):
        return out
    values = course_pair_values(tables, nip_code[r], as_of[r], p)
    count = np.bincount(r, minlength=n).astype(np.float64)
    for name in COURSE_PAIR_FEATURES:
        v = values[name]
        seen = ~np.isnan(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(r[seen], weights=v[seen], minlength=n) / np.bincount(r[seen], minlength=n)
        out[name] = np.where(count > 0, mean, np.nan)
    first = np.unique(r, return_index=True)
    out["course_id"][first[0]] = index.trainings.index.to_numpy()[p[first[1]]]
    fmt = tables.formats[p[first[1]]]
    out["course_format"][first[0]] = np.where(fmt >= 0, np.asarray(TRAINING_FORMATS, dtype=object)[
        np.maximum(fmt, 0)], "")
    return out


def with_pair_features(features: pd.DataFrame, tables: PairTables, index: PitIndex, nip_code: np.ndarray,
                       as_of: np.ndarray, plans: Sequence[Sequence[str]]) -> pd.DataFrame:
    """`features` (rows of `build_features`) with PAIR_FEATURES and COURSE_KEY_COLUMNS of `plans`, the rows'
    employees `nip_code` and as-of day numbers `as_of` (a new frame)."""
    comp_code = index.competencies.index.get_indexer(features["competency_id"].astype("str")).astype(np.int64)
    current = features["current_level"].to_numpy(np.float64)
    out = features.copy()
    values = history_pair_features(tables, index, nip_code, comp_code, as_of, current)
    values.update(course_pair_features(tables, index, nip_code, comp_code, as_of, plans))
    for name, v in values.items():
        out[name] = v
    return out
