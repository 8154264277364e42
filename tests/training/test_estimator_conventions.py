"""The estimators follow scikit-learn's conventions (https://scikit-learn.org/stable/developers/develop.html).

Estimators: `engine.gap_model.GapModel` and its baselines `CarryForward` and `PerCompetencyLinear`, and the
effect estimators `engine.effects.XLearnerEffect` and `SLearnerEffect`.

Two parts:
1. `check_estimator` with `expected_failed_checks`: every check scikit-learn 1.9 generates runs, for each
   estimator. The checks build their own data, numeric arrays. Our estimators read the business features
   of `features.pit.build_features` *by name* (text categoricals, NaN where history is missing), so `fit`
   refuses an array with a TypeError that says so: each check that fits on generated arrays is listed in
   `EXPECTED_FAILURES` with what it checks and why it does not apply. The test requires that nothing else
   fails, that every listed check does fail (a check that starts to pass must come off the list), and that
   it fails because fit refused the array. What passes are the API checks: `__init__` stores the
   parameters and nothing else, get_params / set_params, clone, repr, tags, mixin order, sparse input
   refused with an error that says so, not-fitted errors. The S-learner learns nothing from X (its level
   model is fitted already), so it passes the fitting checks as well, all but one.
2. What the excluded checks are about, on the data the estimators really take: `fit` returns self, learns
   only attributes ending in `_` (with `n_features_in_`) and leaves the parameters alone; clone + fit, a
   second fit and pickling give the same answers; answers depend neither on the order of the rows nor on
   the other rows; answering leaves the public state alone; unfitted use raises NotFittedError; `score`.
"""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Iterator
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.validation import check_is_fitted

from engine.effects import SLearnerEffect, XLearnerEffect
from engine.gap_model import PREDICTION_COLUMNS, CarryForward, GapModel, PerCompetencyLinear
from features.pit import PLAN_FEATURES
from tests.training.test_effects import synthetic_pairs

# Small models: the checks fit many times (the conventions do not depend on the size).
SMALL_GAP = {"n_estimators": 8, "interval_estimators": 6}
SMALL_X = {"n_bootstrap": 2, "final_params": {"n_estimators": 20, "min_child_samples": 40}}


def _level_model() -> CarryForward:
    """The S-learner's level model, fitted. CarryForward answers like a GapModel (predicted_level, lower,
    upper); a GapModel works the same, but a deep copy of a fitted LightGBM booster does not hash like the
    original (bookkeeping fields), which `check_estimators_overwrite_params` compares."""
    x, y, _, _ = synthetic_pairs(n=300, seed=8)
    return CarryForward().fit(x, y)


ESTIMATORS: tuple[BaseEstimator, ...] = (
    GapModel(**SMALL_GAP),
    CarryForward(),
    PerCompetencyLinear(),
    XLearnerEffect(**SMALL_X),
    SLearnerEffect(FrozenEstimator(_level_model())),  # FrozenEstimator: clone keeps the fitted level model
)

# ---------------------------------------------------------------------------------------------------
# 1. scikit-learn's checks
# ---------------------------------------------------------------------------------------------------
_ARRAY = ("; X here is a generated numeric array, and the estimators take a DataFrame of named business "
          "features (features.pit.build_features): fit refuses the array with a TypeError")
_FRAME_TESTED = " (part 2 of this module checks the same on the features the estimator takes)"

