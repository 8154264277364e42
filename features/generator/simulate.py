"""The monthly simulation of the history: latent levels, assessments, SKP, trainings, awards.

One pass over the months of the history, vectorised over people × competencies. The state at the export
month is kept so `truth.py` can compute expectations from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from features.constants import (
    ASSESSMENT_METHODS,
    LEVEL_MAX,
    LEVEL_MIN,
    POSITION_TYPES,
    SKP_EXPECTATIONS,
    SKP_MATRIX,
    SKP_RATINGS,
    TRAINING_FORMATS,
)
from features.generator import model
from features.generator.catalogue import CORE_CLUSTERS, CORE_IDS, CORE_OFFSETS, TECHNICAL, Training, standards
from features.generator.population import Roster, first_of, month_index

NO_PROMOTION = -(10**6)
EPOCH = date(1970, 1, 1)

# Selection into training (monthly hazard and choice weights); see the package docstring.
HAZARD_BASE = 0.12
HAZARD_OPENNESS = 0.45
HAZARD_BUDGET = 0.35
HAZARD_SKP = 0.25
HAZARD_OBSERVED_GAP = 0.6
CHOICE_OBSERVED_GAP = 1.6
CHOICE_UNKNOWN_GAP = 0.35  # gap assumed for a required competency never assessed
CHOICE_IRRELEVANT = 0.05  # weight of a course targeting nothing the position requires
CHOICE_COST_SCALE = 15_000_000.0
INACTIVE_SINCE_MONTHS = 24  # inactive courses were last offered this long before the export
POST_TEST_FORMATS = ("klasikal", "blended", "e_learning", "workshop")
POST_TEST_SHARE = 0.65
SKP_TOP_RESULT = 0.20  # quota of "above expectation" work results per rating pool
SKP_TOP_BEHAVIOUR = 0.30
SKP_POOL_MIN = 10  # a unit with fewer rated people is rated within its OPD
SKP_SCORE = {"sangat_baik": 1.0, "baik": 0.0, "butuh_perbaikan": -1.0, "kurang": -1.0, "sangat_kurang": -1.5}


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
        )


@dataclass
class Latent:
    """Per-person latent traits and the fixed part of each attractor."""

    ability: np.ndarray  # g
    openness: np.ndarray  # o
    performance: np.ndarray  # persistent performance trait (SKP only)
    rate: np.ndarray  # monthly growth rate
    base: np.ndarray  # P × C attractor without position and tenure
    related: np.ndarray  # P × C bool: the competency belongs to the person's job (core or own technical)


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


def draw_latent(roster: Roster, catalogue: Catalogue, rng: np.random.Generator) -> Latent:
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
    return Latent(ability, openness, performance, model.growth_rate(openness), base, related)


# ---------------------------------------------------------------------------------------------------------
# Assessment schedules: they depend on units, posts and dates only, never on the latent levels.
# ---------------------------------------------------------------------------------------------------------
def _groups(roster: Roster) -> tuple[np.ndarray, list[str]]:
    keys = [u.group or u.unit_id for u in roster.units]
    names = sorted(set(keys))
    of_unit = np.array([names.index(k) for k in keys])
    return of_unit[roster.unit], names


def assessment_schedule(roster: Roster, catalogue: Catalogue, timeline: Timeline, group: np.ndarray,
                        n_groups: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every planned assessment: (person, month, competency, method), before the alive filter."""
    last = timeline.last
    teacher = np.array([roster.positions[p].teacher for p in roster.position])
    ptype = np.array([POSITION_TYPES[t] for t in timeline.type_now])
    structural = np.isin(ptype, ("jpt_pratama", "administrator", "pengawas"))
    ahli = np.char.startswith(ptype.astype(str), "fungsional_ahli")
    ac_share = np.where(structural, 0.9, np.where(teacher, 0.12, np.where(ahli, 0.45, 0.3)))
    cat_share = np.where(teacher, 0.8, 0.55)
    required = catalogue.required[roster.position] > 0
    tech_required = required & catalogue.technical[None, :]
    core = np.arange(len(CORE_IDS))
    managerial = np.arange(8)
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []  # (person, month, competency, method)

    def add(persons: np.ndarray, months: np.ndarray, comps_of: np.ndarray | None, method: str,
            fixed: np.ndarray | None = None) -> None:
        """Each person is assessed in month m on `fixed` competencies, or on their own `comps_of` row."""
        if len(persons) == 0:
            return
        if fixed is not None:
            p = np.repeat(persons, len(fixed))
            m = np.repeat(months, len(fixed))
            c = np.tile(fixed, len(persons))
        else:
            assert comps_of is not None
            rows, c = np.nonzero(comps_of[persons])
            p, m = persons[rows], months[rows]
        out.append((p, m, c, ASSESSMENT_METHODS.index(method)))

    month_of_year = (timeline.first_month + np.arange(last + 1)) % 12
    for g in range(n_groups):
        members = np.flatnonzero(group == g)
        if len(members) == 0:
            continue
        interval = int(rng.integers(24, 37))  # assessment-centre waves every 2–3 years
        for m in range(int(rng.integers(0, interval)), last + 1, interval):
            take = members[rng.random(len(members)) < ac_share[members]]
            add(take, np.full(len(take), m), None, "assessment_center", fixed=core)
        phase = int(rng.integers(0, 24))  # technical mapping by CAT every two years
        for m in range(phase, last + 1, 24):
            take = members[rng.random(len(members)) < cat_share[members]]
            add(take, np.full(len(take), m), tech_required, "cat")
        has_360 = rng.random() < 0.45 or teacher[members].any()  # schools rate teachers yearly
        month_360 = int(rng.integers(0, 12))
        for m360 in np.flatnonzero(month_of_year == month_360):
            subset = np.sort(rng.choice(managerial, size=5, replace=False))
            take = members[rng.random(len(members)) < 0.5] if has_360 else members[:0]
            add(take, np.full(len(take), int(m360)), None, "penilaian_360", fixed=subset)
    # Uji kompetensi before a promotion, on everything the new post requires.
    promoted = np.flatnonzero((timeline.promotion >= 1) & (timeline.promotion <= last))
    months = timeline.promotion[promoted] - rng.integers(1, 4, len(promoted))
    add(promoted, months, required, "uji_kompetensi")
    # Uji kompetensi for functional career steps: ~6% of functional staff a year, technical competencies.
    functional = np.flatnonzero(np.char.startswith(ptype.astype(str), "fungsional"))
    for year_start in range(0, last + 1, 12):
        take = functional[rng.random(len(functional)) < 0.06]
        months = year_start + rng.integers(0, 12, len(take))
        add(take, months, tech_required, "uji_kompetensi")
    # CAT for new hires in their first months: technical plus three core competencies.
    hires = np.flatnonzero((timeline.entry >= 0) & (timeline.entry <= last))
    hires = hires[rng.random(len(hires)) < 0.6]
    months = timeline.entry[hires] + rng.integers(0, 3, len(hires))
    add(hires, months, tech_required, "cat")
    add(hires, months, None, "cat", fixed=np.array([0, 4, 1]))

    if not out:
        empty = np.zeros(0, dtype=np.int64)
        return {"person": empty, "month": empty, "competency": empty, "method": empty, "day": empty}
    person = np.concatenate([o[0] for o in out])
    month = np.concatenate([o[1] for o in out])
    comp = np.concatenate([o[2] for o in out])
    method = np.concatenate([np.full(len(o[0]), o[3]) for o in out])
    ok = (month >= 0) & (month <= last) & (month >= timeline.entry[person]) & (month < timeline.until[person])
    person, month, comp, method = person[ok], month[ok], comp[ok], method[ok]
    # One day per person, month and method (a session covers several competencies).
    session = (person * (last + 1) + month) * len(ASSESSMENT_METHODS) + method
    uniq, inverse = np.unique(session, return_inverse=True)
    day_draw = rng.random(len(uniq))[inverse]
    day = timeline.month_start[month] + np.floor(day_draw * timeline.month_days[month]).astype(np.int64)
    key = np.stack([person, comp, day, method])
    _, first = np.unique(key, axis=1, return_index=True)
    first = np.sort(first)
    order = np.lexsort((-method[first], comp[first], person[first], day[first]))  # most trusted last
    keep = first[order]
    return {"person": person[keep], "month": month[keep], "competency": comp[keep], "method": method[keep],
            "day": day[keep]}


