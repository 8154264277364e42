"""The generator's state as arrays: the catalogue, each person's latent traits, the timeline of the history,
the state at the export month, and the records drawn (shared by `simulate.py` and `truth.py`).

Also what the generator knows and never exports: each course's subject domain (the job family it is
about, for transfer to the job), each person's responsiveness to training, and course quality.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from features.constants import POSITION_TYPES, TRAINING_FORMATS
from features.generator import model
from features.generator.catalogue import Position, standards
from features.generator.competencies import CORE_CLUSTERS, CORE_IDS, CORE_OFFSETS, TECHNICAL
from features.generator.population import Roster, first_of, month_index
from features.generator.trainings import Training
from features.generator.worlds import (
    STREAM_QUALITY,
    STREAM_RELUCTANCE,
    STREAM_RESPONSIVENESS,
    World,
    world_stream,
)

NO_PROMOTION = -(10**6)
EPOCH = date(1970, 1, 1)
NEVER = -(10.0**9)  # day number of "no course completed yet" (the spacing factor is then 1)
# The home job family of a technical competency is the one whose posts require it most; a few are set.
HOME_FAMILY = {"TKN-DAT": "teknologi_informasi"}


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_date(n: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + int(n))


@dataclass
class Catalogue:
    """The catalogue as arrays: competencies C, positions, trainings K (targets as dense K × C matrices)."""

    competency_ids: list[str]
    technical: np.ndarray  # bool C
    required: np.ndarray  # n_positions × C required level, 0 = not required
    position_type: np.ndarray  # n_positions, index into POSITION_TYPES
    trainings: list[Training]
    weight: np.ndarray  # K × C target weight, 0 = not targeted
    min_level: np.ndarray  # K × C
    max_level: np.ndarray  # K × C
    hours_jp: np.ndarray
    format_index: np.ndarray
    quality: np.ndarray
    popularity: np.ndarray
    cost: np.ndarray
    active: np.ndarray
    eligible_type: np.ndarray  # K × 12 bool
    eligible_pppk: np.ndarray  # K × 2 bool (pns, pppk)
    max_years: np.ndarray  # K, inf when no limit
    families: list[str] = field(default_factory=list)  # the job families, sorted
    position_family: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per position
    domain: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # K, family or −1 generic

    @classmethod
    def build(cls, competency_ids: list[str], roster: Roster, trainings: tuple[Training, ...]) -> Catalogue:
        cidx = {c: i for i, c in enumerate(competency_ids)}
        n_c, n_k = len(competency_ids), len(trainings)
        required = np.zeros((len(roster.positions), n_c), dtype=np.int64)
        for p_i, p in enumerate(roster.positions):
            for cid, level in standards(p):
                required[p_i, cidx[cid]] = level
        weight = np.zeros((n_k, n_c))
        lo = np.zeros((n_k, n_c))
        hi = np.zeros((n_k, n_c))
        eligible_type = np.ones((n_k, len(POSITION_TYPES)), dtype=bool)
        eligible_pppk = np.ones((n_k, 2), dtype=bool)
        for k, t in enumerate(trainings):
            for cid, a, b, w in t.targets:
                weight[k, cidx[cid]], lo[k, cidx[cid]], hi[k, cidx[cid]] = w, a, b
            if t.eligible_position_types:
                allowed = t.eligible_position_types.split(";")
                eligible_type[k] = [ptype in allowed for ptype in POSITION_TYPES]
            if t.eligible_employment:
                allowed = t.eligible_employment.split(";")
                eligible_pppk[k] = ["pns" in allowed, "pppk" in allowed]
        technical_ids = {cid for cid, _ in TECHNICAL}
        families = sorted({p.job_family for p in roster.positions})
        domains = course_domains(roster.positions, trainings)
        return cls(
            competency_ids=competency_ids,
            technical=np.array([c in technical_ids for c in competency_ids]),
            required=required,
            position_type=np.array([POSITION_TYPES.index(p.position_type) for p in roster.positions]),
            trainings=list(trainings), weight=weight, min_level=lo, max_level=hi,
            hours_jp=np.array([t.hours_jp for t in trainings], dtype="float64"),
            format_index=np.array([TRAINING_FORMATS.index(t.format) for t in trainings]),
            quality=np.array([t.quality for t in trainings]),
            popularity=np.array([t.popularity for t in trainings]),
            cost=np.array([t.cost_idr for t in trainings], dtype="float64"),
            active=np.array([t.active for t in trainings]),
            eligible_type=eligible_type, eligible_pppk=eligible_pppk,
            max_years=np.array([np.inf if t.max_years_of_service is None else t.max_years_of_service
                                for t in trainings], dtype="float64"),
            families=families,
            position_family=np.array([families.index(p.job_family) for p in roster.positions], dtype=np.int64),
            domain=np.array([-1 if d is None else families.index(d) for d in domains], dtype=np.int64),
        )

    def with_world(self, world: World, seed: int) -> Catalogue:
        """The catalogue as the world makes it: course quality spread within each format (lognormal)."""
        if world.quality_spread <= 0:
            return self
        z = world_stream(seed, STREAM_QUALITY).standard_normal(len(self.trainings))
        sd = world.quality_spread
        return replace(self, quality=self.quality * np.exp(sd * z - sd**2 / 2))


def _most_common(counter: Counter[str]) -> str:
    """The most frequent key, the first in alphabetical order on ties."""
    return min(counter, key=lambda key: (-counter[key], key))


def course_domains(positions: list[Position], trainings: tuple[Training, ...]) -> list[str | None]:
    """The job family each course is about (never exported): the home family of its main target when that
    is a technical competency, None (generic) when it is a core one. A technical competency's home family
    is the one whose posts require it most (primary technical competency counted twice), or HOME_FAMILY."""
    counts: dict[str, Counter[str]] = {}
    for p in positions:
        for k, cid in enumerate(p.technical):
            counts.setdefault(cid, Counter())[p.job_family] += 1 if k else 2
    home = {cid: HOME_FAMILY.get(cid) or _most_common(c) for cid, c in counts.items()}
    domains: list[str | None] = []
    for t in trainings:
        main = max(t.targets, key=lambda target: target[3])[0]  # the first of the heaviest targets
        domains.append(home.get(main) if main.startswith("TKN-") else None)
    return domains


@dataclass
class Latent:
    """Per-person latent traits and the fixed part of each attractor."""

    ability: np.ndarray  # g
    openness: np.ndarray  # o
    performance: np.ndarray  # persistent performance trait (SKP only)
    rate: np.ndarray  # monthly growth rate
    base: np.ndarray  # P × C attractor without position and tenure
    related: np.ndarray  # P × C bool: the competency belongs to the person's job (core or own technical)
    responsiveness: np.ndarray  # multiplier of every training effect (1 unless the world has responsiveness)
    trace: np.ndarray  # its log: what shows in completion and SKP when the world says so
    # Persistent reluctance ρ ≥ 0 (0 unless the world has reluctance): lowers enrolment and completion.
    reluctance: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Timeline:
    """Month indices of each person's life in the history (month 0 = first month of the history)."""

    first_month: int  # absolute month index of month 0
    last: int  # T, the export month
    entry: np.ndarray  # month of the TMT (may be negative)
    until: np.ndarray  # first month without records (T + 1 while employed)
    promotion: np.ndarray  # month of the promotion to the current post, NO_PROMOTION if none inside
    type_now: np.ndarray
    type_before: np.ndarray
    month_start: np.ndarray  # day number of the first day of each month 0 … T
    month_days: np.ndarray  # usable days in each month (the export month ends at the export date)

    def position_type(self, t: int) -> np.ndarray:
        return np.where(t < self.promotion, self.type_before, self.type_now)

    def years(self, t: int | np.ndarray) -> np.ndarray:
        return np.maximum(t - self.entry, 0) / 12.0


