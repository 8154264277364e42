"""A family of worlds: the generator's structural mechanisms, each switchable with a strength.

A `World` holds every switch and strength of the causal model that a world may change (the package
docstring says what each mechanism does and how the truth accounts for it). `World()` is the demo world,
the one the generator has always drawn; `NAMED_WORLDS` holds worlds that differ in structure, not only in
seed; `world_from_spec("random:SEED")` draws mechanisms and strengths reproducibly from a seed. Names are
stable: benchmarks iterate over them. Nothing here is exported with the tables: `truth/world.json` records
the world, and only there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from features.constants import ASSESSMENT_METHODS, TRAINING_FORMATS

# Purposes of the world's own random streams (independent of the history's streams, so switching one
# mechanism on changes no other draw, and the default world draws exactly what it always drew).
STREAM_RESPONSIVENESS = 0
STREAM_QUALITY = 1
STREAM_RATERS = 2
STREAM_MESSY = 3
STREAM_RELUCTANCE = 4
_STREAM_KEY = 7_190_2026
_RANDOM_KEY = 5_150_2026
DAYS_PER_MONTH = 365.25 / 12

_PER_FORMAT = ("format_factor", "completion_logit", "decay_share")
_PER_METHOD = ("method_bias", "method_sd")
_SHARES = ("transfer", "transfer_generic", "spacing", "ceiling", "nonresponder_share", "messy",
           "reluctance_unit_share")
# Parameters added after worlds were first recorded: `to_json` leaves them out while they hold their
# default, so the truth/world.json of every world drawn before them stays byte-identical.
_LATER = ("reluctance", "reluctance_on_enrolment", "reluctance_unit_share")


@dataclass(frozen=True)
class World:
    """Every mechanism's switch and strength; the defaults are the demo world (per-format tuples follow
    `TRAINING_FORMATS`, per-method tuples `ASSESSMENT_METHODS`)."""

    name: str = "default"
    description: str = "the demo world: the causal model the generator has always drawn"
    # Training effect: format factor (× base(JP) · quality · weight · band · openness) and take-up by openness.
    format_factor: tuple[float, ...] = (1.0, 0.6, 1.15, 1.5, 1.35, 1.1, 0.35, 0.85)
    openness_on_effect: float = 0.3
    # Completion: P = sigmoid(logit by format + completion_openness · o [+ trace of responsiveness]).
    completion_logit: tuple[float, ...] = (3.0, 0.9, 2.3, 2.5, 2.5, 2.8, 3.5, 3.2)
    completion_openness: float = 0.9
    # Course quality within one format: quality × lognormal with this sd of its log (0 = the fixed qualities).
    quality_spread: float = 0.0
    # Transfer to the job: a course whose domain is another job family loses this share of its effect; a
    # generic course (no domain) loses transfer × transfer_generic.
    transfer: float = 0.0
    transfer_generic: float = 0.3
    # Spacing: a course on a competency d days after the last completed one on it keeps
    # 1 − spacing · exp(−d / (spacing_months · 30.4 days)) of its effect on that competency.
    spacing: float = 0.0
    spacing_months: float = 6.0
    # Decay: this share of a gain (by format) fades with the half-life; the rest lasts.
    decay_share: tuple[float, ...] = (0.0,) * len(TRAINING_FORMATS)
    decay_half_life: float = 6.0
    # Ceiling: gains shrink by ceiling · ((level − ceiling_start) / (5 − ceiling_start))² above ceiling_start.
    ceiling: float = 0.0
    ceiling_start: float = 2.5
    # Responsiveness: a latent per-person multiplier exp(sd · z − sd²/2), times nonresponder_factor for a
    # share of people; its log also moves the completion logit and the SKP work-result score.
    responsiveness_sd: float = 0.0
    nonresponder_share: float = 0.0
    nonresponder_factor: float = 0.2
    responsiveness_on_completion: float = 0.0
    responsiveness_on_skp: float = 0.0
    # Selection into training: loadings of the monthly hazard and of the course choice.
    hazard_openness: float = 0.45
    hazard_observed_gap: float = 0.6
    choice_observed_gap: float = 1.6
    hazard_true_gap: float = 0.0  # unobservable: the mean true gap (not the assessed one)
    hazard_responsiveness: float = 0.0  # unobservable: the log responsiveness
    choice_true_gain: float = 0.0  # unobservable: Σ weight × true gap × responsiveness × openness take-up
    # Measurement: assessed = L + bias + sd · z (+ a rater leniency per OPD for penilaian_360 and uji_kompetensi).
    method_bias: tuple[float, ...] = (0.0, 0.0, 0.0, 0.2)
    method_sd: tuple[float, ...] = (0.25, 0.35, 0.45, 0.55)
    rater_leniency_sd: float = 0.0
    # Noise of the true level: scales the half-widths of the monthly shocks of S and N.
    level_noise: float = 1.0
    # Messy records the contract still accepts (0 = clean; 1 = every kind at its full rate).
    messy: float = 0.0
    # Persistent reluctance: ρ = max(0, z) per person, z ~ N(0, 1) with reluctance_unit_share of its variance
    # shared within the unit (a unit's learning culture); the completion logit falls by reluctance · ρ and
    # the monthly hazard of starting a course is × exp(−reluctance_on_enrolment · ρ).
    reluctance: float = 0.0
    reluctance_on_enrolment: float = 0.0
    reluctance_unit_share: float = 0.0

    def __post_init__(self) -> None:
        for name in _PER_FORMAT:
            if len(getattr(self, name)) != len(TRAINING_FORMATS):
                raise ValueError(f"world {self.name}: {name} needs one value per format {TRAINING_FORMATS}")
        for name in _PER_METHOD:
            if len(getattr(self, name)) != len(ASSESSMENT_METHODS):
                raise ValueError(f"world {self.name}: {name} needs one value per method {ASSESSMENT_METHODS}")
        for name in _SHARES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"world {self.name}: {name} must be in [0, 1]")
        if not all(0.0 <= d <= 1.0 for d in self.decay_share):
            raise ValueError(f"world {self.name}: decay_share must be in [0, 1]")
        if min(self.format_factor) < 0 or min(self.method_sd) < 0 or self.level_noise < 0:
            raise ValueError(f"world {self.name}: format factors, method sds and level_noise must be ≥ 0")
        if (self.spacing_months <= 0 or self.decay_half_life <= 0 or not 1.0 <= self.ceiling_start < 5.0
                or not 0.0 < self.nonresponder_factor <= 1.0 or self.quality_spread < 0
                or self.responsiveness_sd < 0 or self.rater_leniency_sd < 0 or self.reluctance < 0
                or self.reluctance_on_enrolment < 0):
            raise ValueError(f"world {self.name}: a time constant, ceiling_start or spread is out of range")

    # Which mechanisms are on (each off in the default world, so its code path is today's).
    @property
    def decays(self) -> bool:
        return any(d > 0 for d in self.decay_share)

    @property
    def responsive(self) -> bool:
        return self.responsiveness_sd > 0 or self.nonresponder_share > 0

    @property
    def reluctant(self) -> bool:
        return self.reluctance > 0 or self.reluctance_on_enrolment > 0

    @property
    def decay_retention(self) -> float:
        """Share of the fading part left after one month."""
        return float(0.5 ** (1.0 / self.decay_half_life))

    def mechanisms(self) -> list[str]:
        """The structural mechanisms this world switches on (relative to the demo world)."""
        default = World()
        on = [name for name, flag in (
            ("transfer", self.transfer > 0), ("spacing", self.spacing > 0), ("decay", self.decays),
            ("ceiling", self.ceiling > 0), ("quality_spread", self.quality_spread > 0),
            ("format_order", _order(self.format_factor) != _order(default.format_factor)),
            ("responsiveness", self.responsive),
            ("hidden_selection", max(self.hazard_true_gap, self.hazard_responsiveness, self.choice_true_gain) > 0),
            ("no_observed_selection", self.hazard_observed_gap == 0 and self.choice_observed_gap == 0),
            ("rater_bias", self.method_bias != default.method_bias or self.rater_leniency_sd > 0),
            ("noise", self.level_noise != 1.0 or self.method_sd != default.method_sd),
            ("messy", self.messy > 0), ("reluctance", self.reluctant)) if flag]
        return on

    def to_json(self) -> dict[str, Any]:
        """name, description and every parameter (per-format and per-method values keyed by name)."""
        params: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key in ("name", "description") or (key in _LATER and value == getattr(DEFAULT_WORLD, key)):
                continue
            if key in _PER_FORMAT:
                value = dict(zip(TRAINING_FORMATS, value, strict=True))
            elif key in _PER_METHOD:
                value = dict(zip(ASSESSMENT_METHODS, value, strict=True))
            params[key] = value
        return {"name": self.name, "description": self.description, "mechanisms": self.mechanisms(),
                "parameters": params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        """The inverse of `to_json` (unknown parameters are an error, missing ones take the default)."""
        known = {f.name for f in fields(cls)}
        params = dict(data.get("parameters", {}))
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown world parameters: {', '.join(unknown)}")
        for key in _PER_FORMAT:
            if key in params:
                params[key] = tuple(float(params[key][f]) for f in TRAINING_FORMATS)
        for key in _PER_METHOD:
            if key in params:
                params[key] = tuple(float(params[key][m]) for m in ASSESSMENT_METHODS)
        return cls(name=data.get("name", "custom"), description=data.get("description", ""), **params)


def _order(values: tuple[float, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(-np.asarray(values), kind="stable"))


def world_stream(seed: int, purpose: int) -> np.random.Generator:
    """The world's own random stream for one purpose (STREAM_*), from the generation seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAM_KEY, purpose]))


