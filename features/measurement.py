"""A measurement model of assessed levels: each method's bias and noise, and a level that drifts over time.

DECISIONS.md "Measurement error": an assessed level is the true level plus the method's bias and noise, so
the current level is estimated from *all* of a person's assessments, not the latest single score.

Model (per employee × competency, time in months):
- true level x(t): a random walk, x(t + g) = x(t) + w, Var(w) = `drift_var_` · g, starting from the
  population prior N(`prior_mean` of the position type × competency, `prior_var_`);
- an assessment on day t by method m: y = x(t) + u(t) + b_m + e, with e ~ N(0, `noise_var_[m]`) and u(t) a
  day-level deviation shared by that day's assessments (`transient_var_`: the short-lived part of the level,
  independent between assessment days);
- same-day assessments are pooled first (precision-weighted, debiased), then a local-level Kalman filter
  runs over the days. Filtering is causal, so the filtered state after each assessment day depends on that
  day and earlier ones only: a query as of A takes the last day on or before A and adds the drift since
  (point in time by construction).

Fitting (`MeasurementModel.fit(index, as_of)`, assessments on or before `as_of` only):
- biases, relative to assessment_center (or the method mix when it is too rare), from same-person
  same-competency pairs of different methods within `window_days`: least squares on the differences, with a
  ridge toward no bias (`bias_prior_pairs` pseudo-pairs);
- noise variances from the squared residuals of the same pairs (same-method repeats inside the window
  count twice for their method), shrunk toward the pooled variance (`var_prior_pairs` pseudo-pairs), floored;
- transient and drift variances from consecutive assessment days farther apart: the variance of the pooled
  differences (mean change per gap bin removed) minus their measurement variance, regressed on the gap;
- the prior: the mean debiased latest level per position type × competency, shrunk toward the competency
  mean, and the between-person variance;
- for a competency never assessed (as of the query), the prior moves by `person_slope_` × the person's mean
  deviation from the prior in the competencies they were assessed in (general ability; the slope is the
  regression of one competency's deviation on the mean of the person's others), with `person_var_`.
Parameters are global (like model weights); the per-person estimate is point in time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.constants import ASSESSMENT_METHODS, LEVEL_MAX, LEVEL_MIN
from features.pit_index import DAYS_PER_MONTH, PitIndex, Timeline, day_of

N_METHODS = len(ASSESSMENT_METHODS) + 1  # the contract's methods in trust order, then "another method"
REFERENCE = 0  # assessment_center: the unbiased measurement a prediction is of
_SPAN = 1 << 18  # keys are pair * span + day (as in pit_index)
_MAX_LAG = 4  # pairs (i, i + lag) inside a pair's sorted rows: up to four methods on one day
_GAP_BINS = 12


@dataclass(eq=False)
class MeasurementModel:
    """Method biases and noise, drift of the true level, population prior; sklearn-style: parameters in
    `__init__` fields, learned attributes end in `_` (set by `fit`)."""

    window_days: int = 30  # pairs of assessments this close measure the same level
    max_gap_months: float = 36.0  # longest gap of consecutive assessments used to learn the drift
    bias_prior_pairs: float = 10.0  # ridge toward no bias, in pseudo-pairs
    var_prior_pairs: float = 20.0  # shrinkage of each method's variance toward the pooled one
    prior_pairs: float = 20.0  # shrinkage of a position type's mean toward the competency mean
    min_noise_var: float = 0.01  # floors: sd 0.1 for a method, 0.01 level/√month for the drift
    min_drift_var: float = 1e-4
    min_prior_var: float = 0.04
    default_noise_var: float = 0.35 ** 2  # with no pairs at all
    default_drift_var: float = 0.003
    # Learned.
    bias_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    noise_var_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    transient_var_: float = 0.0
    drift_var_: float = 0.0
    prior_var_: float = 0.0
    person_slope_: float = 0.0  # never-assessed: prior + slope × the person's mean deviation elsewhere …
    person_var_: float = 0.0  # … with this variance
    prior_group_: dict[tuple[str, str], float] = field(default_factory=dict)
    prior_competency_: dict[str, float] = field(default_factory=dict)
    prior_global_: float = 3.0
    n_pairs_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reference_: str = ""
    fit_as_of_: str = ""

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, index: PitIndex, as_of: date | None = None) -> MeasurementModel:
        """Learn the parameters from the index's assessments on or before `as_of` (default: export date)."""
        a = _assessments(index)
        cutoff = day_of(as_of or index.exported_on)
        keep = a["day"] <= cutoff
        pair, day, level, method = (a[k][keep] for k in ("pair", "day", "level", "method"))
        self._fit_pairs(pair, day, level, method)
        clusters = _clusters(pair, day, level, method, self.bias_, self.noise_var_)
        self._fit_prior(index, clusters)
        self.fit_as_of_ = str(as_of or index.exported_on)
        return self

    def _fit_pairs(self, pair: np.ndarray, day: np.ndarray, level: np.ndarray, method: np.ndarray) -> None:
        """Biases, noise, transient and drift variances jointly from pairs of the same employee ×
        competency: every pair within `window_days` (same day or close: the level has not moved) and
        consecutive assessments up to `max_gap_months` apart (their mean change per gap bin is a free
        term, their variance grows with the gap). Two rounds of weighted least squares."""
        lhs, rhs = _pairs(pair, day, self.window_days, self.max_gap_months)
        n = len(lhs)
        gap = (day[rhs] - day[lhs]) / DAYS_PER_MONTH
        far = (day[rhs] - day[lhs]) > self.window_days
        rows = np.arange(n)
        design = np.zeros((n, N_METHODS))  # difference = b[m_hi] − b[m_lo] + mean change of its gap bin
        np.add.at(design, (rows, method[rhs]), 1.0)
        np.add.at(design, (rows, method[lhs]), -1.0)
        count = np.zeros((n, N_METHODS))  # variance = s[m_hi] + s[m_lo] (+ 2 τ² + q · gap when far)
        np.add.at(count, (rows, method[rhs]), 1.0)
        np.add.at(count, (rows, method[lhs]), 1.0)
        diff = level[rhs] - level[lhs]
        edges = np.unique(np.quantile(gap[far], np.linspace(0, 1, _GAP_BINS + 1))) if far.any() else np.zeros(1)
        gap_bin = np.where(far, np.clip(np.searchsorted(edges, gap, side="right"), 1, max(len(edges) - 1, 1)), 0)
        bins = np.zeros((n, max(len(edges) - 1, 1)))
        bins[far, gap_bin[far] - 1] = 1.0
        var_design = np.c_[count, far, gap * far]
        self.n_pairs_ = count[~far].sum(axis=0)
        uses_reference = (count[~far & design.any(axis=1), REFERENCE] > 0).sum()
        self.reference_ = ASSESSMENT_METHODS[REFERENCE] if uses_reference >= self.bias_prior_pairs else "mix"
        short = ~far
        pooled = (max(float(np.mean(diff[short] ** 2)) / 2.0, self.min_noise_var)
                  if short.sum() >= self.var_prior_pairs else self.default_noise_var)
        phi = np.r_[np.full(N_METHODS, pooled), 0.0, self.default_drift_var]
        bias = np.zeros(N_METHODS)
        for _ in range(2):  # weights from the previous round's variances
            v = np.maximum(var_design @ phi, 1e-4)
            bias, trend = self._solve_bias(design, bins, diff, 1.0 / v, count)
            resid2 = (diff - design @ bias - bins @ trend) ** 2
            phi = self._solve_variances(var_design, resid2, 1.0 / v ** 2, pooled)
        self.bias_ = bias
        self.noise_var_ = np.maximum(phi[:N_METHODS], self.min_noise_var)
        self.transient_var_ = float(max(phi[N_METHODS] / 2.0, 0.0))
        self.drift_var_ = float(max(phi[N_METHODS + 1], self.min_drift_var))

    def _solve_bias(self, design: np.ndarray, bins: np.ndarray, diff: np.ndarray, w: np.ndarray,
                    count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted least squares with a ridge toward no bias; the reference method fixed at 0 (or the
        usage-weighted mix at 0). Returns (biases, mean change per gap bin)."""
        pooled_w = float(np.median(w)) if len(w) else 1.0
        free = np.arange(N_METHODS) != REFERENCE if self.reference_ != "mix" else np.ones(N_METHODS, bool)
        x = np.c_[design[:, free], bins]
        k = int(free.sum())
        ridge = np.r_[np.full(k, self.bias_prior_pairs * pooled_w), np.full(bins.shape[1], 1e-6)]
        gram = x.T @ (x * w[:, None]) + np.diag(ridge)
        theta = np.linalg.solve(gram, x.T @ (w * diff))
        bias = np.zeros(N_METHODS)
        bias[free] = theta[:k]
        if self.reference_ == "mix":
            usage = count.sum(axis=0)
            bias -= (usage @ bias) / max(usage.sum(), 1.0)
        return bias, theta[k:]

    def _solve_variances(self, x: np.ndarray, resid2: np.ndarray, w: np.ndarray, pooled: float) -> np.ndarray:
        """Method variances, 2 τ² and q from squared residuals; method variances shrunk toward `pooled`
        by `var_prior_pairs` pseudo-pairs (scaled to the weights), the others barely."""
        if len(resid2) == 0:
            return np.r_[np.full(N_METHODS, self.default_noise_var), 0.0, self.default_drift_var]
        scale = float(np.median(w))
        ridge = np.r_[np.full(N_METHODS, self.var_prior_pairs * scale), 1e-6 * scale, 1e-6 * scale]
        target = np.r_[np.full(N_METHODS, pooled), 0.0, 0.0]
        gram = x.T @ (x * w[:, None]) + np.diag(ridge)
        phi = np.linalg.solve(gram, x.T @ (w * resid2) + ridge * target)
        return np.maximum(phi, np.r_[np.full(N_METHODS, self.min_noise_var), 0.0, self.min_drift_var])

    def _fit_prior(self, index: PitIndex, c: dict[str, np.ndarray]) -> None:
        """Mean debiased latest level per position type × competency (shrunk), between-person variance."""
        last = np.r_[c["pair"][1:] != c["pair"][:-1], True] if len(c["pair"]) else np.zeros(0, bool)
        pair, z, r = c["pair"][last], c["z"][last], c["r"][last]
        n_comp = index.n_competencies
        comp_ids = index.competencies.index.to_numpy().astype(str)
        ptypes = index.employees["position_type"].astype("str").to_numpy()
        frame = pd.DataFrame({"comp": comp_ids[pair % n_comp], "ptype": ptypes[pair // n_comp], "z": z})
        if frame.empty:
            self.prior_global_, self.prior_var_ = (LEVEL_MIN + LEVEL_MAX) / 2, 1.0
            self.prior_competency_, self.prior_group_ = {}, {}
            return
        self.prior_global_ = float(frame["z"].mean())
        comp = frame.groupby("comp")["z"].agg(["sum", "count"])
        k = self.prior_pairs
        comp_mean = (comp["sum"] + k * self.prior_global_) / (comp["count"] + k)
        self.prior_competency_ = {str(i): float(v) for i, v in comp_mean.items()}
        group = frame.groupby(["ptype", "comp"])["z"].agg(["sum", "count"])
        parent = comp_mean.reindex(group.index.get_level_values("comp")).to_numpy()
        group_mean = (group["sum"].to_numpy() + k * parent) / (group["count"].to_numpy() + k)
        self.prior_group_ = {(str(p), str(q)): float(v) for (p, q), v in zip(group.index, group_mean,
                                                                            strict=True)}
        centre = np.array([self.prior_group_[(p, q)] for p, q in zip(frame["ptype"], frame["comp"],
                                                                     strict=True)])
        dev = frame["z"].to_numpy() - centre
        self.prior_var_ = float(max(np.mean(dev ** 2) - np.mean(r), self.min_prior_var))
        # A person's deviation in one competency from the mean deviation in their others (leave one out):
        # general ability, used for the competencies never assessed.
        person = pair // n_comp
        total, count = np.bincount(person, weights=dev)[person], np.bincount(person)[person].astype(np.float64)
        many = count >= 2
        others = (total[many] - dev[many]) / (count[many] - 1)
        if many.sum() >= 20 and float(others @ others) > 0:
            self.person_slope_ = float(np.clip((dev[many] @ others) / (others @ others), 0.0, 1.0))
            resid = dev[many] - self.person_slope_ * others
            self.person_var_ = float(max(np.mean(resid ** 2) - np.mean(r[many]), self.min_prior_var))
        else:
            self.person_slope_, self.person_var_ = 0.0, self.prior_var_

    # -- estimates ---------------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """A key of the learned parameters (the per-index cache of filtered states is keyed by it)."""
        group = np.fromiter(self.prior_group_.values(), np.float64, len(self.prior_group_))
        parts = [self.bias_, self.noise_var_, np.array([self.transient_var_, self.drift_var_, self.prior_var_,
                                                        self.person_slope_, self.person_var_,
                                                        self.prior_global_, len(group), group.sum(),
                                                        group @ np.arange(len(group))])]
        return hashlib.sha1(b"".join(np.asarray(p, np.float64).tobytes() for p in parts)).hexdigest()[:16]

    def prior_of(self, index: PitIndex) -> np.ndarray:
        """Prior mean per (employee code × n_competencies + competency code): position type × competency,
        else the competency, else the global mean."""
        def build() -> np.ndarray:
            comp_ids = index.competencies.index.to_numpy().astype(str)
            comp_mean = np.array([self.prior_competency_.get(c, self.prior_global_) for c in comp_ids])
            ptypes = pd.Index(index.employees["position_type"].astype("str").unique())
            table = np.array([[self.prior_group_.get((p, c), m) for c, m in zip(comp_ids, comp_mean, strict=True)]
                              for p in ptypes]).reshape(len(ptypes), len(comp_ids))
            code = ptypes.get_indexer(index.employees["position_type"].astype("str"))
            return table[code].ravel()

        return index._derived(f"measurement_prior:{self.fingerprint}", build)

    def states(self, index: PitIndex) -> dict[str, Any]:
        """Filtered (mean, variance) after every assessment day of the index, sorted by (pair, day); built
        once per index and parameters."""
        def build() -> dict[str, Any]:
            a = _assessments(index)
            c = _clusters(a["pair"], a["day"], a["level"], a["method"], self.bias_, self.noise_var_)
            c["r"] = c["r"] + self.transient_var_
            prior = self.prior_of(index)
            mean, var = _filter(c, prior[c["pair"]], self.prior_var_, self.drift_var_)
            # Running sum and count, per employee, of the latest deviation from the prior per competency.
            dev = mean - prior[c["pair"]]
            first = np.r_[True, c["pair"][1:] != c["pair"][:-1]] if len(dev) else np.zeros(0, bool)
            delta = dev - np.where(first, 0.0, np.r_[0.0, dev[:-1]])
            person = Timeline.build(c["pair"] // index.n_competencies, c["day"], sum=delta,
                                    cnt=first.astype(np.float64))
            return {"keys": c["pair"] * _SPAN + c["day"], "pair": c["pair"], "day": c["day"], "mean": mean,
                    "var": var, "person": person}

        return index._derived(f"measurement_states:{self.fingerprint}", build)

    def estimate(self, index: PitIndex, pair: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and sd of the true level (assessment-centre scale) of each (pair, day): pair =
        employee code × n_competencies + competency code, day = `pit_index` day number."""
        s = self.states(index)
        pair = np.asarray(pair, dtype=np.int64)
        days = np.asarray(days, dtype=np.int64)
        prior = self.prior_of(index)[pair]
        if len(s["keys"]) == 0:
            return prior, np.full(len(pair), np.sqrt(self.prior_var_))
        i = np.searchsorted(s["keys"], pair * _SPAN + days, side="right") - 1
        j = np.maximum(i, 0)
        found = (i >= 0) & (s["pair"][j] == pair)
        elapsed = np.maximum(days - s["day"][j], 0) / DAYS_PER_MONTH
        # Never assessed (as of the day): the prior moved by the person's deviation in other competencies.
        person: Timeline = s["person"]
        employee = pair // index.n_competencies
        total, count = person.upto("sum", employee, days), person.upto("cnt", employee, days)
        elsewhere = count > 0.5
        shifted = prior + np.where(elsewhere, self.person_slope_ * total / np.maximum(count, 1.0), 0.0)
        mean = np.where(found, s["mean"][j], shifted)
        var = np.where(found, s["var"][j] + self.drift_var_ * elapsed,
                       np.where(elsewhere, self.person_var_, self.prior_var_))
        return mean, np.sqrt(var)

    def summary(self) -> dict[str, Any]:
        """The learned parameters, by method name (reports, tests)."""
        names = (*ASSESSMENT_METHODS, "lainnya")
        return {"reference": self.reference_, "bias": dict(zip(names, self.bias_.round(4).tolist(), strict=True)),
                "noise_sd": dict(zip(names, np.sqrt(self.noise_var_).round(4).tolist(), strict=True)),
                "pairs": dict(zip(names, self.n_pairs_.astype(int).tolist(), strict=True)),
                "transient_sd": round(float(np.sqrt(self.transient_var_)), 4),
                "drift_sd_per_month": round(float(np.sqrt(self.drift_var_)), 4),
                "prior_sd": round(float(np.sqrt(self.prior_var_)), 4),
                "person_slope": round(self.person_slope_, 4), "person_sd": round(float(np.sqrt(self.person_var_)), 4)}


def measurement_model(index: PitIndex, as_of: date | None = None) -> MeasurementModel:
    """The index's own measurement model, fitted on its assessments up to `as_of` (default: the export
    date), cached per date: what `build_features` uses when it is given none, fitted as of its latest
    query so that no parameter learns from records after the queries' dates."""
    cutoff = as_of or index.exported_on
    return index._derived(f"measurement_model:{cutoff.isoformat()}", lambda: MeasurementModel().fit(index, cutoff))


# ---------------------------------------------------------------------------------------------------
# Array helpers
# ---------------------------------------------------------------------------------------------------
def _assessments(index: PitIndex) -> dict[str, np.ndarray]:
    """Every assessment as arrays in the index's order (pair, day, trust): pair, day, level, method code."""
    def build() -> dict[str, np.ndarray]:
        a = index.assessments
        pair = a["nip_code"].to_numpy(np.int64) * index.n_competencies + a["comp_code"].to_numpy(np.int64)
        return {"pair": pair, "day": a["day"].to_numpy(np.int64), "level": a["level"].to_numpy(np.float64),
                "method": np.minimum(a["trust"].to_numpy(np.int64), N_METHODS - 1)}

    return index._derived("measurement_assessments", build)


def _pairs(pair: np.ndarray, day: np.ndarray, window_days: int, max_gap_months: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (i, j), i < j, of the same employee × competency: every pair at most `window_days` apart,
    and consecutive rows (j = i + 1) up to `max_gap_months` apart."""
    lhs, rhs = [], []
    for lag in range(1, _MAX_LAG + 1):
        i = np.arange(max(len(pair) - lag, 0))
        apart = day[i + lag] - day[i]
        ok = (pair[i + lag] == pair[i]) & ((apart <= window_days)
                                           | ((lag == 1) & (apart <= max_gap_months * DAYS_PER_MONTH)))
        lhs.append(i[ok])
        rhs.append(i[ok] + lag)
    return np.concatenate(lhs), np.concatenate(rhs)


def _clusters(pair: np.ndarray, day: np.ndarray, level: np.ndarray, method: np.ndarray, bias: np.ndarray,
              noise_var: np.ndarray) -> dict[str, np.ndarray]:
    """Same-day assessments pooled: debiased precision-weighted level z and its variance r, per (pair, day)."""
    if len(pair) == 0:
        empty = np.zeros(0)
        return {"pair": empty.astype(np.int64), "day": empty.astype(np.int64), "z": empty, "r": empty}
    start = np.r_[True, (pair[1:] != pair[:-1]) | (day[1:] != day[:-1])]
    group = np.cumsum(start) - 1
    w = 1.0 / noise_var[method]
    wsum = np.bincount(group, weights=w)
    z = np.bincount(group, weights=w * (level - bias[method])) / wsum
    return {"pair": pair[start], "day": day[start], "z": z, "r": 1.0 / wsum}


def _filter(c: dict[str, np.ndarray], prior_mean: np.ndarray, prior_var: float, drift_var: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Local-level Kalman filter over each pair's assessment days (rows sorted by pair, day), vectorised
    across pairs: step k updates every pair's k-th day from its (k−1)-th."""
    n = len(c["pair"])
    if n == 0:
        return np.zeros(0), np.zeros(0)
    first = np.r_[True, c["pair"][1:] != c["pair"][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.arange(n) - start
    mean, var = np.empty(n), np.empty(n)
    order = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[order], np.arange(rank.max() + 2))
    for k in range(rank.max() + 1):
        rows = order[bounds[k]:bounds[k + 1]]
        if k == 0:
            m, p = prior_mean[rows], np.full(len(rows), prior_var)
        else:
            gap = (c["day"][rows] - c["day"][rows - 1]) / DAYS_PER_MONTH
            m, p = mean[rows - 1], var[rows - 1] + drift_var * gap
        gain = p / (p + c["r"][rows])
        mean[rows] = m + gain * (c["z"][rows] - m)
        var[rows] = (1.0 - gain) * p
    return mean, var
