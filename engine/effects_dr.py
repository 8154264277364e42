"""Doubly robust and residual-on-residual effect learners (issue 13), beside the X-learner of
`engine.effects`; both share its final stage, interval, course encoding and `effect` (`engine.effects_base`).

Treatment = the pair's plan holds a training targeting the pair's competency; a treated row's course is
its own, an untreated row is given one course drawn at random among those targeting its competency (the
`counterfactual` rows of `training.fit`), so that τ(Z) can be learnt from both arms. Nuisances are
cross-fitted by employee folds (`n_folds`): a row's nuisances come from models that never saw its employee.

- `DRLearnerEffect` (Kennedy 2020): e(X) the propensity of training, μ0(X) the outcome without (fitted on
  untreated rows), μ1(X, W) the outcome with the course W (fitted on treated rows). Pseudo-outcome
  φ = μ1(X, W) − μ0(X) + (Y − μ1(X, W)) / e(X) for a treated row, φ = μ1(X, W') − μ0(X) − (Y − μ0(X)) /
  (1 − e(X)) for an untreated row with its drawn course W'; τ(Z) regresses φ on Z.
- `RLearnerEffect` (Nie & Wager 2021): m(X) = E[Y | X] and e(X); τ(Z) minimises Σ ((Y − m) − (T − e) τ(Z))²,
  i.e. a regression of (Y − m) / (T − e) with weights (T − e)².

Overlap: e is clipped to PROPENSITY_CLIP; `diagnostics_` reports its distribution (quantiles, by arm) and
the share of rows clipped at each end.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from engine.effects import DEFAULT_FEATURE_SET, counterfactual_rows
from engine.effects_base import (
    PROPENSITY_CLIP,
    EffectLearnerBase,
    NotEnoughHistory,
    Progress,
    group_folds,
    lgb_params,
    nuisance_matrix,
    treated,
)
from engine.gap_model import require_frame

PROPENSITY_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class _CrossFitted(EffectLearnerBase):
    """Parameters, cross-fitted nuisances and the rows of both arms, shared by the DR- and R-learner."""

    def __init__(self, seed: int = 0, n_bootstrap: int = 8, n_folds: int = 3, moderators: bool = False,
                 feature_set: str = DEFAULT_FEATURE_SET, drop_features: tuple[str, ...] = (),
                 shrinkage: float = 30.0,
                 final_params: dict[str, Any] | None = None) -> None:
        self.seed = seed
        self.n_bootstrap = n_bootstrap
        self.n_folds = n_folds
        self.moderators = moderators
        self.feature_set = feature_set
        self.drop_features = drop_features
        self.shrinkage = shrinkage
        self.final_params = final_params

    def _prepare(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None,
                 counterfactual: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray,
                                                               np.ndarray, pd.DataFrame, np.ndarray]:
        """(features, nuisance X, y, treated, groups, rows of both arms with the row each comes from)."""
        features = require_frame(X, type(self).__name__).reset_index(drop=True)
        y = np.asarray(y, dtype=np.float64)
        t = treated(features)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if t.sum() < 50 or (~t).sum() < 50:
            raise NotEnoughHistory(f"too few treated ({t.sum()}) or untreated ({(~t).sum()}) pairs for a "
                                   f"{self.name}")
        if counterfactual is None:
            raise ValueError(f"{type(self).__name__} needs the counterfactual plan features of the untreated rows")
        categories = self._start(features)
        x = nuisance_matrix(features, categories)
        cf = counterfactual_rows(features, counterfactual.reset_index(drop=True))
        both = pd.concat([features[t], cf[~t]], ignore_index=False)
        source = both.index.to_numpy()
        both = both.reset_index(drop=True)
        has_w = treated(both)
        return features, x, y, t, groups, both[has_w].reset_index(drop=True), source[has_w]

    def _propensity(self, x: pd.DataFrame, t: np.ndarray, folds: np.ndarray) -> np.ndarray:
        """Cross-fitted e(X), clipped; its distribution goes to `diagnostics_`."""
        raw = np.empty(len(x))
        for k in range(self.n_folds):
            fit_rows, out_rows = folds != k, folds == k
            clf = lgb.LGBMClassifier(**lgb_params(self.seed + k))
            clf.fit(x[fit_rows], t[fit_rows])
            raw[out_rows] = np.asarray(clf.predict_proba(x[out_rows]))[:, 1]
        lo, hi = PROPENSITY_CLIP
        self.diagnostics_.update({f"propensity_q{int(q * 100):02d}": float(v)
                                  for q, v in zip(PROPENSITY_QUANTILES, np.quantile(raw, PROPENSITY_QUANTILES),
                                                  strict=True)})
        self.diagnostics_.update(
            propensity_mean_treated=float(raw[t].mean()), propensity_mean_untreated=float(raw[~t].mean()),
            trimmed_low_share=float((raw < lo).mean()), trimmed_high_share=float((raw > hi).mean()))
        return np.clip(raw, lo, hi)

    def _regress(self, x: pd.DataFrame, y: np.ndarray, fit_mask: np.ndarray, folds: np.ndarray,
                 predict_x: pd.DataFrame, predict_folds: np.ndarray, seed: int) -> np.ndarray:
        """Out-of-fold predictions: for each fold k, a model fitted on the `fit_mask` rows outside fold k
        predicts the `predict_x` rows of fold k."""
        out = np.empty(len(predict_x))
        for k in range(self.n_folds):
            rows = fit_mask & (folds != k)
            target = predict_folds == k
            if not target.any():
                continue
            model = lgb.LGBMRegressor(**lgb_params(seed + k)).fit(x[rows], y[rows])
            out[target] = model.predict(predict_x[target])
        return out


def _with_w(x: pd.DataFrame, rows: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """Nuisance X beside the course description W (the final stage's inputs except the course prior)."""
    w = pd.DataFrame({n: rows[n].to_numpy(np.float64) if n in rows.columns else np.nan for n in names},
                     index=x.index)
    return pd.concat([x, w], axis=1)


class DRLearnerEffect(_CrossFitted):
    """The DR-learner of the module docstring; `fit(X, y, groups, counterfactual)` then `effect`."""

    name = "dr_learner"

    def fit(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None = None,
            counterfactual: pd.DataFrame | None = None, progress: Progress | None = None) -> DRLearnerEffect:
        """Fit on training pairs (as `XLearnerEffect.fit`; `counterfactual` is required). Returns self."""
        say = progress or (lambda _m: None)
        features, x, y, t, groups, rows, source = self._prepare(X, y, groups, counterfactual)
        self.diagnostics_ = {"pairs": float(len(features)), "treated_share": float(t.mean())}
        folds = group_folds(groups, self.n_folds, self.seed)
        say(f"effect model (DR): propensity, outcome without and with training on {len(x):,} pairs")
        e = self._propensity(x, t, folds)
        mu0 = self._regress(x, y, ~t, folds, x, folds, self.seed + 11)
        w_names = tuple(n for n in self.effect_features_ if n.startswith(("plan_", "course_"))
                        and n != "course_prior")
        xw_fit = _with_w(x, features, w_names)
        xw_rows = _with_w(x.iloc[source].reset_index(drop=True), rows, w_names)
        mu1 = self._regress(xw_fit, y, t, folds, xw_rows, folds[source], self.seed + 12)
        ys, es, m0 = y[source], e[source], mu0[source]
        arm = t[source]
        phi = np.where(arm, mu1 - m0 + (ys - mu1) / es, mu1 - m0 - (ys - m0) / (1.0 - es))
        self.diagnostics_.update(mean_pseudo_outcome_treated=float(phi[arm].mean()),
                                 mean_pseudo_outcome_untreated=float(phi[~arm].mean()) if (~arm).any()
                                 else float("nan"))
        self._fit_final(rows, phi, np.ones(len(rows)), groups[source], say)
        return self


class RLearnerEffect(_CrossFitted):
    """The R-learner of the module docstring; `fit(X, y, groups, counterfactual)` then `effect`."""

    name = "r_learner"

    def fit(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None = None,
            counterfactual: pd.DataFrame | None = None, progress: Progress | None = None) -> RLearnerEffect:
        """Fit on training pairs (as `XLearnerEffect.fit`; `counterfactual` is required). Returns self."""
        say = progress or (lambda _m: None)
        features, x, y, t, groups, rows, source = self._prepare(X, y, groups, counterfactual)
        self.diagnostics_ = {"pairs": float(len(features)), "treated_share": float(t.mean())}
        folds = group_folds(groups, self.n_folds, self.seed)
        say(f"effect model (R): propensity and outcome on {len(x):,} pairs")
        e = self._propensity(x, t, folds)
        m = self._regress(x, y, np.ones(len(x), dtype=bool), folds, x, folds, self.seed + 13)
        ry, rt = (y - m)[source], (t - e)[source]
        self.diagnostics_["r_loss_baseline"] = float(np.mean(ry ** 2))
        self._fit_final(rows, ry / rt, rt ** 2, groups[source], say)
        return self