DEFAULT_WORLD = World()


def _per_format(**values: float) -> tuple[float, ...]:
    return tuple(values[f] for f in TRAINING_FORMATS)


def _reversed_formats(factors: tuple[float, ...]) -> tuple[float, ...]:
    """The same factors with the ranking of the formats reversed (the best becomes the worst)."""
    order = np.argsort(-np.asarray(factors), kind="stable")
    ranked = sorted(factors, reverse=True)
    out = [0.0] * len(factors)
    for rank, index in enumerate(order[::-1]):
        out[int(index)] = ranked[rank]
    return tuple(out)


_D = DEFAULT_WORLD
_FADING = _per_format(klasikal=0.5, e_learning=0.7, blended=0.35, coaching=0.2, mentoring=0.2, magang=0.25,
                      seminar=0.9, workshop=0.5)
_NAMED: tuple[World, ...] = (
    DEFAULT_WORLD,
    replace(_D, name="transfer", description="courses outside the employee's job family transfer 60% less "
            "(generic courses 18% less)", transfer=0.6),
    replace(_D, name="spacing", description="a course on a competency soon after another on it adds up to 75% "
            "less (time constant 6 months)", spacing=0.75),
    replace(_D, name="decay", description="part of every gain fades with a 6-month half-life: 90% for seminars "
            "… 20% for coaching", decay_share=_FADING),
    replace(_D, name="ceiling", description="diminishing returns near the top: gains shrink by up to 90% "
            "between level 2.5 and 5", ceiling=0.9),
    replace(_D, name="quality_spread", description="course quality varies within a format (log-sd 0.5), "
            "so the format says little about a course", quality_spread=0.5),
    replace(_D, name="format_reversed", description="format effects in the reverse order: seminars and "
            "e-learning work best, coaching and mentoring least", format_factor=_reversed_formats(_D.format_factor)),
    replace(_D, name="responders", description="persistent responsiveness: 30% gain a sixth, the rest vary "
            "(log-sd 0.4); low responders abandon more and score lower SKP", responsiveness_sd=0.4,
            nonresponder_share=0.3, nonresponder_factor=0.15, responsiveness_on_completion=1.2,
            responsiveness_on_skp=0.5),
    replace(_D, name="no_selection", description="no selection: who trains and what does not depend on "
            "openness or on the assessed gaps", hazard_openness=0.0, hazard_observed_gap=0.0,
            choice_observed_gap=0.0),
    replace(_D, name="hidden_selection", description="strong selection on unobservables: true gaps, openness "
            "and responsiveness decide who is sent to what, the assessed gaps do not",
            hazard_openness=1.0, hazard_observed_gap=0.0, choice_observed_gap=0.0, hazard_true_gap=1.5,
            hazard_responsiveness=1.0, choice_true_gain=4.0, responsiveness_sd=0.4,
            responsiveness_on_completion=0.5),
    replace(_D, name="lenient_raters", description="lenient methods (360 +0.5, uji kompetensi +0.2, CAT −0.1), "
            "lenient or strict OPDs (sd 0.25) and 20% more measurement noise", method_bias=(0.0, 0.2, -0.1, 0.5),
            method_sd=tuple(round(1.2 * s, 4) for s in _D.method_sd), rater_leniency_sd=0.25),
    replace(_D, name="noisy", description="noisier true levels (shocks × 1.6) and assessments (sd × 1.6)",
            level_noise=1.6, method_sd=tuple(round(1.6 * s, 4) for s in _D.method_sd)),
    replace(_D, name="messy", description="messy records the contract accepts: missing SKP years and post-tests, "
            "dates on abandoned courses, re-entered and rounded assessments, CRLF, quotes, BOM, padding",
            messy=1.0),
    replace(_D, name="kitchen_sink", description="every mechanism at a moderate strength, messy records "
            "included", format_factor=_per_format(klasikal=0.9, e_learning=0.8, blended=1.2, coaching=1.1,
                                                  mentoring=1.0, magang=1.3, seminar=0.4, workshop=1.4),
            quality_spread=0.3, transfer=0.4, spacing=0.5, decay_share=tuple(0.6 * d for d in _FADING),
            ceiling=0.6, responsiveness_sd=0.3, nonresponder_share=0.15, responsiveness_on_completion=0.8,
            responsiveness_on_skp=0.3, hazard_true_gap=0.8, hazard_responsiveness=0.5, choice_true_gain=1.5,
            method_bias=(0.0, 0.1, -0.05, 0.35), rater_leniency_sd=0.15, level_noise=1.2, messy=0.6),
    replace(_D, name="reluctance", description="persistent reluctance to train: half the people, more alike "
            "within a unit (30% of the trait), enrol less (hazard × e^(−0.6ρ)) and abandon more (logit − 2ρ)",
            reluctance=2.0, reluctance_on_enrolment=0.6, reluctance_unit_share=0.3),
)
NAMED_WORLDS: dict[str, World] = {w.name: w for w in _NAMED}
RANDOM_PREFIX = "random:"