# Checks that fit the estimators on generated arrays, by what each checks.
_FITS_ON_ARRAYS: dict[str, str] = {
    "check_complex_data": "fit must refuse complex numbers with a ValueError" + _ARRAY,
    "check_dict_unchanged": "predict must leave __dict__ unchanged" + _ARRAY + _FRAME_TESTED
                            + "; GapModel also caches private look-ups of its fitted pipelines on first use",
    "check_dont_overwrite_parameters": "fit must add only attributes ending in _" + _ARRAY + _FRAME_TESTED,
    "check_dtype_object": "fit on an object array of numbers" + _ARRAY,
    "check_estimators_dtypes": "fit on float32, int32 and int64 arrays" + _ARRAY,
    "check_estimators_empty_data_messages": "fit on an empty array must raise a ValueError" + _ARRAY,
    "check_estimators_fit_returns_self": "fit returns self" + _ARRAY + _FRAME_TESTED,
    "check_estimators_overwrite_params": "fit leaves the parameters unchanged" + _ARRAY + _FRAME_TESTED,
    "check_estimators_pickle": "a pickled fitted estimator answers the same" + _ARRAY + _FRAME_TESTED,
    "check_f_contiguous_array_estimator": "fit on a Fortran-ordered array" + _ARRAY,
    "check_fit1d": "fit on a 1-d array must raise a ValueError" + _ARRAY,
    "check_fit2d_1feature": "fit on an array of one column" + _ARRAY,
    "check_fit2d_1sample": "fit on an array of one row" + _ARRAY,
    "check_fit2d_predict1d": "predict on a 1-d array must raise a ValueError" + _ARRAY,
    "check_fit_check_is_fitted": "check_is_fitted fails before fit and passes after" + _ARRAY + _FRAME_TESTED,
    "check_fit_idempotent": "fitting twice gives the same answers" + _ARRAY + _FRAME_TESTED,
    "check_fit_score_takes_y": "fit(X, y) and score(X, y) name their arguments X and y" + _ARRAY
                               + _FRAME_TESTED,
    "check_methods_sample_order_invariance": "answers do not depend on the row order" + _ARRAY + _FRAME_TESTED,
    "check_methods_subset_invariance": "answers do not depend on the other rows" + _ARRAY + _FRAME_TESTED,
    "check_n_features_in": "fit sets n_features_in_" + _ARRAY + _FRAME_TESTED,
    "check_n_features_in_after_fitting": "predict on fewer columns must raise a ValueError about "
                                         "n_features_in_" + _ARRAY + "; predict selects its columns by name",
    "check_pipeline_consistency": "the estimator in a Pipeline answers as alone" + _ARRAY,
    "check_positive_only_tag_during_fit": "fit on negative values" + _ARRAY,
    "check_readonly_memmap_input": "fit on read-only memory-mapped arrays" + _ARRAY,
    "check_requires_y_none": "fit(X, None) must say that y is required" + _ARRAY + " before y is looked at",
}
_PREDICT_FRAME = ("; besides, predict answers a DataFrame of the level with its 80% interval (predicted_level, "
                  "lower, upper), not a 1-d array")