def raw_attractor(latent: Latent, timeline: Timeline, t: int, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """The attractor during month t before training boosts: base + (position level + tenure) for job comps."""
    lift = model.POSITION_LEVELS[timeline.position_type(t)[rows]] + model.tenure_effect(timeline.years(t)[rows])
    return latent.base[rows] + latent.related[rows] * lift[:, None]


@dataclass
class FinalState:
    """The state in the export month T, before the step to T + 1 (what the truth starts from)."""

    systematic: np.ndarray  # S during month T
    boost: np.ndarray  # B during month T
    transient: np.ndarray  # N during month T
    shifts: np.ndarray  # uncapped sum of the shifts of trainings completed in month T
    fading: np.ndarray  # F during month T: the part of past gains that still fades (0 without decay)
    fading_shifts: np.ndarray  # the fading part of `shifts` (0 without decay)
    last_completion: np.ndarray  # day number of the last completed course on each competency, NEVER if none


@dataclass
class History:
    assessments: dict[str, np.ndarray] = field(default_factory=dict)
    reviews: dict[str, np.ndarray] = field(default_factory=dict)
    records: dict[str, np.ndarray] = field(default_factory=dict)
    awards: dict[str, np.ndarray] = field(default_factory=dict)


def build_timeline(roster: Roster, years: int, exported_on: date) -> Timeline:
    last = 12 * years - 1
    first = month_index(exported_on) - last
    entry = np.array([month_index(h) - first for h in roster.hired])
    until = np.array([last + 1 if d is None else min(month_index(d) - first, last + 1) for d in roster.leave])
    promotion = np.array([NO_PROMOTION if d is None else month_index(d) - first for d in roster.promoted_on])
    starts = [first_of(first + t) for t in range(last + 2)]
    month_start = np.array([day_number(d) for d in starts[:-1]])
    month_days = np.array([(starts[t + 1] - starts[t]).days for t in range(last + 1)])
    month_days[last] = exported_on.day
    type_now = np.array([POSITION_TYPES.index(roster.positions[p].position_type) for p in roster.position])
    return Timeline(first, last, entry, until, promotion, type_now, roster.previous_type.copy(), month_start,
                    month_days)


def draw_latent(roster: Roster, catalogue: Catalogue, rng: np.random.Generator, world: World,
                seed: int) -> Latent:
    """Latent traits from `rng`; responsiveness from the world's own stream (all 1 when it has none)."""
    n, n_c = len(roster.position), len(catalogue.competency_ids)
    ability = rng.standard_normal(n)
    openness = rng.standard_normal(n)
    performance = rng.standard_normal(n)
    clusters = rng.standard_normal((n, 3))
    own = rng.standard_normal((n, n_c))
    related = catalogue.required[roster.position] > 0
    cluster_of = np.array(list(CORE_CLUSTERS) + [2] * (n_c - len(CORE_IDS)))
    offset = np.array(list(CORE_OFFSETS) + [-0.05] * (n_c - len(CORE_IDS)))
    job = (offset[None, :] + model.ABILITY_LOADING * ability[:, None]
           + model.CLUSTER_LOADING * clusters[:, cluster_of] + model.OWN_LOADING * own)
    change = catalogue.competency_ids.index(CORE_IDS[6])  # Mengelola Perubahan
    job[:, change] += model.OPENNESS_ON_CHANGE * openness
    unrelated = model.UNRELATED_LEVEL + 0.2 * ability[:, None] + 0.15 * own
    base = np.where(related, job, unrelated)
    trace = np.zeros(n)
    if world.responsive:
        stream = world_stream(seed, STREAM_RESPONSIVENESS)
        z, u = stream.standard_normal(n), stream.random(n)
        sd = world.responsiveness_sd
        trace = sd * z - sd**2 / 2 + np.where(u < world.nonresponder_share, np.log(world.nonresponder_factor), 0.0)
    return Latent(ability, openness, performance, model.growth_rate(openness), base, related, np.exp(trace),
                  trace, draw_reluctance(roster, world, seed))


def draw_reluctance(roster: Roster, world: World, seed: int) -> np.ndarray:
    """Reluctance ρ = max(0, z) per person, z = √share · unit part + √(1 − share) · own part ~ N(0, 1), from
    the world's own stream: half the people are not reluctant at all, the others the more the larger z, so
    enrolment and completion fall on average, not only for some. All 0 when the world has no reluctance
    (nothing is drawn, so no other draw moves)."""
    n = len(roster.position)
    if not world.reluctant:
        return np.zeros(n)
    stream = world_stream(seed, STREAM_RELUCTANCE)
    unit_part = stream.standard_normal(len(roster.units))
    own_part = stream.standard_normal(n)
    share = world.reluctance_unit_share
    return np.maximum(np.sqrt(share) * unit_part[roster.unit] + np.sqrt(1.0 - share) * own_part, 0.0)


# ---------------------------------------------------------------------------------------------------------
