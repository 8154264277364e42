"""Parameters and pure functions of the generator's causal model (see the package docstring).

Everything here is deterministic and vectorised; the simulation in `simulate.py` draws the noise and
calls these functions, and the ground truth in `truth.py` calls the same functions with the noise set
to its mean, so the truth is the expectation under exactly this model. What a world may change comes in
as a `World` (`worlds.py`); every function defaults to the demo world, and a mechanism that is off leaves
the arithmetic exactly as it was.
"""

from __future__ import annotations

import numpy as np

from features.constants import ASSESSMENT_METHODS, POSITION_TYPES, TRAINING_FORMATS
from features.generator.worlds import DAYS_PER_MONTH, DEFAULT_WORLD, World

Values = np.ndarray | float  # an array, or one number broadcast against the others

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
METHOD_BIAS = dict(zip(ASSESSMENT_METHODS, DEFAULT_WORLD.method_bias, strict=True))  # the demo world's
METHOD_SD = dict(zip(ASSESSMENT_METHODS, DEFAULT_WORLD.method_sd, strict=True))

# ---------------------------------------------------------------------------------------------------------
# Training: effect = base(JP) · format · quality · target weight · band · openness, capped below S_MAX.
# ---------------------------------------------------------------------------------------------------------
BASE_EFFECT = 0.6  # the effect of a very long course, in levels …
BASE_JP = 45.0  # … reached with this time constant in JP
FORMAT_FACTOR = dict(zip(TRAINING_FORMATS, DEFAULT_WORLD.format_factor, strict=True))  # the demo world's
FORMAT_FACTORS = np.array([FORMAT_FACTOR[f] for f in TRAINING_FORMATS])
BELOW_BAND_SLOPE = 0.6  # the band factor loses this much per level below min_level
ABOVE_BAND_FACTOR = 0.05  # a participant already above the band gains almost nothing
OPENNESS_ON_EFFECT = DEFAULT_WORLD.openness_on_effect
# Completion: P(complete) = sigmoid(logit by format + COMPLETION_OPENNESS · openness).
COMPLETION_LOGIT = dict(zip(TRAINING_FORMATS, DEFAULT_WORLD.completion_logit, strict=True))
COMPLETION_OPENNESS = DEFAULT_WORLD.completion_openness


def tenure_effect(years: np.ndarray) -> np.ndarray:
    """Rise of the attractor with years of service (0 at hire, up to TENURE_GAIN)."""
    return TENURE_GAIN * (1.0 - np.exp(-np.maximum(years, 0.0) / TENURE_SCALE))


def growth_rate(openness: np.ndarray) -> np.ndarray:
    """Monthly share of the distance to the attractor closed by natural growth."""
    return GROWTH_RATE * np.exp(GROWTH_OPENNESS * openness)


def openness_multiplier(openness: Values, world: World = DEFAULT_WORLD) -> np.ndarray:
    """How much of a training's effect a person takes up (mean ≈ 1 over the population)."""
    a = world.openness_on_effect
    return np.exp(a * openness - a**2 / 2)


def base_effect(hours_jp: Values) -> np.ndarray:
    """Effect of a course of this length before format, quality, band and openness."""
    return BASE_EFFECT * (1.0 - np.exp(-np.asarray(hours_jp, dtype="float64") / BASE_JP))


def band_factor(level: np.ndarray, min_level: Values, max_level: Values) -> np.ndarray:
    """1 inside [min_level, max_level + 1), shrinking below it, ABOVE_BAND_FACTOR above it."""
    level = np.asarray(level, dtype="float64")
    below = np.clip(1.0 - BELOW_BAND_SLOPE * (min_level - level), 0.0, 1.0)
    return np.where(level < min_level, below, np.where(level >= max_level + 1, ABOVE_BAND_FACTOR, 1.0))


def ceiling_factor(level: np.ndarray, world: World) -> np.ndarray:
    """Diminishing returns near the top: 1 up to ceiling_start, down to 1 − ceiling at level 5."""
    start = world.ceiling_start
    height = np.clip((np.asarray(level, dtype="float64") - start) / (5.0 - start), 0.0, 1.0)
    return 1.0 - world.ceiling * height**2


def training_shift(hours_jp: Values, format_index: np.ndarray | int, quality: Values, weight: Values,
                   level: np.ndarray, min_level: Values, max_level: Values, openness: Values,
                   world: World = DEFAULT_WORLD, factor: np.ndarray | None = None) -> np.ndarray:
    """Uncapped shift of the level (and its attractor) from completing a training, per targeted competency.

    `factor` multiplies in what the world adds per person, course and competency (transfer, spacing,
    responsiveness; `effect_factor`); the ceiling is applied here, from the level at completion.
    """
    shift = (base_effect(hours_jp) * np.asarray(world.format_factor)[format_index] * quality * weight
             * band_factor(level, min_level, max_level) * openness_multiplier(openness, world))
    if world.ceiling > 0:
        shift = shift * ceiling_factor(level, world)
    if factor is not None:
        shift = shift * factor
    return shift