# Checks for regressors (the gap model and its baselines), which also fit on generated arrays.
_REGRESSOR_FITS_ON_ARRAYS: dict[str, str] = {
    "check_regressor_data_not_an_array": "fit on array-likes that are not arrays" + _ARRAY,
    "check_regressors_int": "fit on integer arrays" + _ARRAY + _PREDICT_FRAME,
    "check_regressors_no_decision_function": "fit, then no decision_function" + _ARRAY,
    "check_regressors_train": "fit, predict a 1-d array and score" + _ARRAY + _PREDICT_FRAME,
    "check_supervised_y_2d": "fit with a 2-d y warns" + _ARRAY,
    "check_supervised_y_no_nan": "fit with NaN or inf in y must raise a ValueError" + _ARRAY
                                 + " before y is looked at",
}
EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    "GapModel": {**_FITS_ON_ARRAYS, **_REGRESSOR_FITS_ON_ARRAYS},
    "CarryForward": {**_FITS_ON_ARRAYS, **_REGRESSOR_FITS_ON_ARRAYS},
    "PerCompetencyLinear": {**_FITS_ON_ARRAYS, **_REGRESSOR_FITS_ON_ARRAYS},
    "XLearnerEffect": dict(_FITS_ON_ARRAYS),
    "SLearnerEffect": {
        "check_estimator_sparse_tag": "fit must refuse sparse X when the sparse tag is False; the S-learner's "
                                      "fit learns nothing and ignores X (its level model is fitted already), "
                                      "so it accepts any X, and effect() takes DataFrames only",
    },
}
# Checks that skip themselves (inside check_estimator, so pytest never sees a skip), for every estimator.
SKIPS_ITSELF: dict[str, str] = {
    "check_array_api_input": "the estimators do not support the array API (array_api_support is False): for "
                             "them the check only confirms that array-API dispatch leaves numpy answers "
                             "unchanged, and it skips itself unless SCIPY_ARRAY_API is set before scipy is "
                             "imported, which the suite does not do",
}
ARRAY_REFUSED = "DataFrame of named business features"  # what fit says when it is given an array
# Among what passes for every estimator: the basic API.
API_CHECKS = {"check_estimator_cloneable", "check_estimator_repr", "check_no_attributes_set_in_init",
              "check_parameters_default_constructible", "check_get_params_invariance", "check_set_params",
              "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order", "check_valid_tag_types"}


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """An exception and those it was raised from or during."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _name(estimator: Any) -> str:
    return type(estimator).__name__


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_check_estimator(estimator: BaseEstimator) -> None:
    """Every check passes except the documented ones, and those fail, for the documented reason."""
    expected = EXPECTED_FAILURES[_name(estimator)]
    results = check_estimator(estimator, expected_failed_checks=expected, on_fail=None, on_skip=None)
    status: dict[str, set[str]] = {}
    for r in results:
        status.setdefault(r["check_name"], set()).add(r["status"])
    failed = {r["check_name"]: f"{type(r['exception']).__name__}: {r['exception']}"[:300]
              for r in results if r["status"] == "failed"}
    assert not failed, f"checks that fail and are not in EXPECTED_FAILURES: {failed}"
    listed = set(expected) | set(SKIPS_ITSELF)
    assert listed <= set(status), f"listed checks scikit-learn no longer generates: {sorted(listed - set(status))}"
    now_passing = sorted(name for name in expected if status[name] != {"xfail"})
    assert not now_passing, f"listed as failing but they pass now (take them off the list): {now_passing}"
    assert {name for name, s in status.items() if "skipped" in s} == set(SKIPS_ITSELF)
    for r in results:  # an array-based check fails because fit refuses the array, not for another reason
        if r["status"] == "xfail" and r["check_name"] in _FITS_ON_ARRAYS | _REGRESSOR_FITS_ON_ARRAYS:
            assert any(ARRAY_REFUSED in str(e) for e in _chain(r["exception"])), (r["check_name"], r["exception"])
    assert API_CHECKS <= {name for name, s in status.items() if s == {"passed"}}


# ---------------------------------------------------------------------------------------------------
# 2. The same properties on the features the estimators take
# ---------------------------------------------------------------------------------------------------
LEVEL_MODELS = (GapModel(**SMALL_GAP), CarryForward(), PerCompetencyLinear())
FITTED_ESTIMATORS = (*LEVEL_MODELS, XLearnerEffect(**SMALL_X))


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    x, y, _, _ = synthetic_pairs(n=1500, seed=6)
    return x, y


def answers(estimator: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """What the estimator answers for rows: the level with its interval, or the effect τ with its interval."""
    if isinstance(estimator, XLearnerEffect):
        return pd.DataFrame(dict(zip(("tau", "lower", "upper"), estimator.effect(rows), strict=True)),
                            index=rows.index)
    return estimator.predict(rows)


def _public_state(estimator: Any) -> dict[str, str]:
    return {k: joblib.hash(v) for k, v in vars(estimator).items() if not k.startswith("_")}


@pytest.mark.parametrize("estimator", FITTED_ESTIMATORS, ids=_name)
def test_fit_returns_self_and_learns_only_underscore_attributes(estimator: Any, data: Any) -> None:
    x, y = data
    model = clone(estimator)
    params = joblib.hash(model.get_params())
    before = set(vars(model))
    assert before == set(model.get_params())  # __init__ stores the parameters, nothing else
    assert model.fit(x, y) is model
    learnt = set(vars(model)) - before
    assert learnt and all(name.endswith("_") and not name.startswith("_") for name in learnt), learnt
    assert joblib.hash(model.get_params()) == params  # fit leaves the parameters alone
    assert model.n_features_in_ == len(model.feature_names_in_)
    check_is_fitted(model)
    methods = ("fit", "score") if hasattr(model, "score") else ("fit",)
    for method in methods:  # what check_fit_score_takes_y asks
        assert list(inspect.signature(getattr(model, method)).parameters)[:2] == ["X", "y"], method


@pytest.mark.parametrize("estimator", FITTED_ESTIMATORS, ids=_name)
def test_refit_clone_and_pickle_give_the_same_answers(estimator: Any, data: Any) -> None:
    x, y = data
    rows = x.head(300)
    model = clone(estimator).fit(x, y)
    first = answers(model, rows)
    pd.testing.assert_frame_equal(answers(clone(model).fit(x, y), rows), first)  # clone + fit: seeded
    pd.testing.assert_frame_equal(answers(model.fit(x, y), rows), first)  # fit again: idempotent
    pd.testing.assert_frame_equal(answers(pickle.loads(pickle.dumps(model)), rows), first)


@pytest.mark.parametrize("estimator", FITTED_ESTIMATORS, ids=_name)
def test_answers_do_not_depend_on_row_order_or_other_rows(estimator: Any, data: Any) -> None:
    x, y = data
    model = clone(estimator).fit(x, y)
    rows = x.head(400)
    full = answers(model, rows)
    shuffled = rows.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(answers(model, shuffled).loc[rows.index], full)
    half = rows.iloc[::2]
    pd.testing.assert_frame_equal(answers(model, half), full.loc[half.index])


@pytest.mark.parametrize("estimator", FITTED_ESTIMATORS, ids=_name)
def test_answering_leaves_the_public_state_alone(estimator: Any, data: Any) -> None:
    x, y = data
    model = clone(estimator).fit(x, y)
    state = _public_state(model)
    answers(model, x.head(50))
    assert _public_state(model) == state


@pytest.mark.parametrize("estimator", FITTED_ESTIMATORS, ids=_name)
def test_unfitted_use_raises_not_fitted(estimator: Any, data: Any) -> None:
    x, _ = data
    model = clone(estimator)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    with pytest.raises(NotFittedError):
        answers(model, x.head(5))


@pytest.mark.parametrize("estimator", FITTED_ESTIMATORS, ids=_name)
def test_arrays_are_refused_with_an_error_that_says_why(estimator: Any, data: Any) -> None:
    x, y = data
    with pytest.raises(TypeError, match="DataFrame of named business features"):
        clone(estimator).fit(x.to_numpy(), y)
    with pytest.raises(TypeError, match="sparse input is not supported"):
        clone(estimator).fit(sparse.csr_array(np.ones((len(y), 3))), y)


@pytest.mark.parametrize("estimator", LEVEL_MODELS, ids=_name)
def test_score_is_r2_of_the_predicted_level(estimator: Any, data: Any) -> None:
    x, y = data
    model = clone(estimator).fit(x, y)
    predicted = model.predict(x)
    assert list(predicted.columns) == list(PREDICTION_COLUMNS)
    residual = y - predicted["predicted_level"].to_numpy()
    assert model.score(x, y) == pytest.approx(1 - (residual ** 2).sum() / ((y - y.mean()) ** 2).sum())


def test_set_params_reaches_the_fit_and_set_threads_goes_through_it(data: Any) -> None:
    x, y = data
    model = GapModel(**SMALL_GAP).set_params(n_estimators=3)
    model.fit(x, y)
    assert model.point_[-1].n_estimators == 3
    assert model.set_threads(2) is model and model.get_params()["n_jobs"] == 2
    assert {p[-1].n_jobs for p in (model.point_, model.lower_, model.upper_)} == {2}
    xl = XLearnerEffect(**SMALL_X).set_params(moderators=True).fit(x, y)
    assert "current_level" in xl.effect_features_
    xl.set_params(moderators=False)  # a fitted model keeps answering with what it was fitted with
    assert xl.effect(x.head(20))[0].shape == (20,)


def _plan_and_base(x: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    base = x.head(40).assign(**{name: 0.0 for name in PLAN_FEATURES})
    return x.head(40), base


def test_s_learner_is_ready_as_made_and_fit_only_checks(data: Any) -> None:
    x, y = data
    level = GapModel(**SMALL_GAP).fit(x, y)
    plan, base = _plan_and_base(x)
    made = SLearnerEffect(level)
    tau = made.effect(plan, base)[0]
    check_is_fitted(made)
    assert made.fit(x, y) is made and made.fit() is made  # fit learns nothing: X is not needed
    np.testing.assert_array_equal(made.effect(plan, base)[0], tau)
    assert set(vars(made)) == {"level_model"}
    # clone clones the level model, as for any estimator parameter: unfitted, and fit says so ...
    cloned = clone(made)
    with pytest.raises(NotFittedError):
        cloned.fit(x, y)
    with pytest.raises(NotFittedError):
        cloned.effect(plan, base)
    # ... unless it is frozen, which keeps it fitted through clone.
    frozen = clone(SLearnerEffect(FrozenEstimator(level)))
    np.testing.assert_array_equal(frozen.fit(x, y).effect(plan, base)[0], tau)
    with pytest.raises(NotFittedError):
        SLearnerEffect().effect(plan, base)
    with pytest.raises(ValueError, match="level model"):
        SLearnerEffect().fit(x, y)