# ---------------------------------------------------------------------------------------------------------
# The monthly loop
# ---------------------------------------------------------------------------------------------------------
def _durations(fmt: np.ndarray, jp: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Days from start to completion by format and JP (u: uniforms in [0, 1))."""
    name = np.array(TRAINING_FORMATS)[fmt]
    days = np.ceil(jp / 9.0) + np.floor(3 * u)  # classical: about 9 JP a day
    days = np.where(name == "blended", np.floor(jp * 0.2 + 20 * u), days)
    days = np.where(name == "e_learning", 7 + np.floor(38 * u), days)
    days = np.where(np.isin(name, ("coaching", "mentoring")), 30 + np.floor(60 * u), days)
    days = np.where(name == "magang", 14 + np.floor(46 * u), days)
    days = np.where(name == "seminar", np.floor(2 * u), days)
    days = np.where(name == "workshop", np.ceil(jp / 8.0), days)
    return days.astype(np.int64)


def simulate(roster: Roster, catalogue: Catalogue, years: int, exported_on: date, seed: int,
             progress: Callable[[str], None] | None = None) -> tuple[History, Latent, Timeline, FinalState]:
    """Run the history month by month; return its records, the latents and the export-month state."""
    streams = np.random.SeedSequence([seed, 20261128]).spawn(8)
    rng_latent, rng_sched, rng_init, rng_noise, rng_measure, rng_train, rng_skp, rng_award = (
        np.random.default_rng(s) for s in streams)
    timeline = build_timeline(roster, years, exported_on)
    latent = draw_latent(roster, catalogue, rng_latent)
    group, group_names = _groups(roster)
    n_groups = len(group_names)
    budget = rng_sched.normal(0.0, 0.5, n_groups)[group]  # a unit's training budget, shared by its OPD
    schedule = assessment_schedule(roster, catalogue, timeline, group, n_groups, rng_sched)
    order = np.argsort(schedule["month"], kind="stable")
    for key in schedule:
        schedule[key] = schedule[key][order]
    month_bounds = np.searchsorted(schedule["month"], np.arange(timeline.last + 2))

    n, n_c, n_k = len(roster.position), len(catalogue.competency_ids), len(catalogue.trainings)
    last = timeline.last
    export_day = day_number(exported_on)
    leave_day = np.array([np.iinfo(np.int64).max if d is None else day_number(d) for d in roster.leave])
    required = catalogue.required[roster.position].astype("float64")
    required_mask = required > 0
    n_required = required_mask.sum(axis=1)
    core_mask = np.zeros(n_c, dtype=bool)
    core_mask[: len(CORE_IDS)] = True
    bias = np.array([model.METHOD_BIAS[m] for m in ASSESSMENT_METHODS])
    sd = np.array([model.METHOD_SD[m] for m in ASSESSMENT_METHODS])
    target_any = (catalogue.weight > 0).astype("float64")
    pppk = roster.pppk.astype(np.int64)
    o = latent.openness

    # Scheduled first courses: Latsar for every new PNS, orientation for most new PPPK.
    latsar = [t.training_id for t in catalogue.trainings].index("PLT-LATSAR-CPNS")
    orientation = [t.training_id for t in catalogue.trainings].index("PLT-ORIENTASI-PPPK")
    forced_month = np.full(n, -1)
    forced_training = np.full(n, -1)
    new_hire = (timeline.entry >= 0) & (timeline.entry <= last)
    lag = rng_train.integers(1, 6, n)
    pns_new = new_hire & ~roster.pppk
    pppk_new = new_hire & roster.pppk & (rng_train.random(n) < 0.85)
    forced_month[pns_new | pppk_new] = timeline.entry[pns_new | pppk_new] + lag[pns_new | pppk_new]
    forced_training[pns_new] = latsar
    forced_training[pppk_new] = orientation

    systematic = np.zeros((n, n_c))
    transient = np.zeros((n, n_c))
    boost = np.zeros((n, n_c))
    last_observed = np.full((n, n_c), np.nan)
    skp_last = np.zeros(n)
    taken = np.zeros((n, n_k), dtype=bool)
    pending: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    assessment_parts: list[tuple[np.ndarray, ...]] = []
    record_parts: list[dict[str, np.ndarray]] = []
    review_parts: list[tuple[np.ndarray, ...]] = []
    award_parts: list[tuple[np.ndarray, ...]] = []
    final: FinalState | None = None

    for t in range(last + 1):
        # People appointed this month (or already employed when the history starts) get their state.
        new = (timeline.entry == t) | ((t == 0) & (timeline.entry < 0))
        if new.any():
            rows = np.flatnonzero(new)
            raw = raw_attractor(latent, timeline, t, rows)
            years_in = timeline.years(t)[rows]
            gap = np.where(timeline.entry[rows] == t, 0.45, 0.35 * np.exp(-years_in / 8.0))
            start = raw - gap[:, None] + 0.12 * rng_init.standard_normal((len(rows), n_c))
            systematic[rows] = np.clip(start, model.S_MIN, model.S_MAX)
            transient[rows] = rng_init.uniform(-0.1, 0.1, (len(rows), n_c))
        alive = (timeline.entry <= t) & (t < timeline.until)
        level = systematic + transient

        # Assessments of this month: the true level seen through the method's bias and noise.
        lo, hi = month_bounds[t], month_bounds[t + 1]
        if hi > lo:
            p_, c_, m_ = schedule["person"][lo:hi], schedule["competency"][lo:hi], schedule["method"][lo:hi]
            measured = level[p_, c_] + bias[m_] + sd[m_] * rng_measure.standard_normal(hi - lo)
            measured = np.clip(np.round(measured, 2), LEVEL_MIN, LEVEL_MAX)
            assessment_parts.append((p_, c_, schedule["day"][lo:hi], measured, m_))
            # What HR sees next: the latest result per competency (rows are in day, then trust order).
            _, from_end = np.unique((p_ * n_c + c_)[::-1], return_index=True)
            latest = hi - lo - 1 - from_end
            last_observed[p_[latest], c_[latest]] = measured[latest]

        # SKP in December (the export month only when the export is on 31 December).
        absolute = timeline.first_month + t
        if absolute % 12 == 11 and (t < last or exported_on.day == 31):
            rated = np.flatnonzero(alive & (timeline.entry <= t - 2))
            if len(rated):
                review_parts.append(_skp(rated, level, required, required_mask, n_required, core_mask, latent,
                                         roster, group, absolute // 12, rng_skp))
                ratings = review_parts[-1][2]
                skp_last[rated] = np.array([SKP_SCORE[SKP_RATINGS[r]] for r in ratings])
                award_parts.append(_awards(rated, review_parts[-1][3], roster, timeline, t, absolute // 12,
                                           rng_award))

        # Training starts: scheduled first courses, then the units' and people's own choices.
        observed_gap = np.where(required_mask,
                                np.where(np.isnan(last_observed), CHOICE_UNKNOWN_GAP,
                                         np.maximum(0.0, required - last_observed)), 0.0)
        forced = np.flatnonzero((forced_month == t) & alive)
        hazard = HAZARD_BASE * np.exp(HAZARD_OPENNESS * o + HAZARD_BUDGET * budget + HAZARD_SKP * skp_last
                                      + HAZARD_OBSERVED_GAP * observed_gap.sum(axis=1) / np.maximum(n_required, 1))
        draws = rng_train.random(n)
        starters = np.flatnonzero(alive & (draws < 1.0 - np.exp(-hazard)) & (forced_month != t))
        chosen = np.full(len(starters), -1)
        if len(starters):
            ptype = timeline.position_type(t)[starters]
            whole = (t - timeline.entry[starters]) // 12
            offered = catalogue.active | (t < last - INACTIVE_SINCE_MONTHS)
            eligible = (catalogue.eligible_type[:, ptype].T & catalogue.eligible_pppk[:, pppk[starters]].T
                        & (whole[:, None] <= catalogue.max_years[None, :]) & offered[None, :]
                        & ~taken[starters] & (catalogue.popularity > 0)[None, :])
            relevance = observed_gap[starters] @ catalogue.weight.T
            relevant = (required_mask[starters].astype("float64") @ target_any.T) > 0
            weights = (catalogue.popularity[None, :] * eligible * np.exp(CHOICE_OBSERVED_GAP * relevance)
                       * np.where(relevant, 1.0, CHOICE_IRRELEVANT)
                       * np.exp(-catalogue.cost[None, :] / (CHOICE_COST_SCALE * np.exp(budget[starters]))[:, None]))
            total = weights.sum(axis=1)
            cumulative = np.cumsum(weights, axis=1)
            u = rng_train.random(len(starters)) * total
            pick = np.minimum((cumulative < u[:, None]).sum(axis=1), n_k - 1)
            chosen = np.where(total > 0, pick, -1)
        persons = np.concatenate([forced, starters[chosen >= 0]])
        courses = np.concatenate([forced_training[forced], chosen[chosen >= 0]])
        if len(persons):
            record_parts.append(_start_courses(persons, courses, t, level, latent, catalogue, timeline, leave_day,
                                               export_day, pending, rng_train))
            taken[persons, courses] = True

        # Completions of this month shift the level and its attractor from the next month on.
        shifts = np.zeros((n, n_c))
        if t in pending:
            pc = np.concatenate([p for p, _ in pending[t]])
            kc = np.concatenate([k for _, k in pending.pop(t)])
            delta = model.training_shift(catalogue.hours_jp[kc][:, None], catalogue.format_index[kc][:, None],
                                         catalogue.quality[kc][:, None], catalogue.weight[kc], level[pc],
                                         catalogue.min_level[kc], catalogue.max_level[kc], o[pc][:, None])
            np.add.at(shifts, pc, delta)
        if t == last:
            final = FinalState(systematic.copy(), boost.copy(), transient.copy(), shifts)
            break
        effect = model.capped_shift(shifts, systematic)
        systematic += effect
        boost += effect
        systematic, transient = model.noisy_step(
            systematic, transient, raw_attractor(latent, timeline, t), boost, latent.rate[:, None],
            rng_noise.uniform(-1.0, 1.0, (n, n_c)), rng_noise.uniform(-1.0, 1.0, (n, n_c)))
        if progress is not None and t % 12 == 11:
            progress(f"simulated {t + 1} of {last + 1} months")

    assert final is not None
    history = History()
    history.assessments = _concat(assessment_parts, ("person", "competency", "day", "level", "method"))
    history.reviews = _concat(review_parts, ("person", "year", "rating", "result", "behavior"))
    history.awards = _concat(award_parts, ("person", "year", "kind"))
    history.records = {key: np.concatenate([part[key] for part in record_parts]) if record_parts
                       else np.zeros(0) for key in ("person", "training", "started", "completed", "status", "score")}
    return history, latent, timeline, final


def _concat(parts: list[tuple[np.ndarray, ...]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not parts:
        return {name: np.zeros(0, dtype=np.int64) for name in names}
    return {name: np.concatenate([part[i] for part in parts]) for i, name in enumerate(names)}


def _start_courses(persons: np.ndarray, courses: np.ndarray, t: int, level: np.ndarray, latent: Latent,
                   catalogue: Catalogue, timeline: Timeline, leave_day: np.ndarray, export_day: int,
                   pending: dict[int, list[tuple[np.ndarray, np.ndarray]]],
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Records for courses started in month t; completed ones are queued for their completion month."""
    m = len(persons)
    u = rng.random((m, 5))
    fmt = catalogue.format_index[courses]
    started = timeline.month_start[t] + np.floor(u[:, 0] * timeline.month_days[t]).astype(np.int64)
    ended = started + _durations(fmt, catalogue.hours_jp[courses], u[:, 1])
    completes = u[:, 2] < model.completion_probability(fmt, latent.openness[persons])
    # Leaving before the end aborts the course; one still running at the export date is berjalan.
    status = np.where(ended >= leave_day[persons], 1, np.where(ended > export_day, 2, np.where(completes, 0, 1)))
    completed = np.where(status == 0, ended, -1)
    # Post-test: for some formats, reflecting the level on the targeted competencies at the start.
    weight = catalogue.weight[courses]
    mean_level = (level[persons] * weight).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-9)
    score = np.clip(48 + 10 * mean_level + 4 * latent.openness[persons] + 7 * rng.standard_normal(m), 0, 100)
    with_test = (status == 0) & np.isin(np.array(TRAINING_FORMATS)[fmt], POST_TEST_FORMATS) & (u[:, 3] < POST_TEST_SHARE)
    score = np.where(with_test, np.round(score, 1), np.nan)
    done = np.flatnonzero(status == 0)
    if len(done):
        months = np.searchsorted(timeline.month_start, completed[done], side="right") - 1
        for month in np.unique(months):
            sel = done[months == month]
            pending.setdefault(int(month), []).append((persons[sel], courses[sel]))
    return {"person": persons, "training": courses, "started": started, "completed": completed, "status": status,
            "score": score}