def transfer_factor(family: np.ndarray, domain: np.ndarray, world: World) -> np.ndarray:
    """Share of a course's effect that transfers to the job: 1 in the course's own job family (domain),
    1 − transfer in another one, 1 − transfer · transfer_generic for a generic course (domain −1)."""
    mismatch = np.where(domain < 0, world.transfer_generic, np.where(domain == family, 0.0, 1.0))
    return 1.0 - world.transfer * mismatch


def spacing_factor(days_since: np.ndarray, world: World) -> np.ndarray:
    """Share of a course's effect on a competency kept when the last course on it ended `days_since` ago."""
    return 1.0 - world.spacing * np.exp(-np.asarray(days_since, dtype="float64")
                                        / (world.spacing_months * DAYS_PER_MONTH))


def capped_shift(total: np.ndarray, systematic: np.ndarray) -> np.ndarray:
    """The summed shifts of one month, capped so S never passes S_MAX."""
    return np.minimum(total, SHIFT_CAP * (S_MAX - systematic))


def split_effect(total: np.ndarray, fading_total: np.ndarray, systematic: np.ndarray,
                 fading: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """With decay: the capped shifts of one month as (lasting, fading) parts, capped so S + F ≤ S_MAX.

    The cap scales both parts by the same ratio, so each course keeps its format's share of fading.
    """
    effect = capped_shift(total, systematic + fading)
    ratio = np.divide(effect, total, out=np.zeros_like(effect), where=total > 0)
    fade = fading_total * ratio
    return effect - fade, fade


def completion_probability(format_index: np.ndarray, openness: np.ndarray, world: World = DEFAULT_WORLD,
                           trace: np.ndarray | None = None, reluctance: np.ndarray | None = None) -> np.ndarray:
    """P(complete); `trace` (the log responsiveness) and `reluctance` (ρ) move the logit when the world
    says so (each term is skipped when its strength is 0, so the demo world's arithmetic is unchanged)."""
    logits = np.asarray(world.completion_logit)[format_index]
    x = logits + world.completion_openness * openness
    if trace is not None and world.responsiveness_on_completion:
        x = x + world.responsiveness_on_completion * trace
    if reluctance is not None and world.reluctance:
        x = x - world.reluctance * reluctance
    return 1.0 / (1.0 + np.exp(-x))


def attractor(raw: np.ndarray, boost: np.ndarray, top: float | np.ndarray = S_MAX) -> np.ndarray:
    """The level S grows toward: the person's raw attractor plus the lasting training boosts, bounded
    (below S_MAX − F when part of the gains fades, so S + F stays ≤ S_MAX)."""
    return np.clip(raw + boost, S_MIN, top)


def drift(systematic: np.ndarray, raw: np.ndarray, boost: np.ndarray, rate: np.ndarray,
          top: float | np.ndarray = S_MAX) -> np.ndarray:
    """One month of natural growth of S toward its attractor (the noise-free part of the step)."""
    return systematic + rate * (attractor(raw, boost, top) - systematic)


def noisy_step(systematic: np.ndarray, transient: np.ndarray, raw: np.ndarray, boost: np.ndarray,
               rate: np.ndarray, u_systematic: np.ndarray, u_transient: np.ndarray, world: World = DEFAULT_WORLD,
               fading: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One month of the true dynamics given uniforms in [-1, 1): drift, then tapered symmetric shocks.

    The shocks' half-widths depend only on the state before the draw, so each has mean zero. With a
    fading part F, S is kept in [S_MIN, S_MAX − F] (F only shrinks, so S + F stays ≤ S_MAX); F itself
    decays by `decay`, deterministically.
    """
    top = S_MAX if fading is None else S_MAX - fading
    s = drift(systematic, raw, boost, rate, top)
    s = s + u_systematic * np.clip(np.minimum(s - S_MIN, top - s), 0.0, S_STEP * world.level_noise)
    n = N_RHO * transient + u_transient * np.clip(N_MAX - N_RHO * np.abs(transient), 0.0, N_STEP * world.level_noise)
    return s, n


def decay(fading: np.ndarray, world: World) -> np.ndarray:
    """One month of decay of the fading part of the gains."""
    return world.decay_retention * fading


def expected_level(systematic: np.ndarray, boost: np.ndarray, raw_path: np.ndarray, rate: np.ndarray,
                   transient: np.ndarray, world: World = DEFAULT_WORLD,
                   fading: np.ndarray | None = None) -> np.ndarray:
    """E[L at the horizon]: S stepped with the noise at its mean, plus the decayed transient part (and the
    decayed fading part of the gains, when the world has one).

    `raw_path[k]` is the raw attractor during month k of the horizon (k = 0 … H−1); the shocks of S and
    N have mean zero whatever their (state-dependent) width, the step is linear in S, and F (hence the
    bound S_MAX − F of the attractor) is a known deterministic path, so this is the exact conditional
    expectation.
    """
    s = systematic
    if fading is None:
        for raw in raw_path:
            s = drift(s, raw, boost, rate)
        return s + N_RHO ** len(raw_path) * transient
    f = fading
    for raw in raw_path:
        s = drift(s, raw, boost, rate, S_MAX - f)
        f = decay(f, world)
    return s + f + N_RHO ** len(raw_path) * transient
