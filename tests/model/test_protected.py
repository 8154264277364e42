"""No protected attribute, nor anything derived from it (age, the NIP's birth-date and sex digits), reaches
any model (UU 5/2014 merit system; DATA_CONTRACT.md "Protected attributes").

Three layers: the declared feature lists name nothing protected; every fitted estimator inside a trained
bundle was fitted on columns that are not protected; and the proof by intervention: training on an export
where every employee's sex is flipped, birth date moved by decades and NIP rewritten to match gives the
very same models, predictions and recommendations. The NIP may only act as an opaque key: the renumbering
keeps the NIPs' order, which (like any identifier) may decide the order of rows, never a value.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.constants import PROTECTED_COLUMNS
from features.export import Export
from features.pit import DESCRIPTIVE_COLUMNS, FEATURES, PitIndex, build_features, prediction_queries
from tests.exports import generated_export

EXPORTED_ON = date(2026, 6, 30)
# Person-level protected notions; "level_age_months" (the age of an assessment) is not one of them.
FORBIDDEN = re.compile(r"(^|_)(sex|gender|jenis_kelamin|birth|lahir|nip|religion|agama|disab)|^(age|umur|usia)(_|$)"
                       r"|_(age|umur|usia)$|^age_band$|(^|_)age_years")


def is_protected(name: str) -> bool:
    return name in PROTECTED_COLUMNS or bool(FORBIDDEN.search(name.lower()))


def _generated() -> Export:
    return generated_export(220, 3, 21, EXPORTED_ON)


def _copy(export: Export) -> Export:
    return Export({k: v.copy() for k, v in export.tables.items()}, export.exported_on, export.organisation,
                  export.contract_version, export.snapshot_id)


def disguised(export: Export) -> tuple[Export, dict[str, str]]:
    """Every employee's sex flipped, birth date moved to 1950 + rank weeks, and NIP rewritten to match
    (birth date digits, sex digit, sequence) in every table; the NIPs' order is kept. Returns the export
    and the map old NIP → new NIP."""
    ex = _copy(export)
    emp = ex["employees"]
    old = sorted(emp["nip"].astype(str))
    sex_of = dict(zip(emp["nip"].astype(str), emp["sex"].astype(str), strict=True))
    mapping, births = {}, {}
    for rank, nip in enumerate(old):
        born = date(1950, 1, 2) + timedelta(weeks=rank)
        flipped = "p" if sex_of[nip] == "l" else "l"
        mapping[nip] = f"{born:%Y%m%d}{nip[8:14]}{'2' if flipped == 'p' else '1'}{rank % 1000:03d}"
        births[nip] = born
    assert sorted(mapping.values()) == [mapping[n] for n in old]  # the order is kept
    emp["birth_date"] = pd.to_datetime(emp["nip"].astype(str).map(births))
    emp["sex"] = emp["sex"].map({"l": "p", "p": "l"}).astype("str")
    for name, df in ex.tables.items():
        if "nip" in df.columns:
            ex.tables[name] = df.assign(nip=df["nip"].astype(str).map(lambda n: mapping.get(n, n)).astype("str"))
    return ex, mapping


# ---------------------------------------------------------------------------------------------------
# Declared features
# ---------------------------------------------------------------------------------------------------
def test_the_detector_knows_protected_names_from_harmless_ones() -> None:
    for name in ("sex", "birth_date", "nip_sex_digit", "nip_birth_date", "age", "age_years", "age_band",
                 "employee_age", "birth_year", "gender"):
        assert is_protected(name), name
    for name in ("level_age_months", "tenure_years", "grade_rank", "employment", "current_level"):
        assert not is_protected(name), name


def test_no_declared_feature_is_protected() -> None:
    from engine.drift import drift_features
    from engine.effects import EFFECT_FEATURES, NUISANCE_FEATURES

    declared = set(FEATURES) | set(EFFECT_FEATURES) | set(NUISANCE_FEATURES) | set(DESCRIPTIVE_COLUMNS)
    declared |= {f for group in drift_features() for f in group}
    assert not {f for f in declared if is_protected(f)}


def test_features_do_not_change_with_protected_attributes() -> None:
    export = _generated()
    index = PitIndex.build(export)
    queries = prediction_queries(index, EXPORTED_ON)
    base = build_features(index, queries)
    assert not {c for c in base.columns if is_protected(c)}
    changed = _copy(export)
    emp = changed["employees"]
    emp["sex"] = emp["sex"].map({"l": "p", "p": "l"}).astype("str")
    emp["birth_date"] = emp["birth_date"] - pd.Timedelta(days=365 * 17)
    pd.testing.assert_frame_equal(build_features(PitIndex.build(changed), queries), base)
    pd.testing.assert_frame_equal(build_features(PitIndex.build(export.without_protected()), queries), base)


# ---------------------------------------------------------------------------------------------------
# Fitted models
# ---------------------------------------------------------------------------------------------------
def _input_names(obj: Any, seen: set[int] | None = None, depth: int = 0) -> set[str]:
    """The input column names of every fitted estimator reachable from `obj` (sklearn, LightGBM)."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 8 or isinstance(obj, str | bytes | int | float | np.ndarray | pd.DataFrame):
        return set()
    seen.add(id(obj))
    names: set[str] = set()
    fitted = getattr(obj, "feature_names_in_", None)
    if fitted is not None:
        names |= {str(n) for n in fitted}
    booster = getattr(obj, "_Booster", None) or (obj if type(obj).__name__ == "Booster" else None)
    if booster is not None:
        names |= {str(n) for n in booster.feature_name()}
    children: list[Any] = []
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, list | tuple | set):
        children = list(obj)
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("engine", "training", "sklearn", "lightgbm"):
        children = list(vars(obj).values())
        if hasattr(obj, "steps"):
            children += [step for _, step in obj.steps]
    for child in children:
        names |= _input_names(child, seen, depth + 1)
    return names


