"""Recommendations: the expected gain of every eligible (employee, training) pair, ranked per employee,
with what each training closes, its interval, reasons and the comparable past participants' evidence; and
the planner's candidates and the batch files (`score`) built on the same pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from engine import explain as words
from engine.core import PredictorCore, Progress, _num, _t
from engine.effects_base import MODERATOR_FEATURES, PRIOR_FEATURE, EffectLearnerBase
from engine.results import (
    EmployeeRecommendations,
    EngineError,
    GapClosed,
    Recommendation,
    TrainingEvidence,
)
from engine.snapshot import Catalogue, Context, PairRows
from features.constants import (
    ACTIVE_STATUS,
    CANDIDATE_COLUMNS,
    DEFAULT_HORIZON_MONTHS,
    GAPS_COLUMNS,
    JP_RIGHT_PER_YEAR,
    LEVEL_MAX,
    LEVEL_MIN,
    RECOMMENDATIONS_COLUMNS,
    TRAINING_FORMATS,
)
from features.eligibility import level_band
from features.export import Export
from features.pair_features import PAIR_FEATURES, course_pair_values, history_pair_features
from features.pit import PitIndex, plan_features
from features.pit_index import day_of

CHUNK_EMPLOYEES = 1000  # batch scoring works on this many employees at a time (bounded memory)
Z80 = 1.2815515655446004  # the standard normal's 90% quantile: an 80% interval spans ±Z80 standard deviations
PAIR_COLUMNS = (
    "nip", "training_id", "expected_gain", "lower", "upper", "cost_idr", "hours_jp", "competency_ids",
    "primary_competency", "participants", "mean_observed_change", "thin_evidence", "total_gap_before",
    "non_participants", "mean_change_non_participants", "mean_change_participants", "point_gain",
)
# The columns of a ranked pair that a recommendation shows (with its interval and what it closes).
_SHOWN_PAIR_COLUMNS = ("nip", "training_id", "rank", "expected_gain", "cost_idr", "hours_jp", "primary_competency",
                       "participants", "mean_observed_change", "thin_evidence", "non_participants",
                       "mean_change_non_participants", "mean_change_participants", "point_gain")


def _rupiah(x: float, lang: str) -> str:
    whole = f"{int(round(x)):,}"
    return f"IDR {whole}" if lang == "en" else "Rp " + whole.replace(",", ".")


def _rounded(x: Any) -> float | None:
    """An evidence number as the answer holds it: None when missing, else rounded to 6 decimals."""
    return None if pd.isna(x) else round(float(x), 6)


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _expected_shortfall(deficit: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """E[max(0, deficit + sd·Z)] for a standard normal Z (the deficit itself where sd is 0)."""
    safe = np.where(sd > 0, sd, 1.0)
    z = deficit / safe
    spread = deficit * ndtr(z) + safe * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    return np.where(sd > 0, spread, np.maximum(deficit, 0.0))


def _expected_gap(required: np.ndarray, level: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """E[max(0, required − clip(L, 1, 5))] for a true level L ~ N(level, sd²): the gap in expectation over
    the uncertainty of the level. The scale's floor is exact (a standard of 1 has no gap, however uncertain
    the level): max(0, r − clip(L)) = max(0, r − L) − max(0, 1 − L) for 1 ≤ r ≤ 5. With sd = 0 it is the
    point gap max(0, required − level)."""
    return _expected_shortfall(required - level, sd) - _expected_shortfall(LEVEL_MIN - level, sd)


def _gap_closed(required: np.ndarray, level: np.ndarray, sd: np.ndarray, effect: np.ndarray) -> np.ndarray:
    """The gap an effect closes in expectation over the uncertainty `sd` of the level: E[gap before] −
    E[gap after] (INTERFACES.md "expected gain", with the expectation also over what we do not know of the
    employee's level). Where the level is certain, or far below the standard, it is the point figure; for a
    competency predicted just above its standard it is above 0, since a gap may well be there; for one
    predicted just below it, a little less than the point figure."""
    return _expected_gap(required, level, sd) - _expected_gap(required, level + effect, sd)


def _uncertain_gap_reason(gain: float, lang: str) -> str:
    """Why a training that closes no gap at the point levels is listed: a level near the standard."""
    return _t(lang, "Level yang diperkirakan hanya sedikit di atas standar dan belum pasti: kesenjangan mungkin "
                    f"masih ada, dan dengan ketidakpastian itu pelatihan ini diperkirakan menutup {_num(gain, lang)} "
                    "level.",
              "The predicted level is only just above the standard and uncertain: a gap may remain, and with "
              f"that uncertainty counted this training is expected to close {_num(gain, lang)} levels.")


class RecommendMixin(PredictorCore):
    """`pair_gains`, `rank_pairs`, `recommend`, `recommend_many`, `candidates` and `score` of `Predictor`."""

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

    def _pair_gains(self, export: Export, ctx: Context, queries: pd.DataFrame, nips: Sequence[str] | None,
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

    def _pair_rows(self, ctx: Context, levels: pd.DataFrame, base_x: pd.DataFrame,
                   nips: Sequence[str] | None, as_of: date) -> PairRows:
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
        q_nip_code = index.nips.get_indexer(pd.Index(q_nip, dtype="str")).astype(np.int64)
        effect_rows = self._effect_rows(ctx, base_x, q_row, pair_pos[row_pair], comp, q_nip_code, as_of)
        base_pred = pd.DataFrame({"predicted_level": levels["base_level"].to_numpy(np.float64)[q_row],
                                  "lower": levels["lower"].to_numpy(np.float64)[q_row],
                                  "upper": levels["upper"].to_numpy(np.float64)[q_row]})
        tau, _, _ = self._effect(effect_rows, effect_rows, base_pred, interval=False)
        required = levels["required_level"].to_numpy(np.float64)[q_row]
        base_level = levels["base_level"].to_numpy(np.float64)[q_row]
        before = levels["gap"].to_numpy(np.float64)[q_row]
        point_closes = before - np.maximum(required - np.clip(base_level + tau, LEVEL_MIN, LEVEL_MAX), 0.0)
        # The expected gain counts what we do not know of the level: the posterior spread of the true level
        # from all of the employee's assessments (`features.measurement`; the position type's prior spread
        # when never assessed). A level underestimated by one lenient or noisy score no longer sends a
        # course to a competency the person meets, and one just above the standard still counts.
        level_sd = np.nan_to_num(base_x["level_estimate_sd"].to_numpy(np.float64)[q_row], nan=0.0)
        closes = _gap_closed(required, base_level, level_sd, tau)
        # Evidence of comparable past participants against comparable non-participants (`engine.evidence`):
        # same training, competency and level band.
        band = level_band(base_x["current_level"].to_numpy(np.float64)[q_row])
        evidence = self._evidence(ctx, as_of).lookup(self._evidence_keys(ctx, pair_pos[row_pair], comp, band))
        # Rows by pair, then by the gap they close (largest first), then target order: the first row of a
        # pair is its primary competency.
        order = np.lexsort((np.arange(len(row_pair)), -closes, row_pair))
        gap_before = np.bincount(q_emp, weights=levels["gap"].to_numpy(np.float64), minlength=len(people))
        return PairRows(
            nip=pair_nip, position=pair_pos, training_id=tables.training_ids.to_numpy()[pair_pos],
            cost_idr=tables.cost_idr[pair_pos], hours_jp=tables.hours_jp[pair_pos],
            total_gap_before=np.where(pair_emp >= 0, gap_before[np.maximum(pair_emp, 0)], 0.0),
            row_pair=row_pair, competency_id=index.competencies.index.to_numpy()[comp], q_row=q_row,
            effect_rows=effect_rows, base_pred=base_pred, required=required, base_level=base_level,
            gap_before=before, tau=tau, level_sd=level_sd, closes=closes, point_closes=point_closes,
            participants=evidence["participants"], mean_change=evidence["effect"],
            non_participants=evidence["non_participants"],
            change_non_participants=evidence["change_non_participants"],
            change_participants=evidence["change_participants"], order=order)

    def _effect_rows(self, ctx: Context, base_x: pd.DataFrame, q_row: np.ndarray, position: np.ndarray,
                     comp: np.ndarray, q_nip_code: np.ndarray, as_of: date) -> pd.DataFrame:
        """The effect model's input for rows `q_row` of `base_x`, each with the one training at catalogue
        `position` as its plan (`comp`: the rows' competency codes; `q_nip_code`: the employee code of each
        query row). The meta-learners read their moderators, plan, course and pair features only, so only
        those are copied (the S-learner needs them all). Pair features are array look-ups in the
        snapshot's tables (`features.pair_features`), as of `as_of`: the history ones once per query row."""
        columns = list(base_x.columns)
        if isinstance(self.effect_model, EffectLearnerBase):
            wanted = set(MODERATOR_FEATURES) | {"competency_id", "competency_kind", "current_level"}
            columns = [c for c in columns if c in wanted]
        data: dict[str, Any] = {}
        for c in columns:
            values = base_x[c].to_numpy()[q_row]
            # Text columns stay object arrays: inferring Arrow strings again costs more than the look-ups.
            data[c] = pd.Series(values, dtype=object) if values.dtype == object else values
        ids = ctx.tables.training_ids.to_numpy()
        plans = [(t,) for t in ids[position]]
        current = base_x["current_level"].to_numpy(np.float64)
        data.update(plan_features(ctx.index, comp, current[q_row], plans))
        for column, table in ctx.tables.courses.items():
            data[column] = table[position, comp]
        used = set(getattr(self.effect_model, "effect_features_", ()))
        if not used & (set(PAIR_FEATURES) | {PRIOR_FEATURE}):
            # A model without pair features (the legacy feature set, the S-learner's level model): skip them.
            data["plan"] = plans
            return pd.DataFrame(data)
        day = np.full(len(q_row), day_of(as_of), dtype=np.int64)
        q_comp = ctx.index.competencies.index.get_indexer(base_x["competency_id"].to_numpy(dtype=object))
        history = history_pair_features(ctx.pair_tables, ctx.index, q_nip_code, q_comp.astype(np.int64),
                                        np.full(len(base_x), day_of(as_of), dtype=np.int64), current)
        for column, values in history.items():
            data[column] = values[q_row]
        data.update(course_pair_values(ctx.pair_tables, q_nip_code[q_row], day, position))
        # Every row's training targets its competency: it is the row's course.
        data["course_id"] = pd.Series(ids[position], dtype=object)
        fmt = ctx.pair_tables.formats[position]
        data["course_format"] = pd.Series(np.where(fmt >= 0, np.asarray(TRAINING_FORMATS, dtype=object)[
            np.maximum(fmt, 0)], ""), dtype=object)
        data["plan"] = plans
        return pd.DataFrame(data)

    def _pairs_frame(self, rows: PairRows) -> pd.DataFrame:
        """One row per pair: PAIR_COLUMNS (the interval is the point, lower = 0 on thin evidence) and `pair`.

        `expected_gain` is the gap closed in expectation over the level's uncertainty (`_gap_closed`),
        `point_gain` the gap closed at the point levels (what `closes` and what-if show); `competency_ids`
        the competencies closed at the point levels (a pair that closes a gap only in expectation: its
        primary competency). The primary competency is the one the pair closes most
        in expectation (first in target order on ties); a pair whose training targets none of the employee's
        required competencies has gain 0 and no primary."""
        n = len(rows.nip)
        gain = np.round(np.clip(np.bincount(rows.row_pair, weights=rows.closes, minlength=n), 0.0, None), 6)
        point_gain = np.round(np.clip(np.bincount(rows.row_pair, weights=rows.point_closes, minlength=n), 0.0, None),
                              6)
        primary = np.full(n, -1, dtype=np.int64)
        ordered = rows.order
        if len(ordered):
            pair_of = rows.row_pair[ordered]
            starts = np.r_[True, pair_of[1:] != pair_of[:-1]]
            primary[pair_of[starts]] = ordered[starts]
        has = primary >= 0
        at = np.maximum(primary, 0)
        participants, non_participants = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        mean_change, change_non, change_own = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        competency = np.full(n, None, dtype=object)
        if len(ordered):
            participants = np.where(has, rows.participants[at], 0).astype(np.int64)
            non_participants = np.where(has, rows.non_participants[at], 0).astype(np.int64)
            mean_change = np.where(has, rows.mean_change[at], np.nan)
            change_non = np.where(has, rows.change_non_participants[at], np.nan)
            change_own = np.where(has, rows.change_participants[at], np.nan)
            competency = np.where(has, rows.competency_id[at], np.array(None, dtype=object))
        # Thin evidence: too few comparable records in either group (`engine.evidence`).
        thin = np.minimum(participants, non_participants) < self.thin_participants
        closing: dict[int, list[str]] = {}
        for r in ordered[rows.point_closes[ordered] > 1e-9]:
            closing.setdefault(int(rows.row_pair[r]), []).append(str(rows.competency_id[r]))
        for p in np.flatnonzero(has & (gain > 0)):  # a gain only in expectation: its primary competency
            closing.setdefault(int(p), [str(competency[p])])
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
            "non_participants": non_participants,
            "mean_change_non_participants": change_non,
            "mean_change_participants": change_own,
            "point_gain": point_gain,
            "pair": np.arange(n, dtype=np.int64),
        })

    def _pair_intervals(self, rows: PairRows, pairs: pd.DataFrame, chosen: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the expected gain of the pairs `chosen` (their `pair` numbers; `pairs` holds
        their rows, in the same order): the effect model's interval on each of their rows, turned into gap
        closed and summed per pair like the gain (`_gap_closed`); it always holds the gain, and its lower end
        is 0 on thin evidence."""
        chosen = np.asarray(chosen, dtype=np.int64)
        where = np.full(len(rows.nip), -1, dtype=np.int64)
        where[chosen] = np.arange(len(chosen))
        local = where[rows.row_pair]
        picked = np.flatnonzero(local >= 0)
        _, t_lo, t_hi = self._effect(rows.effect_rows.iloc[picked], rows.effect_rows.iloc[picked],
                                     rows.base_pred.iloc[picked].reset_index(drop=True), interval=True)
        required, base, sd = rows.required[picked], rows.base_level[picked], rows.level_sd[picked]

        def summed(effect: np.ndarray) -> np.ndarray:
            closes = _gap_closed(required, base, sd, effect)
            total = np.bincount(local[picked], weights=closes, minlength=len(chosen))
            return np.round(np.clip(total, 0.0, None), 6)

        gain = pairs["expected_gain"].to_numpy(np.float64)
        thin = pairs["thin_evidence"].to_numpy(bool)
        lower = np.where(thin, 0.0, np.minimum(summed(t_lo), gain))
        upper = np.maximum(summed(t_hi), gain)
        return lower, upper

    @staticmethod
    def _pair_closes(rows: PairRows, chosen: np.ndarray) -> list[list[tuple[str, float, float]]]:
        """Per pair of `chosen`: (competency_id, gap before, gap after) at the point levels of every targeted
        required competency, the one closed most in expectation first."""
        out: dict[int, list[tuple[str, float, float]]] = {int(p): [] for p in chosen}
        for r in rows.order:
            items = out.get(int(rows.row_pair[r]))
            if items is not None:
                before = float(rows.gap_before[r])
                items.append((str(rows.competency_id[r]), before, before - float(rows.point_closes[r])))
        return [out[int(p)] for p in chosen]

    def rank_pairs(self, pairs: pd.DataFrame, *, limit: int | None = 5, max_cost_idr: float | None = None,
                   max_jp: float | None = None) -> pd.DataFrame:
        """The recommended pairs: expected gain > epsilon, within the cost / JP limits, ranked per employee by
        expected gain (ties: lower cost, then training_id), at most `limit` each; adds `rank` (1 = best).

        The expected gain counts the uncertainty of the employee's level (`_gap_closed`), so a course that
        would close a gap the employee may well have is listed even when the point levels meet the standard,
        and an employee clearly above every standard still gets no list."""
        gain = pairs["expected_gain"].to_numpy(np.float64)
        keep = gain > self.gain_epsilon
        if max_cost_idr is not None:
            keep &= pairs["cost_idr"].to_numpy(np.float64) <= max_cost_idr
        if max_jp is not None:
            keep &= pairs["hours_jp"].to_numpy(np.float64) <= max_jp
        kept = np.flatnonzero(keep)
        # Sort codes of the text keys (np.unique sorts), then one stable lexicographic sort.
        nip_code = np.unique(pairs["nip"].to_numpy(dtype=object)[kept].astype(str), return_inverse=True)[1]
        training_code = np.unique(pairs["training_id"].to_numpy(dtype=object)[kept].astype(str),
                                  return_inverse=True)[1]
        order = np.lexsort((training_code, pairs["cost_idr"].to_numpy(np.float64)[kept], -gain[kept], nip_code))
        sorted_nip = nip_code[order]
        new = np.r_[True, sorted_nip[1:] != sorted_nip[:-1]] if len(order) else np.zeros(0, dtype=bool)
        start = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0)) if len(order) else order
        rank = np.arange(len(order)) - start + 1
        shown = rank <= limit if limit is not None else np.ones(len(order), dtype=bool)
        out = pairs.take(kept[order[shown]]).reset_index(drop=True)
        out["rank"] = rank[shown].astype(np.int64)
        return out

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
                if float(r.point_gain) <= self.gain_epsilon:
                    reasons.insert(0, _uncertain_gap_reason(float(r.expected_gain), lang))
                items.append(Recommendation(
                    rank=int(r.rank), training_id=str(r.training_id), title=t["title"],
                    format=t["format"], provider=t["provider"],
                    expected_gain=float(r.expected_gain), lower=float(r.lower), upper=float(r.upper),
                    cost_idr=int(r.cost_idr), hours_jp=int(r.hours_jp), closes=closes,
                    reasons=reasons,
                    evidence=TrainingEvidence(int(r.participants), _rounded(r.mean_observed_change),
                                              int(r.non_participants), _rounded(r.mean_change_non_participants),
                                              _rounded(r.mean_change_participants)),
                    thin_evidence=bool(r.thin_evidence)))
            message = None
            if gap <= self.gain_epsilon and not items:
                message = _t(lang, "Tidak ada kesenjangan kompetensi yang perlu ditutup",
                             "No competency gap to close")
            elif not items:
                message = _t(lang, "Tidak ada pelatihan yang memenuhi syarat yang diperkirakan menutup "
                                   "kesenjangan", "No eligible training is expected to close a gap")
            out.append(EmployeeRecommendations(nip=nip, model_version=self.model_version, as_of=as_of,
                                               horizon_months=int(horizon_months), total_gap=gap, items=items,
                                               message=message))
        return out

    def _reasons(self, r: Any, training: dict[str, str], closes: list[GapClosed], tables: Catalogue,
                 current: dict[tuple[str, str], float], jp_year: float, lang: str) -> list[str]:
        """Why this training: the gaps it closes and whether the employee is in its band, cost and JP, the
        20 JP right, the comparable participants' change against comparable non-participants', and thin
        evidence."""
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
            # Participants against comparable non-participants, never their raw before → after alone.
            reasons.append(words.training_evidence(
                int(r.participants), float(r.mean_observed_change), int(r.non_participants),
                float(r.mean_change_non_participants), float(r.mean_change_participants), primary, lang))
        if r.thin_evidence:
            n = self.thin_participants
            reasons.append(_t(lang, f"Bukti tipis: kurang dari {n} peserta atau non-peserta sebanding "
                                    "sebelumnya, jadi perkiraan ini kurang pasti.",
                              f"Thin evidence: fewer than {n} comparable earlier participants or "
                              "non-participants, so this estimate is uncertain."))
        return reasons

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
