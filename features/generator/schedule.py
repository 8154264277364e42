"""Assessment schedules: they depend on units, posts and dates only, never on the latent levels."""

from __future__ import annotations

import numpy as np

from features.constants import ASSESSMENT_METHODS, POSITION_TYPES
from features.generator.competencies import CORE_IDS
from features.generator.population import Roster
from features.generator.state import Catalogue, Timeline


def rating_groups(roster: Roster) -> tuple[np.ndarray, list[str]]:
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