@lru_cache(maxsize=1)
def _twins() -> tuple[Any, Any, Export, Export, dict[str, str]]:
    from training.fit import fit_predictor

    export = _generated()
    other, mapping = disguised(export)
    params = {"n_estimators": 80, "interval_estimators": 40}
    a = fit_predictor(export, seed=5, gap_model_params=params)
    b = fit_predictor(other, seed=5, gap_model_params=params)
    return a, b, export, other, mapping


@pytest.mark.slow
def test_fitted_models_take_no_protected_input() -> None:
    predictor, *_ = _twins()
    names = _input_names(predictor)
    assert "current_level" in names and len(names) > 20  # the walk found the estimators
    assert not {n for n in names if is_protected(n)}


@pytest.mark.slow
def test_training_on_disguised_protected_attributes_gives_the_same_models() -> None:
    a, b, export, other, mapping = _twins()
    back = {new: old for old, new in mapping.items()}
    # Gap predictions as of the export date, employee by employee.
    qa = prediction_queries(PitIndex.build(export), EXPORTED_ON)
    qb = prediction_queries(PitIndex.build(other), EXPORTED_ON)
    pa = a.gap_model.predict(build_features(export, qa)).assign(nip=qa["nip"], competency_id=qa["competency_id"])
    pb = b.gap_model.predict(build_features(other, qb)).assign(nip=qb["nip"].map(back),
                                                               competency_id=qb["competency_id"])
    key = ["nip", "competency_id"]
    pa, pb = pa.sort_values(key).reset_index(drop=True), pb.sort_values(key).reset_index(drop=True)
    assert len(pa) > 1000
    pd.testing.assert_frame_equal(pa, pb, check_exact=False, rtol=1e-9, atol=1e-9)
    # Recommendations (the effect model and the ranking), employee by employee.
    ca = a.candidates(export, top_k=5)
    cb = b.candidates(other, top_k=5).assign(nip=lambda d: d["nip"].map(back).astype("str"))
    cols = ["nip", "training_id", "expected_gain", "cost_idr"]
    ca = ca[cols].sort_values(cols[:2]).reset_index(drop=True)
    cb = cb[cols].sort_values(cols[:2]).reset_index(drop=True)
    assert len(ca) > 100
    pd.testing.assert_frame_equal(ca, cb, check_exact=False, rtol=1e-9, atol=1e-9)
