"""Parameters and pure functions of the generator's causal model (see the package docstring).

Everything here is deterministic and vectorised; the simulation in `simulate.py` draws the noise and
calls these functions, and the ground truth in `truth.py` calls the same functions with the noise set
to its mean, so the truth is the expectation under exactly this model.
"""

from __future__ import annotations

import numpy as np

from features.constants import ASSESSMENT_METHODS, POSITION_TYPES, TRAINING_FORMATS

# ---------------------------------------------------------------------------------------------------------
# The true level L = S + N: a systematic part S kept in [S_MIN, S_MAX] and a transient part |N| ≤ N_MAX,
# so L stays in [1, 5] without clipping (clipping would make the expectation non-linear).
# ---------------------------------------------------------------------------------------------------------
N_MAX = 0.3
S_MIN = 1.0 + N_MAX
S_MAX = 5.0 - N_MAX
N_RHO = 0.85  # monthly persistence of the transient part
N_STEP = 0.12  # half-width of its uniform monthly innovation (tapered near ±N_MAX)
S_STEP = 0.05  # half-width of the permanent monthly shock of S (tapered near the bounds)
SHIFT_CAP = 0.9  # a training never moves S more than this share of the way to S_MAX

GROWTH_RATE = 0.03  # monthly pull of S toward the attractor, times exp(GROWTH_OPENNESS * openness)
GROWTH_OPENNESS = 0.25
TENURE_GAIN = 0.5  # the attractor rises by up to this much with years of service …
TENURE_SCALE = 10.0  # … with this time constant in years
ABILITY_LOADING = 0.3  # general ability g shifts every competency's attractor
CLUSTER_LOADING = 0.2  # shared factor of related competencies
OWN_LOADING = 0.2  # the person × competency residual
OPENNESS_ON_CHANGE = 0.15  # openness also raises the attractor of Mengelola Perubahan
UNRELATED_LEVEL = 1.35  # attractor of a technical competency outside one's job

# Attractor of each position type (the level its holders grow toward, before tenure and person effects).
POSITION_LEVEL = dict(zip(POSITION_TYPES, (3.7, 3.1, 2.6, 1.55, 3.7, 3.15, 2.6, 1.85, 2.65, 2.2, 1.8, 1.5),
                          strict=True))
POSITION_LEVELS = np.array([POSITION_LEVEL[t] for t in POSITION_TYPES])

# ---------------------------------------------------------------------------------------------------------
# Measurement: level = L + bias + sd · z, rounded to 2 decimals and clipped to [1, 5].
# ---------------------------------------------------------------------------------------------------------
METHOD_BIAS = dict(zip(ASSESSMENT_METHODS, (0.0, 0.0, 0.0, 0.2), strict=True))
METHOD_SD = dict(zip(ASSESSMENT_METHODS, (0.25, 0.35, 0.45, 0.55), strict=True))

# ---------------------------------------------------------------------------------------------------------
# Training: effect = base(JP) · format · quality · target weight · band · openness, capped below S_MAX.
# ---------------------------------------------------------------------------------------------------------
BASE_EFFECT = 0.6  # the effect of a very long course, in levels …
BASE_JP = 45.0  # … reached with this time constant in JP
FORMAT_FACTOR = dict(zip(TRAINING_FORMATS, (1.0, 0.6, 1.15, 1.5, 1.35, 1.1, 0.35, 0.85), strict=True))
FORMAT_FACTORS = np.array([FORMAT_FACTOR[f] for f in TRAINING_FORMATS])
BELOW_BAND_SLOPE = 0.6  # the band factor loses this much per level below min_level
ABOVE_BAND_FACTOR = 0.05  # a participant already above the band gains almost nothing
OPENNESS_ON_EFFECT = 0.3
# Completion: P(complete) = sigmoid(logit by format + COMPLETION_OPENNESS · openness).
COMPLETION_LOGIT = dict(zip(TRAINING_FORMATS, (3.0, 0.9, 2.3, 2.5, 2.5, 2.8, 3.5, 3.2), strict=True))
COMPLETION_OPENNESS = 0.9


def tenure_effect(years: np.ndarray) -> np.ndarray:
    """Rise of the attractor with years of service (0 at hire, up to TENURE_GAIN)."""
    return TENURE_GAIN * (1.0 - np.exp(-np.maximum(years, 0.0) / TENURE_SCALE))


