"""Empirical-Bayes shrinkage of candidate gains before a plan is optimised (DECISIONS.md, the optimiser's
curse: choosing the largest of many noisy estimates selects overestimates, so a tight budget would go to
the pairs whose evidence is thinnest). `engine.plans` shrinks every candidate's expected gain with
`shrunk_gains` before pruning and the MILP, and reports the unshrunk estimates beside the shrunk total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.recommend import Z80


def shrunk_gains(pool: pd.DataFrame, intervals: pd.DataFrame | None) -> np.ndarray:
    """Each candidate's expected gain shrunk toward what its training supports, by its own uncertainty
    (empirical Bayes against the optimiser's curse, DECISIONS.md).

    Pair i has the estimate x_i with standard error s_i = (upper − lower) / (2·Z80) from its 80% interval
    (thin-evidence pairs have lower = 0, so a wide one). Its prior mean m_i is the mean estimate of the
    same training for the *other* employees (leave-one-out; a training with one pair: the mean of every
    pair). The between-pair variance τ² comes from the data by the method of moments: the mean squared
    deviation from m_i (corrected for the leave-one-out mean's own variance) minus the mean s². The
    posterior mean m_i + τ²/(τ² + s_i²)·(x_i − m_i) is kept inside the pair's own interval. A certain pair
    (s_i = 0) keeps its estimate; with no intervals every estimate is kept."""
    x = pool["expected_gain"].to_numpy(np.float64)
    if intervals is None or len(pool) < 2:
        return x.copy()
    lower = intervals["lower"].to_numpy(np.float64)
    upper = intervals["upper"].to_numpy(np.float64)
    lower = np.where(np.isfinite(lower), np.minimum(lower, x), x)
    upper = np.where(np.isfinite(upper), np.maximum(upper, x), x)
    s2 = ((upper - lower) / (2.0 * Z80)) ** 2
    group = pd.factorize(pool["training_id"].astype(str))[0]
    size = np.bincount(group).astype(np.float64)[group]
    total = np.bincount(group, weights=x)[group]
    prior = np.where(size > 1, (total - x) / np.maximum(size - 1, 1), x.mean())
    inflation = np.where(size > 1, size / np.maximum(size - 1, 1), 1.0)  # var(x − m_loo) = (τ² + s²)·n/(n−1)
    tau2 = max(float(np.mean((x - prior) ** 2 / inflation) - np.mean(s2)), 0.0)
    weight = np.where(s2 > 0, tau2 / np.maximum(tau2 + s2, 1e-300), 1.0)
    return np.clip(prior + weight * (x - prior), lower, upper)