def random_world(seed: int) -> World:
    """A random draw of mechanisms and strengths, the same for the same seed.

    Every strength is drawn whether or not its mechanism is switched on, in a fixed order, so a draw
    never depends on another's outcome. Reluctance is not in the pool: switching it on in some draws
    would change those draws' exports, and the benchmarks' held-out worlds are random draws whose
    results are recorded; the named world `reluctance` covers it.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _RANDOM_KEY]))
    n_f, n_m = len(TRAINING_FORMATS), len(ASSESSMENT_METHODS)

    def mechanism(p: float) -> bool:
        return bool(rng.random() < p)

    def uniform(lo: float, hi: float) -> float:
        return round(float(rng.uniform(lo, hi)), 4)

    permute = mechanism(0.6)
    order = rng.permutation(n_f)
    jitter = np.exp(rng.normal(0.0, 0.15, n_f))
    base = np.asarray(_D.format_factor)[order] if permute else np.asarray(_D.format_factor)
    format_factor = tuple(round(float(v), 4) for v in base * jitter)
    completion_logit = tuple(round(float(v), 4) for v in np.clip(np.asarray(_D.completion_logit)
                                                                 + rng.normal(0.0, 0.6, n_f), 0.0, 4.0))
    on_quality, quality = mechanism(0.5), uniform(0.2, 0.6)
    on_transfer, transfer, generic = mechanism(0.5), uniform(0.3, 0.8), uniform(0.0, 0.6)
    on_spacing, spacing, spacing_months = mechanism(0.5), uniform(0.3, 0.9), uniform(2.0, 12.0)
    on_decay, shares, half_life = mechanism(0.5), rng.uniform(0.1, 0.9, n_f), uniform(3.0, 12.0)
    on_ceiling, ceiling, ceiling_start = mechanism(0.5), uniform(0.4, 0.95), uniform(2.0, 3.5)
    on_resp, resp_sd, non_share, non_factor = mechanism(0.5), uniform(0.2, 0.7), uniform(0.0, 0.35), uniform(0.05, 0.4)
    on_completion, on_skp = uniform(0.5, 2.0), uniform(0.2, 0.8)
    openness_on_effect = uniform(0.0, 0.5)
    hazard_openness, hazard_observed, choice_observed = uniform(0.0, 1.2), uniform(0.0, 1.2), uniform(0.0, 2.5)
    on_hidden, true_gap, hidden_resp, true_gain = mechanism(0.5), uniform(0.0, 2.0), uniform(0.0, 1.5), uniform(0.0, 4.0)
    on_bias, bias = mechanism(0.5), rng.normal(0.0, 0.15, n_m)
    bias_360, sd_scale = uniform(0.0, 0.5), uniform(0.7, 1.6)
    on_raters, rater_sd = mechanism(0.5), uniform(0.1, 0.35)
    level_noise = uniform(0.6, 1.6)
    on_messy, messy = mechanism(0.4), uniform(0.3, 1.0)
    method_bias = (0.0, *(round(float(b), 4) for b in bias[1:3]), bias_360) if on_bias else _D.method_bias
    world = replace(
        _D, name=f"{RANDOM_PREFIX}{int(seed)}", format_factor=format_factor, completion_logit=completion_logit,
        openness_on_effect=openness_on_effect, quality_spread=quality if on_quality else 0.0,
        transfer=transfer if on_transfer else 0.0, transfer_generic=generic,
        spacing=spacing if on_spacing else 0.0, spacing_months=spacing_months,
        decay_share=tuple(round(float(s), 4) for s in shares) if on_decay else _D.decay_share,
        decay_half_life=half_life, ceiling=ceiling if on_ceiling else 0.0, ceiling_start=ceiling_start,
        responsiveness_sd=resp_sd if on_resp else 0.0, nonresponder_share=non_share if on_resp else 0.0,
        nonresponder_factor=non_factor, responsiveness_on_completion=on_completion if on_resp else 0.0,
        responsiveness_on_skp=on_skp if on_resp else 0.0, hazard_openness=hazard_openness,
        hazard_observed_gap=hazard_observed, choice_observed_gap=choice_observed,
        hazard_true_gap=true_gap if on_hidden else 0.0,
        hazard_responsiveness=hidden_resp if on_hidden and on_resp else 0.0,
        choice_true_gain=true_gain if on_hidden else 0.0, method_bias=method_bias,
        method_sd=tuple(round(s * sd_scale, 4) for s in _D.method_sd),
        rater_leniency_sd=rater_sd if on_raters else 0.0, level_noise=level_noise, messy=messy if on_messy else 0.0)
    described = ", ".join(world.mechanisms()) or "no structural mechanism"
    return replace(world, description=f"random draw {int(seed)}: {described}")


def world_names() -> list[str]:
    return list(NAMED_WORLDS)


def world_from_spec(spec: str | World) -> World:
    """A world from its name (`NAMED_WORLDS`) or `random:SEED`; a World is returned as it is."""
    if isinstance(spec, World):
        return spec
    text = str(spec).strip()
    if text in NAMED_WORLDS:
        return NAMED_WORLDS[text]
    if text.startswith(RANDOM_PREFIX):
        number = text[len(RANDOM_PREFIX):]
        if number.isdigit():
            return random_world(int(number))
    raise ValueError(f"unknown world {text!r}: choose one of {', '.join(NAMED_WORLDS)}, or random:SEED "
                     "(SEED a whole number ≥ 0)")