def _skp(rated: np.ndarray, level: np.ndarray, required: np.ndarray, required_mask: np.ndarray,
         n_required: np.ndarray, core_mask: np.ndarray, latent: Latent, roster: Roster, group: np.ndarray,
         year: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """SKP of one year: latent result and behaviour, then quotas per rating pool (unit, or OPD if small)."""
    diff = np.where(required_mask[rated], level[rated] - required[rated], 0.0)
    gap_all = diff.sum(axis=1) / np.maximum(n_required[rated], 1)
    gap_core = diff[:, core_mask].sum(axis=1) / core_mask.sum()
    z = rng.standard_normal((len(rated), 2))
    g, o, p = latent.ability[rated], latent.openness[rated], latent.performance[rated]
    result = 0.45 * g + 0.3 * o + 0.7 * gap_all + 0.5 * p + 0.6 * z[:, 0]
    behaviour = 0.3 * g + 0.2 * o + 0.7 * gap_core + 0.5 * p + 0.6 * z[:, 1]
    unit = roster.unit[rated]
    unit_count = np.bincount(unit, minlength=len(roster.units))
    pool = np.where(unit_count[unit] >= SKP_POOL_MIN, unit, len(roster.units) + group[rated])
    result_level = _quota(pool, result, SKP_TOP_RESULT, -1.6)
    behaviour_level = _quota(pool, behaviour, SKP_TOP_BEHAVIOUR, -1.8)
    rating = np.array([SKP_RATINGS.index(SKP_MATRIX[(SKP_EXPECTATIONS[r], SKP_EXPECTATIONS[b])])
                       for r, b in zip(result_level, behaviour_level, strict=True)], dtype=np.int64)
    return rated, np.full(len(rated), year), rating, result_level, behaviour_level


def _quota(pool: np.ndarray, score: np.ndarray, top_share: float, floor_score: float) -> np.ndarray:
    """0 above expectation for the best floor(share · n) of each pool, 2 below for scores under the floor."""
    order = np.lexsort((-score, pool))
    sorted_pool = pool[order]
    starts = np.searchsorted(sorted_pool, sorted_pool, side="left")
    ends = np.searchsorted(sorted_pool, sorted_pool, side="right")
    rank = np.arange(len(order)) - starts
    top = rank < np.floor(top_share * (ends - starts))
    out = np.ones(len(score), dtype=np.int64)
    out[order[top]] = 0
    out[(score < floor_score) & (out != 0)] = 2
    return out


AWARD_KINDS = ("satyalancana_karya_satya", "asn_berprestasi", "inovasi_pelayanan")


def _awards(rated: np.ndarray, result_level: np.ndarray, roster: Roster, timeline: Timeline, t: int, year: int,
            rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A few awards a year: long-service medals at 10/20/30 years, and some for top performers."""
    months = t - timeline.entry[rated]
    anniversary = np.isin(months // 12, (10, 20, 30))  # whole years at December: reached this year
    pns = ~roster.pppk[rated]
    medal = rated[anniversary & pns & (rng.random(len(rated)) < 0.1)]
    top = rated[result_level == 0]
    n_top = min(len(top), 2 + len(rated) // 3000)
    best = np.sort(rng.choice(top, size=n_top, replace=False)) if n_top else top[:0]
    n_innovation = min(len(top), 3 + len(rated) // 2000)
    innovation = np.sort(rng.choice(top, size=n_innovation, replace=False)) if n_innovation else top[:0]
    persons = np.concatenate([medal, best, innovation])
    kinds = np.concatenate([np.zeros(len(medal)), np.ones(len(best)), np.full(len(innovation), 2)]).astype(np.int64)
    return persons, np.full(len(persons), year), kinds