def growth_rate(openness: np.ndarray) -> np.ndarray:
    """Monthly share of the distance to the attractor closed by natural growth."""
    return GROWTH_RATE * np.exp(GROWTH_OPENNESS * openness)


def openness_multiplier(openness: np.ndarray) -> np.ndarray:
    """How much of a training's effect a person takes up (mean ≈ 1 over the population)."""
    return np.exp(OPENNESS_ON_EFFECT * openness - OPENNESS_ON_EFFECT**2 / 2)


def base_effect(hours_jp: np.ndarray) -> np.ndarray:
    """Effect of a course of this length before format, quality, band and openness."""
    return BASE_EFFECT * (1.0 - np.exp(-np.asarray(hours_jp, dtype="float64") / BASE_JP))


def band_factor(level: np.ndarray, min_level: np.ndarray, max_level: np.ndarray) -> np.ndarray:
    """1 inside [min_level, max_level + 1), shrinking below it, ABOVE_BAND_FACTOR above it."""
    level = np.asarray(level, dtype="float64")
    below = np.clip(1.0 - BELOW_BAND_SLOPE * (min_level - level), 0.0, 1.0)
    return np.where(level < min_level, below, np.where(level >= max_level + 1, ABOVE_BAND_FACTOR, 1.0))


def training_shift(hours_jp: np.ndarray, format_index: np.ndarray, quality: np.ndarray, weight: np.ndarray,
                   level: np.ndarray, min_level: np.ndarray, max_level: np.ndarray,
                   openness: np.ndarray) -> np.ndarray:
    """Uncapped shift of the level (and its attractor) from completing a training, per targeted competency."""
    return (base_effect(hours_jp) * FORMAT_FACTORS[format_index] * quality * weight
            * band_factor(level, min_level, max_level) * openness_multiplier(openness))


def capped_shift(total: np.ndarray, systematic: np.ndarray) -> np.ndarray:
    """The summed shifts of one month, capped so S never passes S_MAX."""
    return np.minimum(total, SHIFT_CAP * (S_MAX - systematic))


def completion_probability(format_index: np.ndarray, openness: np.ndarray) -> np.ndarray:
    logits = np.array([COMPLETION_LOGIT[f] for f in TRAINING_FORMATS])[format_index]
    return 1.0 / (1.0 + np.exp(-(logits + COMPLETION_OPENNESS * openness)))


def attractor(raw: np.ndarray, boost: np.ndarray) -> np.ndarray:
    """The level S grows toward: the person's raw attractor plus the lasting training boosts, bounded."""
    return np.clip(raw + boost, S_MIN, S_MAX)


def drift(systematic: np.ndarray, raw: np.ndarray, boost: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """One month of natural growth of S toward its attractor (the noise-free part of the step)."""
    return systematic + rate * (attractor(raw, boost) - systematic)


def noisy_step(systematic: np.ndarray, transient: np.ndarray, raw: np.ndarray, boost: np.ndarray,
               rate: np.ndarray, u_systematic: np.ndarray, u_transient: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One month of the true dynamics given uniforms in [-1, 1): drift, then tapered symmetric shocks.

    The shocks' half-widths depend only on the state before the draw, so each has mean zero.
    """
    s = drift(systematic, raw, boost, rate)
    s = s + u_systematic * np.clip(np.minimum(s - S_MIN, S_MAX - s), 0.0, S_STEP)
    n = N_RHO * transient + u_transient * np.clip(N_MAX - N_RHO * np.abs(transient), 0.0, N_STEP)
    return s, n


def expected_level(systematic: np.ndarray, boost: np.ndarray, raw_path: np.ndarray, rate: np.ndarray,
                   transient: np.ndarray) -> np.ndarray:
    """E[L at the horizon]: S stepped with the noise at its mean, plus the decayed transient part.

    `raw_path[k]` is the raw attractor during month k of the horizon (k = 0 … H−1); the shocks of S and
    N have mean zero whatever their (state-dependent) width, and the step is linear in S, so this is the
    exact conditional expectation.
    """
    s = systematic
    for raw in raw_path:
        s = drift(s, raw, boost, rate)
    return s + N_RHO ** len(raw_path) * transient
