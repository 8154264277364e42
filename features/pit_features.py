"""The features of query rows, each as of the row's own date, from a `PitIndex` (part of `features.pit`).

Feature names are the business features of the gap model (`engine.explain` has a label for each); plan
features describe the trainings completed just after the as-of date. Also the evidence of a prediction:
the assessments it rests on.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from features.constants import (
    ASSESSMENT_METHODS,
    ASSESSMENT_VALID_YEARS,
    COMPETENCY_KINDS,
    JP_RIGHT_PER_YEAR,
    LEVEL_MAX,
    LEVEL_MIN,
)
from features.export import Export
from features.measurement import MeasurementModel, measurement_model
from features.pit_index import (
    DAY_OFFSET,
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    PitIndex,
    Timeline,
    as_index,
    as_str,
    date_of,
    day_of,
    to_days,
    year_end_days,
    years_of_days,
)

# The most trusted method: a prediction is of an unbiased measurement, i.e. an assessment-centre one.
PREDICTION_METHOD = ASSESSMENT_METHODS[0]
# Last-resort fallback for a never-assessed competency with no comparable colleague: the scale's middle.
SCALE_MIDDLE = (LEVEL_MIN + LEVEL_MAX) / 2
# "No plan training targets this competency": the band distance is set to the scale's width, so that it
# only ever decreases when a targeting training is added (needed by the monotone constraint).
NO_BAND_DISTANCE = LEVEL_MAX - LEVEL_MIN

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
    "level_estimate", "level_estimate_sd",
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


def build_features(export: Export | PitIndex, queries: pd.DataFrame,
                   plans: Sequence[Sequence[str]] | None = None,
                   measurement: MeasurementModel | None = None) -> pd.DataFrame:
    """One row of features per query row (same index), each as of the row's own `as_of`.

    `queries` needs nip, competency_id, as_of, horizon_months; optional: required_level (else from the
    position standard), target_method (else assessment_center, the unbiased measurement a prediction is
    of) and plan (used when `plans` is None). `plans[i]` is the plan of row i: training_ids completed just
    after as_of. Unknown employees or competencies raise KeyError.
    Never-assessed competencies: current_level is the employee's mean latest level in their other
    competencies, else the competency's mean among colleagues of the same position type as of the date,
    else its mean over everyone, else the middle of the scale; `current_level_source` says which.
    level_estimate / level_estimate_sd: the posterior of the true level from all assessments on or before
    as_of (`features.measurement`; `measurement` = the fitted model, else the index's own).
    """
    index = as_index(export)
    n = len(queries)
    nip_code = index.nips.get_indexer(as_str(queries["nip"]))
    comp_code = index.competencies.index.get_indexer(as_str(queries["competency_id"]))  # code = position
    if (nip_code < 0).any() or (comp_code < 0).any():
        raise KeyError("unknown employee or competency in queries")
    comp_code = comp_code.astype(np.int64)
    as_of = to_days(queries["as_of"])
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
    # The level estimated from all assessments (features.measurement): `measurement` is the model learnt
    # at training time; without one, the index's own, fitted on the assessments up to the latest as-of
    # date of these queries (never on records after it; as `training.fit` fits it up to its cutoff).
    latest = date_of(int(as_of.max())) if len(as_of) else None
    model = measurement if measurement is not None else measurement_model(index, latest)
    f["level_estimate"], f["level_estimate_sd"] = model.estimate(index, pair, as_of)
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
    year = years_of_days(as_of)
    jp_prev_year = index.completed.window("jp", nip_code, year_end_days(year - 2), year_end_days(year - 1))
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
        f["target_method"] = as_str(queries["target_method"]).fillna(PREDICTION_METHOD).to_numpy(dtype=object)
    else:
        f["target_method"] = np.full(n, PREDICTION_METHOD, dtype=object)

    if plans is None:
        plans = list(queries["plan"]) if "plan" in queries.columns else [()] * n
    if len(plans) != n:
        raise ValueError(f"{len(plans)} plans for {n} query rows")
    f.update(plan_features(index, comp_code, current, plans))

    f["competency_name"] = comps["name"][comp_code]
    f["current_level_source"] = source
    assessed_on = np.where(has, _take(d.days, li) - DAY_OFFSET, 0).astype("datetime64[D]")
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


def _state_mean(state: Timeline, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
    s, c = state.upto("sum", groups, days), state.upto("cnt", groups, days)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0.5, s / np.maximum(c, 1), np.nan)


def _skp_features(index: PitIndex, nip_code: np.ndarray, as_of: np.ndarray) -> dict[str, np.ndarray]:
    """Last rating, its within-unit percentile and the mean rating of the last three finished years."""
    years = index.skp_years
    year = years_of_days(as_of)
    finished = np.where(year_end_days(year) <= as_of, year, year - 1)  # 31 Dec of the year itself counts
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
    return np.arange(lo, hi)[day[lo:hi] <= day_of(as_of)]
