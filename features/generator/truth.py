"""Ground truth at the export date: expected levels without a plan, expected gains of one training, and
the probability of finishing it if enrolled.

Both are expectations under the causal model of the simulation's world, computed from the state of the
export month with the noise at its mean (`model.expected_level`), which is exact because the dynamics are
linear in the noise. What a world adds is a deterministic function of that state: the multipliers of the
plan's course (transfer by its domain and the person's job family, spacing from the last completion on
each competency before the as-of date, responsiveness, the ceiling at the level then, the world's format
factors and course qualities) and the fading part of the gains, whose path is known (`model.decay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from features.constants import DEFAULT_HORIZON_MONTHS
from features.generator import model
from features.generator.population import Roster, whole_years
from features.generator.state import Catalogue, FinalState, Latent, Timeline, day_number, raw_attractor
from features.generator.worlds import World

SELESAI, TIDAK_SELESAI, BERJALAN = 0, 1, 2
TRUTH_COMPLETION_COLUMNS = ("nip", "training_id", "completion_probability")


@dataclass
class Truth:
    level_person: np.ndarray  # rows of truth/levels.csv: person index …
    level_competency: np.ndarray  # … competency index …
    expected_level: np.ndarray  # … E[level at as_of + H | no plan]
    effect_person: np.ndarray  # rows of truth/effects.csv: person index …
    effect_training: np.ndarray  # … training index …
    expected_gain: np.ndarray  # … total gap without plan − total gap with {training}
    completion_probability: np.ndarray  # rows of truth/completion.csv (the effect rows): P(finish | enrolled)


def eligible_matrix(roster: Roster, catalogue: Catalogue, timeline: Timeline, records: dict[str, np.ndarray],
                    persons: np.ndarray, exported_on: date) -> np.ndarray:
    """persons × trainings: eligible at the export date (INTERFACES.md "Definitions")."""
    service = np.array([whole_years(roster.hired[i], exported_on) for i in persons], dtype="float64")
    ptype = timeline.type_now[persons]
    eligible = (catalogue.active[None, :] & catalogue.eligible_type[:, ptype].T
                & catalogue.eligible_pppk[:, roster.pppk[persons].astype(np.int64)].T
                & (service[:, None] <= catalogue.max_years[None, :]))
    blocking = np.isin(records["status"], (SELESAI, BERJALAN))
    row_of = np.full(len(roster.position), -1)
    row_of[persons] = np.arange(len(persons))
    rows = row_of[records["person"][blocking]]
    keep = rows >= 0
    eligible[rows[keep], records["training"][blocking][keep]] = False
    return eligible


def compute_truth(roster: Roster, catalogue: Catalogue, latent: Latent, timeline: Timeline, final: FinalState,
                  records: dict[str, np.ndarray], exported_on: date, horizon: int = DEFAULT_HORIZON_MONTHS,
                  world: World | None = None) -> Truth:
    world = world or World()
    persons = np.flatnonzero(np.array(roster.status) == "aktif")
    last = timeline.last
    s0 = final.systematic[persons]
    shifts = final.shifts[persons]
    transient = final.transient[persons]
    # Trainings completed in the export month count: they join its shifts (capped together).
    if world.decays:
        f0, fading_shifts = final.fading[persons], final.fading_shifts[persons]
        lasting, fade = model.split_effect(shifts, fading_shifts, s0, f0)
        s1, b1, f1 = s0 + lasting, final.boost[persons] + lasting, f0 + fade
        level_now = s0 + f0 + transient  # the true level at the as-of date decides the band
    else:
        effect = model.capped_shift(shifts, s0)
        s1, b1 = s0 + effect, final.boost[persons] + effect
        level_now = s0 + transient
    rate = latent.rate[persons][:, None]
    raw_path = np.stack([raw_attractor(latent, timeline, last + k, persons) for k in range(horizon)])
    expected = model.expected_level(s1, b1, raw_path, rate, transient, world, f1 if world.decays else None)
    required = catalogue.required[roster.position[persons]].astype("float64")
    gap = np.maximum(0.0, required - expected) * (required > 0)
    level_row, level_comp = np.nonzero(required > 0)

    eligible = eligible_matrix(roster, catalogue, timeline, records, persons, exported_on)
    gain = np.zeros(eligible.shape)
    openness = latent.openness[persons]
    per_person = latent.responsiveness[persons] if world.responsive else None
    family = catalogue.position_family[roster.position[persons]]
    days_since = day_number(exported_on) - final.last_completion[persons]  # the plan completes just after A
    for k in range(len(catalogue.trainings)):
        for c in np.flatnonzero(catalogue.weight[k] > 0):
            rows = np.flatnonzero(eligible[:, k] & (required[:, c] > 0))
            if len(rows) == 0:
                continue
            factor = plan_factor(rows, k, days_since[rows, c], family, per_person, catalogue, world)
            delta = model.training_shift(catalogue.hours_jp[k], catalogue.format_index[k], catalogue.quality[k],
                                         catalogue.weight[k, c], level_now[rows, c], catalogue.min_level[k, c],
                                         catalogue.max_level[k, c], openness[rows], world, factor)
            # The plan's course completes just after as_of: it joins the export month's shifts.
            if world.decays:
                share = world.decay_share[int(catalogue.format_index[k])]
                lasting_p, fade_p = model.split_effect(shifts[rows, c] + delta, fading_shifts[rows, c] + delta * share,
                                                       s0[rows, c], f0[rows, c])
                extra, extra_fade = lasting_p - lasting[rows, c], fade_p - fade[rows, c]
                planned = model.expected_level(s1[rows, c] + extra, b1[rows, c] + extra, raw_path[:, rows, c],
                                               rate[rows, 0], transient[rows, c], world, f1[rows, c] + extra_fade)
            else:
                extra = model.capped_shift(shifts[rows, c] + delta, s0[rows, c]) - effect[rows, c]
                planned = model.expected_level(s1[rows, c] + extra, b1[rows, c] + extra, raw_path[:, rows, c],
                                               rate[rows, 0], transient[rows, c])
            gap_plan = np.maximum(0.0, required[rows, c] - planned)
            gain[rows, k] += gap[rows, c] - gap_plan
    effect_row, effect_training = np.nonzero(eligible)
    completion = completion_truth(persons[effect_row], effect_training, catalogue, latent, world)
    return Truth(persons[level_row], level_comp, expected[level_row, level_comp], persons[effect_row],
                 effect_training, np.maximum(gain[effect_row, effect_training], 0.0) + 0.0,  # no -0.0
                 completion)


def completion_truth(persons: np.ndarray, trainings: np.ndarray, catalogue: Catalogue, latent: Latent,
                     world: World) -> np.ndarray:
    """P(finish | enrolled just after the as-of date) of each (person, training): the simulation's own
    completion probability (format, openness, responsiveness and reluctance as the world says), exact
    because it is a deterministic function of the latents. Leaving the service mid-course is not in it:
    the truth is of the course, not of the employment."""
    return model.completion_probability(catalogue.format_index[trainings], latent.openness[persons], world,
                                        latent.trace[persons], latent.reluctance[persons])


def plan_factor(rows: np.ndarray, k: int, days_since: np.ndarray, family: np.ndarray,
                 per_person: np.ndarray | None, catalogue: Catalogue, world: World) -> np.ndarray | None:
    """The world's multiplier of the plan's course k on one competency for these rows (None: none is on)."""
    if world.spacing <= 0 and world.transfer <= 0 and per_person is None:
        return None
    factor = np.ones(len(rows))
    if world.spacing > 0:
        factor = factor * model.spacing_factor(days_since, world)
    if world.transfer > 0:
        factor = factor * model.transfer_factor(family[rows], np.full(len(rows), catalogue.domain[k]), world)
    if per_person is not None:
        factor = factor * per_person[rows]
    return factor
