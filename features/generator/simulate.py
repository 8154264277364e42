"""The monthly simulation of the history: latent levels, assessments, SKP, trainings, awards.

One pass over the months of the history, vectorised over people × competencies. The state at the export
month is kept so `truth.py` can compute expectations from it. The world (`worlds.py`) switches mechanisms
on; each is guarded so that in the default world the arithmetic and the draws are exactly the demo's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from features.constants import (
    ASSESSMENT_METHODS,
    LEVEL_MAX,
    LEVEL_MIN,
    SKP_EXPECTATIONS,
    SKP_MATRIX,
    SKP_RATINGS,
    TRAINING_FORMATS,
)
from features.generator import model
from features.generator.competencies import CORE_IDS
from features.generator.population import Roster
from features.generator.schedule import assessment_schedule, rating_groups
from features.generator.state import (
    NEVER,
    Catalogue,
    FinalState,
    History,
    Latent,
    Timeline,
    build_timeline,
    day_number,
    draw_latent,
    raw_attractor,
)
from features.generator.worlds import STREAM_RATERS, World, world_stream

# Selection into training (monthly hazard and choice weights); see the package docstring.
# The loadings a world may change (openness, observed and true gaps, responsiveness) are in `World`.
HAZARD_BASE = 0.12
HAZARD_BUDGET = 0.35
HAZARD_SKP = 0.25
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
             progress: Callable[[str], None] | None = None,
             world: World | None = None) -> tuple[History, Latent, Timeline, FinalState]:
    """Run the history month by month; return its records, the latents and the export-month state."""
    world = world or World()
    streams = np.random.SeedSequence([seed, 20261128]).spawn(8)
    rng_latent, rng_sched, rng_init, rng_noise, rng_measure, rng_train, rng_skp, rng_award = (
        np.random.default_rng(s) for s in streams)
    timeline = build_timeline(roster, years, exported_on)
    latent = draw_latent(roster, catalogue, rng_latent, world, seed)
    group, group_names = rating_groups(roster)
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
    bias = np.asarray(world.method_bias, dtype="float64")
    sd = np.asarray(world.method_sd, dtype="float64")
    leniency = np.zeros(n_groups)
    if world.rater_leniency_sd > 0:  # lenient or strict raters per OPD, for the methods with raters
        leniency = world_stream(seed, STREAM_RATERS).normal(0.0, world.rater_leniency_sd, n_groups)
    rated_method = np.isin(np.array(ASSESSMENT_METHODS), ("uji_kompetensi", "penilaian_360"))
    target_any = (catalogue.weight > 0).astype("float64")
    pppk = roster.pppk.astype(np.int64)
    o = latent.openness
    hidden = world.hazard_true_gap > 0 or world.hazard_responsiveness > 0 or world.choice_true_gain > 0

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
    fading = np.zeros((n, n_c))
    last_completion = np.full((n, n_c), NEVER)
    last_observed = np.full((n, n_c), np.nan)
    skp_last = np.zeros(n)
    taken = np.zeros((n, n_k), dtype=bool)
    pending: dict[int, list[tuple[np.ndarray, ...]]] = {}
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
        level = systematic + fading + transient if world.decays else systematic + transient

        # Assessments of this month: the true level seen through the method's bias and noise.
        lo, hi = month_bounds[t], month_bounds[t + 1]
        if hi > lo:
            p_, c_, m_ = schedule["person"][lo:hi], schedule["competency"][lo:hi], schedule["method"][lo:hi]
            measured = level[p_, c_] + bias[m_] + sd[m_] * rng_measure.standard_normal(hi - lo)
            if world.rater_leniency_sd > 0:
                measured = measured + leniency[group[p_]] * rated_method[m_]
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
                                         roster, group, absolute // 12, rng_skp, world))
                ratings = review_parts[-1][2]
                skp_last[rated] = np.array([SKP_SCORE[SKP_RATINGS[r]] for r in ratings])
                award_parts.append(_awards(rated, review_parts[-1][3], roster, timeline, t, absolute // 12,
                                           rng_award))

        # Training starts: scheduled first courses, then the units' and people's own choices.
        observed_gap = np.where(required_mask,
                                np.where(np.isnan(last_observed), CHOICE_UNKNOWN_GAP,
                                         np.maximum(0.0, required - last_observed)), 0.0)
        true_gap = np.where(required_mask, np.maximum(0.0, required - level), 0.0) if hidden else observed_gap
        forced = np.flatnonzero((forced_month == t) & alive)
        hazard = HAZARD_BASE * np.exp(world.hazard_openness * o + HAZARD_BUDGET * budget + HAZARD_SKP * skp_last
                                      + world.hazard_observed_gap * observed_gap.sum(axis=1)
                                      / np.maximum(n_required, 1))
        if hidden:  # selection on what the records do not show: true gaps and responsiveness
            hazard = hazard * np.exp(world.hazard_true_gap * true_gap.sum(axis=1) / np.maximum(n_required, 1)
                                     + world.hazard_responsiveness * latent.trace)
        if world.reluctance_on_enrolment > 0:  # reluctant people are sent (and put themselves forward) less
            hazard = hazard * np.exp(-world.reluctance_on_enrolment * latent.reluctance)
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
            weights = (catalogue.popularity[None, :] * eligible * np.exp(world.choice_observed_gap * relevance)
                       * np.where(relevant, 1.0, CHOICE_IRRELEVANT)
                       * np.exp(-catalogue.cost[None, :] / (CHOICE_COST_SCALE * np.exp(budget[starters]))[:, None]))
            if world.choice_true_gain > 0:  # units know who would gain from what
                take_up = latent.responsiveness[starters] * model.openness_multiplier(o[starters], world)
                weights = weights * np.exp(world.choice_true_gain * (true_gap[starters] @ catalogue.weight.T)
                                           * take_up[:, None])
            total = weights.sum(axis=1)
            cumulative = np.cumsum(weights, axis=1)
            u = rng_train.random(len(starters)) * total
            pick = np.minimum((cumulative < u[:, None]).sum(axis=1), n_k - 1)
            chosen = np.where(total > 0, pick, -1)
        persons = np.concatenate([forced, starters[chosen >= 0]])
        courses = np.concatenate([forced_training[forced], chosen[chosen >= 0]])
        if len(persons):
            record_parts.append(_start_courses(persons, courses, t, level, latent, catalogue, timeline, leave_day,
                                               export_day, pending, rng_train, world))
            taken[persons, courses] = True

        # Completions of this month shift the level and its attractor from the next month on.
        shifts = np.zeros((n, n_c))
        fading_shifts = np.zeros((n, n_c))
        if t in pending:
            parts = pending.pop(t)
            pc, kc, dc = (np.concatenate([part[i] for part in parts]) for i in range(3))
            factor = _effect_factor(pc, kc, dc, roster, catalogue, latent, last_completion, world)
            delta = model.training_shift(catalogue.hours_jp[kc][:, None], catalogue.format_index[kc][:, None],
                                         catalogue.quality[kc][:, None], catalogue.weight[kc], level[pc],
                                         catalogue.min_level[kc], catalogue.max_level[kc], o[pc][:, None], world,
                                         factor)
            np.add.at(shifts, pc, delta)
            if world.decays:
                share = np.asarray(world.decay_share)[catalogue.format_index[kc]]
                np.add.at(fading_shifts, pc, delta * share[:, None])
        if t == last:
            final = FinalState(systematic.copy(), boost.copy(), transient.copy(), shifts, fading.copy(),
                               fading_shifts, last_completion.copy())
            break
        if world.decays:
            lasting, fade = model.split_effect(shifts, fading_shifts, systematic, fading)
            systematic += lasting
            boost += lasting
            fading += fade
        else:
            effect = model.capped_shift(shifts, systematic)
            systematic += effect
            boost += effect
        systematic, transient = model.noisy_step(
            systematic, transient, raw_attractor(latent, timeline, t), boost, latent.rate[:, None],
            rng_noise.uniform(-1.0, 1.0, (n, n_c)), rng_noise.uniform(-1.0, 1.0, (n, n_c)), world,
            fading if world.decays else None)
        if world.decays:
            fading = model.decay(fading, world)
        if progress is not None and t % 12 == 11:
            progress(f"simulated {t + 1} of {last + 1} months")

    assert final is not None
    history = History()
    history.assessments = _concat(assessment_parts, ("person", "competency", "day", "level", "method"))
    history.reviews = _concat(review_parts, ("person", "year", "rating", "result", "behavior"))
    history.awards = _concat(award_parts, ("person", "year", "kind"))
    history.records = {key: np.concatenate([part[key] for part in record_parts]) if record_parts
                       else np.zeros(0) for key in ("person", "training", "started", "completed", "status", "score",
                                                     "ended")}
    return history, latent, timeline, final


def _effect_factor(persons: np.ndarray, courses: np.ndarray, days: np.ndarray, roster: Roster,
                   catalogue: Catalogue, latent: Latent, last_completion: np.ndarray,
                   world: World) -> np.ndarray | None:
    """What the world multiplies into the effects of completions (rows × C): transfer to the job,
    responsiveness and spacing; None when none is on. Records each completion in `last_completion`.

    Spacing looks at the last completion on the same competency on an earlier day (within the month too,
    so completions are taken in day order); completions on the same day do not space each other.
    """
    targeted = catalogue.weight[courses] > 0
    factor: np.ndarray | None = None
    if world.spacing > 0:
        factor = np.ones(targeted.shape)
        for day in np.unique(days):
            sel = np.flatnonzero(days == day)
            factor[sel] = model.spacing_factor(day - last_completion[persons[sel]], world)
            rows, comps = np.nonzero(targeted[sel])
            np.maximum.at(last_completion, (persons[sel][rows], comps), float(day))
    else:
        rows, comps = np.nonzero(targeted)
        np.maximum.at(last_completion, (persons[rows], comps), days[rows].astype("float64"))
    per_row = np.ones(len(persons))
    if world.transfer > 0:
        family = catalogue.position_family[roster.position[persons]]
        per_row = per_row * model.transfer_factor(family, catalogue.domain[courses], world)
    if world.responsive:
        per_row = per_row * latent.responsiveness[persons]
    if world.transfer > 0 or world.responsive:
        factor = per_row[:, None] if factor is None else factor * per_row[:, None]
    return factor


def _concat(parts: list[tuple[np.ndarray, ...]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not parts:
        return {name: np.zeros(0, dtype=np.int64) for name in names}
    return {name: np.concatenate([part[i] for part in parts]) for i, name in enumerate(names)}


def _start_courses(persons: np.ndarray, courses: np.ndarray, t: int, level: np.ndarray, latent: Latent,
                   catalogue: Catalogue, timeline: Timeline, leave_day: np.ndarray, export_day: int,
                   pending: dict[int, list[tuple[np.ndarray, ...]]], rng: np.random.Generator,
                   world: World) -> dict[str, np.ndarray]:
    """Records for courses started in month t; completed ones are queued (with their completion day) for
    their completion month. `ended` is the day a course ended or would have ended (not exported)."""
    m = len(persons)
    u = rng.random((m, 5))
    fmt = catalogue.format_index[courses]
    started = timeline.month_start[t] + np.floor(u[:, 0] * timeline.month_days[t]).astype(np.int64)
    ended = started + _durations(fmt, catalogue.hours_jp[courses], u[:, 1])
    completes = u[:, 2] < model.completion_probability(fmt, latent.openness[persons], world, latent.trace[persons],
                                                       latent.reluctance[persons])
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
            pending.setdefault(int(month), []).append((persons[sel], courses[sel], completed[sel]))
    return {"person": persons, "training": courses, "started": started, "completed": completed, "status": status,
            "score": score, "ended": ended}


def _skp(rated: np.ndarray, level: np.ndarray, required: np.ndarray, required_mask: np.ndarray,
         n_required: np.ndarray, core_mask: np.ndarray, latent: Latent, roster: Roster, group: np.ndarray,
         year: int, rng: np.random.Generator, world: World) -> tuple[np.ndarray, ...]:
    """SKP of one year: latent result and behaviour, then quotas per rating pool (unit, or OPD if small).

    Low responders (when the world has responsiveness) also deliver less: their log responsiveness
    moves the work-result score."""
    diff = np.where(required_mask[rated], level[rated] - required[rated], 0.0)
    gap_all = diff.sum(axis=1) / np.maximum(n_required[rated], 1)
    gap_core = diff[:, core_mask].sum(axis=1) / core_mask.sum()
    z = rng.standard_normal((len(rated), 2))
    g, o, p = latent.ability[rated], latent.openness[rated], latent.performance[rated]
    result = 0.45 * g + 0.3 * o + 0.7 * gap_all + 0.5 * p + 0.6 * z[:, 0]
    behaviour = 0.3 * g + 0.2 * o + 0.7 * gap_core + 0.5 * p + 0.6 * z[:, 1]
    if world.responsiveness_on_skp:
        result = result + world.responsiveness_on_skp * latent.trace[rated]
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
