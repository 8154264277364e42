"""Ground truth at the export date: expected levels without a plan, and expected gains of one training.

Both are expectations under the causal model, computed from the state of the export month with the
noise at its mean (`model.expected_level`), which is exact because the dynamics are linear in the noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from features.constants import DEFAULT_HORIZON_MONTHS
from features.generator import model
from features.generator.population import Roster, whole_years
from features.generator.simulate import Catalogue, FinalState, Latent, Timeline, raw_attractor

SELESAI, TIDAK_SELESAI, BERJALAN = 0, 1, 2


@dataclass
class Truth:
    level_person: np.ndarray  # rows of truth/levels.csv: person index …
    level_competency: np.ndarray  # … competency index …
    expected_level: np.ndarray  # … E[level at as_of + H | no plan]
    effect_person: np.ndarray  # rows of truth/effects.csv: person index …
    effect_training: np.ndarray  # … training index …
    expected_gain: np.ndarray  # … total gap without plan − total gap with {training}


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
                  records: dict[str, np.ndarray], exported_on: date,
                  horizon: int = DEFAULT_HORIZON_MONTHS) -> Truth:
    persons = np.flatnonzero(np.array(roster.status) == "aktif")
    last = timeline.last
    s0 = final.systematic[persons]
    shifts = final.shifts[persons]
    effect = model.capped_shift(shifts, s0)  # trainings completed in the export month count
    s1 = s0 + effect
    b1 = final.boost[persons] + effect
    transient = final.transient[persons]
    rate = latent.rate[persons][:, None]
    raw_path = np.stack([raw_attractor(latent, timeline, last + k, persons) for k in range(horizon)])
    expected = model.expected_level(s1, b1, raw_path, rate, transient)
    required = catalogue.required[roster.position[persons]].astype("float64")
    gap = np.maximum(0.0, required - expected) * (required > 0)
    level_row, level_comp = np.nonzero(required > 0)

    eligible = eligible_matrix(roster, catalogue, timeline, records, persons, exported_on)
    gain = np.zeros(eligible.shape)
    level_now = s0 + transient  # the true level at the as-of date decides the band
    openness = latent.openness[persons]
    for k in range(len(catalogue.trainings)):
        for c in np.flatnonzero(catalogue.weight[k] > 0):
            rows = np.flatnonzero(eligible[:, k] & (required[:, c] > 0))
            if len(rows) == 0:
                continue
            delta = model.training_shift(catalogue.hours_jp[k], catalogue.format_index[k], catalogue.quality[k],
                                         catalogue.weight[k, c], level_now[rows, c], catalogue.min_level[k, c],
                                         catalogue.max_level[k, c], openness[rows])
            # The plan's course completes just after as_of: it joins the export month's shifts.
            extra = model.capped_shift(shifts[rows, c] + delta, s0[rows, c]) - effect[rows, c]
            planned = model.expected_level(s1[rows, c] + extra, b1[rows, c] + extra, raw_path[:, rows, c],
                                           rate[rows, 0], transient[rows, c])
            gap_plan = np.maximum(0.0, required[rows, c] - planned)
            gain[rows, k] += gap[rows, c] - gap_plan
    effect_row, effect_training = np.nonzero(eligible)
    return Truth(persons[level_row], level_comp, expected[level_row, level_comp], persons[effect_row],
                 effect_training, np.maximum(gain[effect_row, effect_training], 0.0) + 0.0)  # no -0.0
