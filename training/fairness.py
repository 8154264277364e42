"""Merit-system fairness audit (UU 5/2014 Ps. 1 angka 22, kept in UU 20/2023) and its promotion checks.

What is compared, per group of sex, age band (< 30, 30–39, 40–49, ≥ 50 whole years as of the as-of
date), employment (PNS/PPPK) and position type:
- the gap model, on the back-test's held-out assessments: the mean signed error (predicted − observed,
  so a negative value means the group's competency is under-predicted) and the mean absolute error;
- recommendations (the top-k list of every active employee): the share of the group with at least one
  recommendation, and the expected gain of the top recommendation per head (0 when none);
- the plan (`optimise_plan` with a reference budget): among employees with a candidate training, the
  share allocated at least one training, and the allocated expected gain per head.
Each outcome is a ratio of sums over employees (Σ numerator / Σ denominator in the group), so an
employee's several test assessments weigh as several rows but move together in the bootstrap. Between
groups that have at least `min_group_size` employees: *difference* = max − min of the group values
(errors) and *ratio* = min / max (rates and gains; 1.0 when no group gets anything). The intervals
(95% by default) are percentile intervals of a Poisson bootstrap over employees, seeded: resampling
employees, not rows, keeps an employee's correlated rows together. The group values are exactly what
Fairlearn's `MetricFrame(...).by_group`, `.difference()` and `.ratio()` give on the same per-employee
table (a test checks it); we compute them directly because Fairlearn's bootstrap resamples rows and took
~26 s per frame here, and this audit runs on every `kompetensi evaluate`.

Privacy (UU 27/2022): sex and birth date are read here only, joined by NIP inside this module (from the
export when it carries them, else from the store's snapshot with the same content hash), turned into
group labels and dropped; nothing below is per employee. The outputs are group-level aggregates with
their group sizes, and nothing here logs.

Promotion gate (`fairness_checks`, thresholds from arguments, else from the `Settings` handed in, i.e.
`KOMPETENSI_FAIRNESS_*`), for sex and age band, the attributes the merit system names and our data holds:
- `KOMPETENSI_FAIRNESS_MIN_RATE_RATIO` = 0.8: the four-fifths rule (US EEOC Uniform Guidelines,
  29 CFR 1607.4(D), the usual screen for adverse impact): every group's recommendation rate, and its
  allocation rate in the plan, is at least 80% of the best-served group's;
- `KOMPETENSI_FAIRNESS_MAX_BIAS_GAP` = 0.15 levels: the between-group spread of the mean signed error.
  0.15 is about a third of the model's back-test MAE (~0.45) and 60% of the assessment centre's own
  measurement noise (sd 0.25): a gap that size is systematic, not noise (the intervals of a 600-person
  export are about ±0.05), and it is large enough to move an employee across a JPM band;
- `KOMPETENSI_FAIRNESS_MIN_GROUP_SIZE` = 30 employees: smaller groups are reported but not compared
  (their rates are too noisy for a four-fifths test, and tiny groups are nearly identifying);
- `KOMPETENSI_FAIRNESS_PLAN_BUDGET_SHARE` = 0.3: the audit's plan gets 30% of the cost of giving every
  employee their top recommendation, so the budget binds (the real annual plan is always short: only
  8.77% of structural officials had leadership training, LAN 2025) and selection can show.
The gate uses the point estimates (as the four-fifths rule does); the intervals are in the report.
Employment and position type are reported, not gated: the law itself makes some trainings PNS-only or
position-specific, so different rates there are expected and need a human reading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from engine.allocation import PlanOptions, optimise_plan
from features.constants import ACTIVE_STATUS, EMPLOYMENTS, POSITION_TYPES, SEXES
from features.export import Export
from features.settings import Settings, get_settings
from features.store import DATA_TABLES, get_engine, snapshot_history
from features.values import finite
from training.gate import GateCheck, run_checks

if TYPE_CHECKING:
    from training.evaluate import Backtest

Progress = Callable[[str], None]

# (label, lowest age, highest age) in whole years as of the as-of date.
AGE_BANDS: tuple[tuple[str, int, int], ...] = (("lt30", 0, 29), ("30_39", 30, 39), ("40_49", 40, 49),
                                               ("ge50", 50, 200))
UNKNOWN_GROUP = "unknown"
ATTRIBUTES: tuple[str, ...] = ("sex", "age_band", "employment", "position_type")
GATED_ATTRIBUTES: tuple[str, ...] = ("sex", "age_band")
GROUP_ORDER: dict[str, tuple[str, ...]] = {
    "sex": SEXES, "age_band": tuple(b[0] for b in AGE_BANDS), "employment": EMPLOYMENTS,
    "position_type": POSITION_TYPES,
}


@dataclass(frozen=True)
class Outcome:
    name: str
    statistic: str  # "difference" (max − min) or "ratio" (min / max) between groups
    short: str  # a chart title
    en: str
    id: str


OUTCOMES: dict[str, Outcome] = {o.name: o for o in (
    Outcome("gap_bias", "difference", "Mean signed error (levels)",
            "gap model: mean signed error, predicted − observed (levels)",
            "model kesenjangan: rata-rata galat bertanda, prediksi − observasi (level)"),
    Outcome("gap_mae", "difference", "Mean absolute error (levels)", "gap model: mean absolute error (levels)",
            "model kesenjangan: rata-rata galat absolut (level)"),
    Outcome("rec_rate", "ratio", "Recommendation rate", "share of employees with at least one recommendation",
            "proporsi pegawai yang mendapat minimal satu rekomendasi"),
    Outcome("rec_gain", "ratio", "Top recommendation's gain per head",
            "expected gain of the top recommendation per employee (levels)",
            "perkiraan penurunan kesenjangan dari rekomendasi teratas per pegawai (level)"),
    Outcome("plan_rate", "ratio", "Plan allocation rate",
            "share allocated a training in the audit plan, among employees with a candidate",
            "proporsi yang mendapat alokasi pelatihan dalam rencana audit, di antara pegawai yang punya kandidat"),
    Outcome("plan_gain", "ratio", "Allocated gain per head",
            "allocated expected gain per employee with a candidate (levels)",
            "perkiraan penurunan kesenjangan yang dialokasikan per pegawai yang punya kandidat (level)"),
)}


class ProtectedUnavailable(LookupError):
    """The audit cannot find the protected attributes of the evaluated snapshot."""


# ---------------------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------------------
def age_years(birth_date: pd.Series, as_of: date) -> pd.Series:
    """Whole years of age on `as_of` (NaN where the birth date is missing)."""
    born = pd.to_datetime(birth_date, errors="coerce")
    years = as_of.year - born.dt.year
    before_birthday = (born.dt.month > as_of.month) | ((born.dt.month == as_of.month) & (born.dt.day > as_of.day))
    return (years - before_birthday.astype("float64")).astype("float64")


def age_band(birth_date: pd.Series, as_of: date) -> pd.Series:
    """The age band label of each birth date on `as_of` (AGE_BANDS; "unknown" when missing)."""
    age = age_years(birth_date, as_of).to_numpy()
    out = np.full(len(age), UNKNOWN_GROUP, dtype=object)
    for label, low, high in AGE_BANDS:
        out[(age >= low) & (age <= high)] = label
    return pd.Series(out, index=birth_date.index, dtype="str")


def protected_attributes(export: Export) -> pd.DataFrame:
    """nip → sex, birth_date of the employees of `export`: from the export itself when it carries them,
    else from the store snapshot whose content hash is `export.snapshot_id`. Only this module calls it."""
    emp = export["employees"]
    if {"sex", "birth_date"} <= set(emp.columns):
        frame = emp[["nip", "sex", "birth_date"]]
    else:
        frame = _protected_from_store(export.snapshot_id)
    frame = frame.astype({"nip": "str", "sex": "str"}).drop_duplicates("nip")
    return frame.set_index("nip")[["sex", "birth_date"]]


def _protected_from_store(snapshot_id: str | None) -> pd.DataFrame:
    if not snapshot_id:
        raise ProtectedUnavailable("the export has no protected attributes and no store snapshot to read them from")
    engine = get_engine()
    match = [s for s in snapshot_history(engine) if s.content_sha256 == snapshot_id]
    if not match:
        raise ProtectedUnavailable(f"snapshot {snapshot_id[:12]}… is no longer in the store: re-ingest it")
    t = DATA_TABLES["employees"]
    query = sa.select(t.c.nip, t.c.sex, t.c.birth_date).where(t.c.snapshot_id == match[0].snapshot_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame({"nip": [r[0] for r in rows], "sex": [r[1] for r in rows],
                         "birth_date": pd.to_datetime(pd.Series([r[2] for r in rows], dtype=object))})


def employee_groups(export: Export, protected: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """One row per employee (index nip): the group label of each attribute in ATTRIBUTES, as of `as_of`."""
    emp = export["employees"].astype({"nip": "str"}).set_index("nip")
    positions = export["positions"].astype({"position_id": "str"}).set_index("position_id")["position_type"]
    prot = protected.reindex(emp.index)
    groups = pd.DataFrame({
        "sex": prot["sex"].astype("str").where(prot["sex"].isin(SEXES), UNKNOWN_GROUP),
        "age_band": age_band(prot["birth_date"], as_of),
        "employment": emp["employment"].astype("str"),
        "position_type": positions.reindex(emp["position_id"].astype("str")).astype("str").to_numpy(),
    }, index=emp.index)
    return groups.fillna(UNKNOWN_GROUP).astype("str")


# ---------------------------------------------------------------------------------------------------
# Comparing groups
# ---------------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """One outcome across the groups of one attribute."""

    outcome: str
    attribute: str
    groups: pd.DataFrame  # group, n (employees), value, lo, hi, compared
    value: float  # the statistic (OUTCOMES[outcome].statistic) between compared groups
    lo: float
    hi: float
    n_compared: int

    @property
    def statistic(self) -> str:
        return OUTCOMES[self.outcome].statistic

    @property
    def metric(self) -> str:
        return f"fairness_{self.outcome}_{self.statistic}_{self.attribute}"


def _statistic(values: np.ndarray, statistic: str) -> np.ndarray:
    """max − min or min / max over the last axis (NaN groups ignored); works on one row or many."""
    values = np.atleast_2d(values)
    ok = np.isfinite(values)
    two = ok.sum(axis=1) >= 2  # fewer than two groups: nothing to compare, no disparity
    top = np.where(ok, values, -np.inf).max(axis=1)
    bottom = np.where(ok, values, np.inf).min(axis=1)
    if statistic == "difference":
        return np.where(two, top - bottom, 0.0)
    # Nobody in any compared group gets anything: no one is treated worse, the ratio is 1.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(two & (top > 0), bottom / np.where(top > 0, top, 1.0), 1.0)


def compare_groups(numerator: np.ndarray, denominator: np.ndarray, groups: np.ndarray, *, outcome: str,
                   attribute: str, min_group_size: int = 30, n_boot: int = 400, confidence: float = 0.95,
                   seed: int = 0) -> Comparison:
    """Group values Σ numerator / Σ denominator (one entry per employee) and the between-group statistic,
    with Poisson-bootstrap percentile intervals (employees resampled; see the module docstring)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    labels = np.asarray(groups, dtype=object).astype(str)
    order = GROUP_ORDER.get(attribute, ())
    present = sorted(set(labels.tolist()), key=lambda g: (order.index(g) if g in order else len(order), g))
    codes = pd.Categorical(labels, categories=present).codes.astype(np.int64)
    k = len(present)
    n = np.bincount(codes, minlength=k)
    num = np.bincount(codes, weights=numerator, minlength=k)
    den = np.bincount(codes, weights=denominator, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    compared = (n >= min_group_size) & np.array([g != UNKNOWN_GROUP for g in present], dtype=bool)
    stat = _statistic(np.where(compared, value, np.nan), OUTCOMES[outcome].statistic)[0]
    lo_g = hi_g = np.full(k, np.nan)
    lo = hi = float("nan")
    if n_boot > 0 and len(labels):
        boot_values = _bootstrap(codes, numerator, denominator, k, n_boot, seed)
        alpha = (1 - confidence) / 2
        with np.errstate(all="ignore"):
            lo_g, hi_g = (np.nanquantile(boot_values, q, axis=0) if boot_values.size else np.full(k, np.nan)
                          for q in (alpha, 1 - alpha))
        boot_stat = _statistic(np.where(compared[None, :], boot_values, np.nan), OUTCOMES[outcome].statistic)
        lo, hi = (float(np.quantile(boot_stat, q)) for q in (alpha, 1 - alpha))
    table = pd.DataFrame({"group": present, "n": n.astype(np.int64), "value": value, "lo": lo_g, "hi": hi_g,
                          "compared": compared})
    return Comparison(outcome, attribute, table, float(stat), lo, hi, int(compared.sum()))


def _bootstrap(codes: np.ndarray, numerator: np.ndarray, denominator: np.ndarray, k: int, n_boot: int,
               seed: int) -> np.ndarray:
    """(n_boot, k) group values under Poisson(1) employee weights (one weight vector per replicate).

    Two bincounts per replicate: ~40 ms for 400 replicates of 6,000 employees; linear in employees, so
    for a national audit lower KOMPETENSI_FAIRNESS_N_BOOT (the intervals are narrow there anyway)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, k))
    for b in range(n_boot):
        weights = rng.poisson(1.0, len(codes))
        num = np.bincount(codes, weights=weights * numerator, minlength=k)
        den = np.bincount(codes, weights=weights * denominator, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[b] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


# ---------------------------------------------------------------------------------------------------
# The audit
# ---------------------------------------------------------------------------------------------------
@dataclass
class FairnessAudit:
    comparisons: list[Comparison]
    settings: dict[str, Any]
    as_of: dict[str, str]  # scope → the as-of date its age bands were computed at
    populations: dict[str, int]  # scope → employees audited
    notes: list[str] = field(default_factory=list)

    def comparison(self, outcome: str, attribute: str) -> Comparison:
        return next(c for c in self.comparisons if c.outcome == outcome and c.attribute == attribute)

    def metrics(self) -> dict[str, float]:
        """Flat, MLflow-ready: fairness_<outcome>_<difference|ratio>_<attribute> and its _lo/_hi."""
        out: dict[str, float] = {}
        for c in self.comparisons:
            out[c.metric] = c.value
            out[f"{c.metric}_lo"] = c.lo
            out[f"{c.metric}_hi"] = c.hi
        for scope, n in self.populations.items():
            out[f"fairness_{scope}_employees"] = float(n)
        return out

    def table(self) -> pd.DataFrame:
        """Every group of every comparison: outcome, attribute, group, n, value, lo, hi, compared."""
        parts = [c.groups.assign(outcome=c.outcome, attribute=c.attribute) for c in self.comparisons]
        cols = ["outcome", "attribute", "group", "n", "value", "lo", "hi", "compared"]
        return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)

    def failures(self, settings: Settings | None = None) -> list[str]:
        """The gate's failure reasons for these results ([] = pass), with the thresholds of `settings`
        (default: the program's, `get_settings()`)."""
        return run_checks(fairness_checks(settings=settings), self.metrics(), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (group-level aggregates only)."""
        return {
            "settings": self.settings, "as_of": self.as_of, "populations": self.populations, "notes": self.notes,
            "comparisons": [{
                "outcome": c.outcome, "attribute": c.attribute, "statistic": c.statistic, "value": finite(c.value),
                "lo": finite(c.lo), "hi": finite(c.hi), "n_compared": c.n_compared,
                "groups": [{k: finite(v) if isinstance(v, float) else (v.item() if hasattr(v, "item") else v)
                            for k, v in row.items()}
                           for row in c.groups.to_dict(orient="records")],
            } for c in self.comparisons],
        }


def _per_employee_errors(rows: pd.DataFrame) -> pd.DataFrame:
    err = rows["model_predicted_level"].to_numpy(np.float64) - rows["target"].to_numpy(np.float64)
    frame = pd.DataFrame({"nip": rows["nip"].astype("str").to_numpy(), "signed": err, "absolute": np.abs(err),
                          "n": 1.0})
    return frame.groupby("nip", sort=True).sum()


def _compare_all(frame: pd.DataFrame, groups: pd.DataFrame, specs: Sequence[tuple[str, str, str]],
                 s: Settings, seed: int) -> list[Comparison]:
    g = groups.reindex(frame.index).fillna(UNKNOWN_GROUP)
    out = []
    for i, attribute in enumerate(ATTRIBUTES):
        for j, (outcome, num, den) in enumerate(specs):
            out.append(compare_groups(frame[num].to_numpy(), frame[den].to_numpy(), g[attribute].to_numpy(),
                                      outcome=outcome, attribute=attribute,
                                      min_group_size=s.fairness_min_group_size, n_boot=s.fairness_n_boot,
                                      confidence=s.fairness_confidence, seed=seed + 101 * i + j))
    return out


def audit_errors(backtest: Backtest, groups: pd.DataFrame, settings: Settings | None = None, *,
                 seed: int = 0) -> list[Comparison]:
    """Mean signed and absolute error of the gap model by group, on the back-test's held-out rows."""
    s = settings or get_settings()
    frame = _per_employee_errors(backtest.rows)
    return _compare_all(frame, groups, (("gap_bias", "signed", "n"), ("gap_mae", "absolute", "n")), s, seed)


def recommendation_outcomes(candidates: pd.DataFrame, active: Sequence[str], allocations: pd.DataFrame
                            ) -> pd.DataFrame:
    """Per active employee (index nip): recommended (has a candidate, i.e. a top-k recommendation), top_gain,
    allocated (in the plan), plan_gain and one (the denominator of rates and per-head means)."""
    idx = pd.Index([str(n) for n in active], name="nip")
    cand = candidates.assign(nip=candidates["nip"].astype("str"))
    top = cand.groupby("nip")["expected_gain"].max().reindex(idx)
    alloc = allocations.assign(nip=allocations["nip"].astype("str")).groupby("nip")["expected_gain"].sum()
    alloc = alloc.reindex(idx)
    has = top.notna().to_numpy()
    return pd.DataFrame({
        "recommended": has.astype(np.float64),
        "top_gain": top.fillna(0.0).to_numpy(np.float64),
        "allocated": (alloc.notna().to_numpy() & has).astype(np.float64),
        "plan_gain": np.where(has, alloc.fillna(0.0).to_numpy(np.float64), 0.0),
        "one": np.ones(len(idx)),
    }, index=idx)


def audit_budget(candidates: pd.DataFrame, share: float) -> int:
    """The audit plan's budget: `share` of the cost of every employee's top recommendation (Rupiah)."""
    if candidates.empty:
        return 0
    top = candidates.sort_values(["nip", "expected_gain", "cost_idr"], ascending=[True, False, True])
    return int(round(share * float(top.drop_duplicates("nip")["cost_idr"].sum())))


def audit_recommendations(predictor: Any, export: Export, groups: pd.DataFrame,
                          settings: Settings | None = None, *, seed: int = 0,
                          progress: Progress | None = None) -> tuple[list[Comparison], int, list[str]]:
    """Recommendation and plan rates and gains by group; returns (comparisons, employees, notes)."""
    s = settings or get_settings()
    say = progress or (lambda _m: None)
    public = export.without_protected()  # the engine never sees a protected attribute
    emp = public["employees"]
    active = emp.loc[emp["status"] == ACTIVE_STATUS, "nip"].astype("str").tolist()
    say(f"fairness: recommendations for {len(active):,} active employees")
    candidates = predictor.candidates(public, active, top_k=s.fairness_top_k)
    budget = audit_budget(candidates, s.fairness_plan_budget_share)
    say(f"fairness: audit plan with a budget of Rp {budget:,}")
    plan = optimise_plan(candidates, PlanOptions(budget_idr=budget, time_limit_s=20.0))
    notes = [f"Audit plan: budget Rp {budget:,} ({s.fairness_plan_budget_share:.0%} of the cost of every employee's top "
             f"recommendation), status {plan.status}, {len(plan.allocations):,} allocations."]
    outcomes = recommendation_outcomes(candidates, active, plan.allocations)
    rec = _compare_all(outcomes, groups, (("rec_rate", "recommended", "one"), ("rec_gain", "top_gain", "one")),
                       s, seed + 1000)
    pool = outcomes[outcomes["recommended"] > 0]  # allocation is only possible with a candidate
    plan_cmp = _compare_all(pool, groups, (("plan_rate", "allocated", "one"), ("plan_gain", "plan_gain", "one")),
                            s, seed + 2000)
    return rec + plan_cmp, len(active), notes


def run_audit(export: Export, predictor: Any, backtest: Backtest | None, *, seed: int = 0,
              settings: Settings | None = None, protected: pd.DataFrame | None = None,
              progress: Progress | None = None) -> FairnessAudit:
    """The whole audit of one model version on one snapshot (what `kompetensi evaluate` runs).

    `protected` (index nip; sex, birth_date) defaults to `protected_attributes(export)`. Age bands are
    taken as of the back-test cutoff for the error audit, as of the export date for recommendations.
    Thresholds and audit parameters come from `settings` (default: the program's, `get_settings()`).
    """
    s = settings or get_settings()
    say = progress or (lambda _m: None)
    prot = protected if protected is not None else protected_attributes(export)
    comparisons: list[Comparison] = []
    as_of: dict[str, str] = {}
    populations: dict[str, int] = {}
    notes: list[str] = []
    if backtest is not None:
        say("fairness: errors of the gap model by group")
        groups = employee_groups(export, prot, backtest.cutoff)
        comparisons += audit_errors(backtest, groups, s, seed=seed)
        as_of["gap"] = backtest.cutoff.isoformat()
        populations["gap"] = int(backtest.rows["nip"].nunique())
    groups = employee_groups(export, prot, export.exported_on)
    rec, n_active, rec_notes = audit_recommendations(predictor, export, groups, s, seed=seed, progress=say)
    comparisons += rec
    as_of["rec"] = as_of["plan"] = export.exported_on.isoformat()
    populations["rec"] = n_active
    populations["plan"] = int(next((int(c.groups["n"].sum()) for c in rec if c.outcome == "plan_rate"), 0))
    notes += rec_notes
    for c in comparisons:
        if c.attribute in GATED_ATTRIBUTES and c.n_compared < 2:
            notes.append(f"{c.outcome} by {c.attribute}: fewer than two groups of ≥ {s.fairness_min_group_size} "
                         "employees, nothing to compare (the check passes vacuously).")
    return FairnessAudit(comparisons, s.fairness, as_of, populations, notes)


# ---------------------------------------------------------------------------------------------------
# Promotion gate
# ---------------------------------------------------------------------------------------------------
def _interval(metrics: dict[str, float], name: str) -> str:
    lo, hi = metrics.get(f"{name}_lo"), metrics.get(f"{name}_hi")
    return f" (bootstrap interval {lo:.2f}–{hi:.2f})" if lo is not None and hi is not None else ""


_RATE_NAMES = {"rec_rate": "recommendations", "plan_rate": "a training in the audit plan"}


def _ratio_check(outcome: str, attribute: str, minimum: float) -> Callable[[dict, dict | None], str | None]:
    name = f"fairness_{outcome}_ratio_{attribute}"

    def check(candidate: dict, _champion: dict | None) -> str | None:
        value = candidate[name]
        if value >= minimum:
            return None
        return (f"{name} = {value:.3f}{_interval(candidate, name)} is below {minimum:.2f} (four-fifths rule): "
                f"the least-served {attribute} group gets {_RATE_NAMES[outcome]} at less than {minimum:.0%} of "
                "the rate of the best-served one")

    return check


def _difference_check(outcome: str, attribute: str, maximum: float) -> Callable[[dict, dict | None], str | None]:
    name = f"fairness_{outcome}_difference_{attribute}"

    def check(candidate: dict, _champion: dict | None) -> str | None:
        value = candidate[name]
        if value <= maximum:
            return None
        return (f"{name} = {value:.3f} levels{_interval(candidate, name)} exceeds {maximum:.2f}: the gap model's "
                f"mean signed error differs between {attribute} groups (one group's competency is "
                "systematically under-predicted relative to another's)")

    return check


def fairness_checks(min_rate_ratio: float | None = None, max_bias_gap: float | None = None, *,
                    attributes: Sequence[str] = GATED_ATTRIBUTES, settings: Settings | None = None
                    ) -> list[GateCheck]:
    """The fairness part of the promotion gate (thresholds: arguments, else those of `settings`, by default
    the program's `get_settings()`: KOMPETENSI_FAIRNESS_*)."""
    s = settings or get_settings()
    ratio = s.fairness_min_rate_ratio if min_rate_ratio is None else min_rate_ratio
    bias = s.fairness_max_bias_gap if max_bias_gap is None else max_bias_gap
    checks = []
    for attribute in attributes:
        name = f"fairness_gap_bias_difference_{attribute}"
        checks.append(GateCheck(f"fairness_gap_bias_{attribute}", (name,),
                                _difference_check("gap_bias", attribute, bias)))
        for outcome in ("rec_rate", "plan_rate"):
            name = f"fairness_{outcome}_ratio_{attribute}"
            checks.append(GateCheck(f"fairness_{outcome}_{attribute}", (name,),
                                    _ratio_check(outcome, attribute, ratio)))
    return checks
