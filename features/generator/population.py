"""Who works for Kota Pontianak: the roster at the export date plus the people who left during the history.

Posts come from the catalogue (structural posts per unit, functional and pelaksana staff spread over the
units where they work); people get an employment (PNS or PPPK), education, sex, birth date, TMT, grade
and status consistent with their post and with the retirement age (BUP).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from features.constants import EDUCATIONS, PNS_GRADES, POSITION_TYPES
from features.generator.catalogue import (
    EDUCATION_MIX,
    PELAKSANA_SPLIT,
    REFERENCE_EMPLOYEES,
    REFERENCE_SD,
    REFERENCE_SMP,
    Position,
    Unit,
    build_positions,
    build_units,
)

ACTIVE_SHARE = 0.965  # the rest of the roster is on leave (cuti) or study leave (tugas belajar)
CUTI_SHARE = 0.015
TUGAS_BELAJAR_SHARE = 0.02
RETIRED_PER_YEAR = 0.022  # of the roster, reaching BUP each year
MOVED_PER_YEAR = 0.008  # of the roster, moving to another agency each year
FIRST_PPPK_YEAR = 2022  # first TMT PPPK (selection 2021)

TYPE_INDEX = {t: i for i, t in enumerate(POSITION_TYPES)}
# Years of service usual for each position type (PNS), and the type held before a promotion to it.
YEARS_OF_SERVICE = {
    "jpt_pratama": (18, 34), "administrator": (12, 32), "pengawas": (8, 30), "pelaksana": (0, 34),
    "fungsional_ahli_utama": (22, 36), "fungsional_ahli_madya": (13, 34), "fungsional_ahli_muda": (5, 25),
    "fungsional_ahli_pertama": (0, 12), "fungsional_penyelia": (12, 32), "fungsional_mahir": (5, 25),
    "fungsional_terampil": (0, 15), "fungsional_pemula": (0, 8),
}
PREDECESSOR = {
    "jpt_pratama": "administrator", "administrator": "pengawas", "pengawas": "pelaksana",
    "fungsional_ahli_utama": "fungsional_ahli_madya", "fungsional_ahli_madya": "fungsional_ahli_muda",
    "fungsional_ahli_muda": "fungsional_ahli_pertama", "fungsional_penyelia": "fungsional_mahir",
    "fungsional_mahir": "fungsional_terampil", "fungsional_terampil": "fungsional_pemula",
}
AGE_AT_HIRE = {"sd": (18, 30), "smp": (18, 30), "sma": (19, 30), "d1": (20, 31), "d2": (20, 31),
               "d3": (21, 32), "d4": (22, 34), "s1": (23, 35), "s2": (25, 35), "s3": (28, 35)}
# PNS golongan at appointment by education, and the range each position type holds (indices of PNS_GRADES).
START_GRADE = {"sd": 0, "smp": 2, "sma": 4, "d1": 4, "d2": 5, "d3": 6, "d4": 8, "s1": 8, "s2": 9, "s3": 10}
GRADE_RANGE = {
    "jpt_pratama": (12, 15), "administrator": (11, 13), "pengawas": (9, 12), "pelaksana": (0, 11),
    "fungsional_ahli_utama": (15, 16), "fungsional_ahli_madya": (12, 14), "fungsional_ahli_muda": (10, 11),
    "fungsional_ahli_pertama": (8, 9), "fungsional_penyelia": (10, 11), "fungsional_mahir": (8, 9),
    "fungsional_terampil": (6, 7), "fungsional_pemula": (4, 5),
}
PPPK_GRADE = {"fungsional_ahli_pertama": 9, "fungsional_ahli_muda": 11, "fungsional_penyelia": 9,
              "fungsional_mahir": 8, "fungsional_terampil": 7, "fungsional_pemula": 5}
PPPK_PELAKSANA_GRADE = {"sd": 1, "smp": 3, "sma": 5, "d1": 5, "d2": 6, "d3": 7, "d4": 9, "s1": 9, "s2": 10, "s3": 11}
CPNS_TMT_MONTHS = (3, 1, 4, 3, 6, 1, 3)  # TMT month of the CPNS cohort of year Y: index Y % 7
PPPK_TMT_MONTHS = (3, 4, 1, 10, 3, 7)  # TMT month of the PPPK wave of year Y: index Y % 6


def bup_age(position: Position) -> int:
    """Batas Usia Pensiun: 65 ahli utama; 60 JPT, ahli madya and teachers; 58 everyone else."""
    if position.position_type == "fungsional_ahli_utama":
        return 65
    if position.position_type in ("jpt_pratama", "fungsional_ahli_madya") or position.teacher:
        return 60
    return 58


def add_years(d: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    year = d.year + years
    return d.replace(year=year, day=min(d.day, calendar.monthrange(year, d.month)[1]))


def whole_years(start: date, end: date) -> int:
    """Completed years from start to end (anniversary based)."""
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def first_of(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class Roster:
    """Everyone in the export, one entry per person (index = person id in the simulation)."""

    units: list[Unit]
    positions: list[Position]
    position: np.ndarray  # index into positions
    unit: np.ndarray  # index into units
    pppk: np.ndarray  # bool
    education: np.ndarray  # index into EDUCATIONS
    female: np.ndarray  # bool
    birth: list[date]
    hired: list[date]  # TMT (first of a month)
    status: list[str]
    leave: list[date | None]  # the day records stop (leave, retirement, move); None for aktif
    previous_type: np.ndarray  # index into POSITION_TYPES of the type held before promoted_on
    promoted_on: list[date | None]  # promotion to the current position inside the history, if any
    grade: list[str]
    nip: list[str]


def _largest_remainder(raw: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Whole counts proportional to `raw` summing to `total` (ties broken by a seeded jitter)."""
    if total <= 0 or raw.sum() <= 0:
        return np.zeros(len(raw), dtype=np.int64)
    exact = raw / raw.sum() * total
    counts = np.floor(exact).astype(np.int64)
    remainder = exact - counts + rng.uniform(0, 1e-9, len(raw))
    extra = total - counts.sum()
    counts[np.argsort(-remainder, kind="stable")[:extra]] += 1
    return counts


def _resolve(where: tuple[tuple[str, float], ...], units: list[Unit],
             size_of: Callable[[Unit], float]) -> tuple[np.ndarray, np.ndarray]:
    """Unit indices and probabilities for a placement rule ("PKM-*" matches every id with that prefix)."""
    weights = np.zeros(len(units))
    for key, share in where:
        if key.endswith("*"):
            idx = [i for i, u in enumerate(units) if u.unit_id.startswith(key[:-1])]
        else:
            idx = [i for i, u in enumerate(units) if u.unit_id == key]
        sizes = np.array([size_of(units[i]) for i in idx], dtype="float64")
        if len(idx) and sizes.sum() > 0:
            weights[idx] += share * sizes / sizes.sum()
    nonzero = np.flatnonzero(weights)
    return nonzero, weights[nonzero] / weights[nonzero].sum()


def _posts(n_active: int, rng: np.random.Generator) -> tuple[list[Unit], list[Position], np.ndarray, np.ndarray]:
    """(units, positions, position index and unit index of every post of the current roster)."""
    scale = n_active / REFERENCE_EMPLOYEES
    units = build_units(max(2, round(REFERENCE_SD * scale)), max(1, round(REFERENCE_SMP * scale)))
    positions = build_positions()
    pos_index = {p.position_id: i for i, p in enumerate(positions)}
    roster_size = max(round(n_active / ACTIVE_SHARE), 20)

    # Structural posts are held once per unit; a small city keeps a random subset of them, a large one
    # keeps them all (only the staff below them scale).
    structural: list[tuple[int, int]] = []
    for u_idx, unit in enumerate(units):
        for pid, count in unit.posts:
            structural += [(pos_index[pid], u_idx)] * count
    if scale < 1:
        kept: list[tuple[int, int]] = []
        for ptype in ("jpt_pratama", "administrator", "pengawas"):
            group = [post for post in structural if positions[post[0]].position_type == ptype]
            k = max(1, round(len(group) * scale))
            chosen = np.sort(rng.choice(len(group), size=k, replace=False))
            kept += [group[i] for i in chosen]
        structural = kept

    # Staff posts: functional positions by their counts, pelaksana by the units' pelaksana sizes.
    staff_ids: list[int] = []
    staff_raw: list[float] = []
    for i, p in enumerate(positions):
        if p.structural:
            continue
        if p.position_type == "pelaksana":
            sector, k = p.position_id.split("-")[1], int(p.position_id.split("-")[2])
            size = sum(u.pelaksana for u in units if u.sector == sector)
            staff_raw.append(size * PELAKSANA_SPLIT[k - 1])
        else:
            staff_raw.append(p.count)
        staff_ids.append(i)
    raw = np.array(staff_raw)
    counts = _largest_remainder(raw, max(roster_size - len(structural), 1), rng)
    # Every position type occurs at least once.
    for ptype in POSITION_TYPES:
        members = [j for j, i in enumerate(staff_ids) if positions[i].position_type == ptype]
        if members and counts[members].sum() == 0:
            counts[members[int(np.argmax(raw[members]))]] += 1
            counts[int(np.argmax(counts))] -= 1

    pos_list = [p for p, _ in structural]
    unit_list = [u for _, u in structural]
    for j, i in enumerate(staff_ids):
        if counts[j] == 0:
            continue
        p = positions[i]
        if p.position_type == "pelaksana":
            sector = p.position_id.split("-")[1]
            where = tuple((u.unit_id, 1.0) for u in units if u.sector == sector and u.pelaksana > 0)
            cand, prob = _resolve(where, units, lambda u: u.pelaksana)
        else:
            cand, prob = _resolve(p.where, units, lambda u: 1.0)
        pos_list += [i] * int(counts[j])
        unit_list += list(rng.choice(cand, size=int(counts[j]), p=prob))
    return units, positions, np.array(pos_list, dtype=np.int64), np.array(unit_list, dtype=np.int64)


def _pppk_waves(exported_on: date) -> list[date]:
    waves = []
    for year in range(FIRST_PPPK_YEAR, exported_on.year + 1):
        tmt = date(year, PPPK_TMT_MONTHS[year % len(PPPK_TMT_MONTHS)], 1)
        if tmt <= exported_on:
            waves.append(tmt)
    return waves


def _pns_tmt(years_back: float, ref: date, rng: np.random.Generator) -> date:
    """A TMT CPNS about `years_back` years before `ref`: the cohort month of that year, never after ref."""
    year = ref.year - int(np.floor(years_back))
    for _ in range(3):
        month = CPNS_TMT_MONTHS[year % len(CPNS_TMT_MONTHS)] if year >= ref.year - 8 else int(rng.integers(1, 13))
        tmt = date(year, month, 1)
        if tmt <= ref:
            return tmt
        year -= 1
    return date(year, 1, 1)


def _random_day(rng: np.random.Generator, year: int, month: int) -> date:
    return date(year, month, int(rng.integers(1, calendar.monthrange(year, month)[1] + 1)))


def _grade(position: Position, pppk: bool, education: str, hired: date, at: date) -> str:
    ptype = position.position_type
    if pppk:
        number = PPPK_GRADE.get(ptype) if ptype != "pelaksana" else PPPK_PELAKSANA_GRADE[education]
        if number is None:  # PPPK do not hold these; fall back to the education grade
            number = PPPK_PELAKSANA_GRADE[education]
        return f"pppk_{number}"
    lo, hi = GRADE_RANGE[ptype]
    regular = START_GRADE[education] + whole_years(hired, at) // 4  # regular promotion every four years
    return PNS_GRADES[min(max(regular, lo), hi)]


def build_roster(n_active: int, years: int, exported_on: date, rng: np.random.Generator) -> Roster:
    """The roster at `exported_on` (≈ n_active aktif) plus retirees and movers of the last `years` years."""
    units, positions, post_pos, post_unit = _posts(n_active, rng)
    history_start = first_of(month_index(exported_on) - 12 * years + 1)
    waves = _pppk_waves(exported_on)
    n_current = len(post_pos)
    n_retired = round(n_current * RETIRED_PER_YEAR * years)
    n_moved = round(n_current * MOVED_PER_YEAR * years)
    # Leavers held the same kinds of posts (the post was filled again); retirees rarely an entry jenjang.
    entry_types = ("fungsional_ahli_pertama", "fungsional_terampil", "fungsional_pemula")
    senior = np.flatnonzero([positions[p].position_type not in entry_types for p in post_pos])
    leaver_posts = np.concatenate([senior[rng.integers(0, len(senior), size=n_retired)],
                                   rng.integers(0, n_current, size=n_moved)])
    position = np.concatenate([post_pos, post_pos[leaver_posts]])
    unit = np.concatenate([post_unit, post_unit[leaver_posts]])
    kind = np.array(["current"] * n_current + ["retired"] * n_retired + ["moved"] * n_moved)
    n = len(position)

    pppk = np.zeros(n, dtype=bool)
    education = np.zeros(n, dtype=np.int64)
    female = np.zeros(n, dtype=bool)
    birth: list[date] = []
    hired: list[date] = []
    status: list[str] = []
    leave: list[date | None] = []
    previous_type = np.zeros(n, dtype=np.int64)
    promoted_on: list[date | None] = []
    grades: list[str] = []
    u01 = rng.random((n, 12))  # pre-drawn uniforms keep the person loop cheap and its order fixed
    span_days = (exported_on - history_start).days
    for i in range(n):
        p = positions[position[i]]
        ptype = p.position_type
        bup = bup_age(p)
        u = u01[i]
        edu_names, edu_p = zip(*EDUCATION_MIX[p.education], strict=True)
        edu = edu_names[min(int(np.searchsorted(np.cumsum(edu_p), u[0] * sum(edu_p))), len(edu_names) - 1)]
        education[i] = EDUCATIONS.index(edu)
        female[i] = u[1] < p.female_share
        is_pppk = kind[i] != "retired" and bool(waves) and u[2] < p.pppk_share
        ref = exported_on
        if kind[i] == "moved":
            ref = history_start + timedelta(days=int(u[3] * span_days))
            is_pppk = is_pppk and ref > waves[0] if waves else False
        a_lo, a_hi = AGE_AT_HIRE[edu]
        if ptype in ("fungsional_pemula",):
            a_lo, a_hi = 19, 27
        age_hire = a_lo + u[4] * (a_hi - a_lo)
        if kind[i] == "retired":
            bup_day = history_start + timedelta(days=int(u[3] * span_days))
            b = date(bup_day.year - bup, bup_day.month, min(bup_day.day, 28))
            tmt = first_of(month_index(add_years(b, int(age_hire))) + int(u[5] * 12))
            status.append("pensiun")
            leave.append(add_years(b, bup))
        else:
            if is_pppk:
                usable = [w for w in waves if w <= ref]
                weights = np.arange(1, len(usable) + 1, dtype="float64")
                tmt = usable[min(int(np.searchsorted(np.cumsum(weights) / weights.sum(), u[5])), len(usable) - 1)]
                age_hire = 23 + u[4] * (46 - 23) if not p.teacher else 24 + u[4] * (42 - 24)
                years_in = (ref - tmt).days / 365.25
                age_hire = min(age_hire, bup - 1.0 - years_in)
            else:
                y_lo, y_hi = YEARS_OF_SERVICE[ptype]
                y_hi = min(y_hi, bup - 1.0 - age_hire)
                y_lo = min(y_lo, y_hi)
                tmt = _pns_tmt(y_lo + u[5] * (y_hi - y_lo), ref, rng)
                years_in = (ref - tmt).days / 365.25
            age_years = int(np.floor(age_hire))
            b = add_years(tmt, -age_years) - timedelta(days=int(u[6] * 360))
            if add_years(b, bup) <= ref:  # never past BUP while still employed
                b = add_years(ref, -bup) + timedelta(days=1 + int(u[6] * 200))
            status.append("aktif" if kind[i] == "current" else "pindah")
            leave.append(None if kind[i] == "current" else ref)
        birth.append(b)
        hired.append(tmt)
        pppk[i] = is_pppk
        # Promotion to the current post inside the history (PNS only), announced by an uji kompetensi.
        previous_type[i] = TYPE_INDEX[ptype]
        promo: date | None = None
        end = leave[-1] or exported_on
        earliest = max(add_years(tmt, 2), history_start + timedelta(days=31))
        if (ptype in PREDECESSOR and not is_pppk and u[7] < min(0.6, years / 6.0)
                and earliest < end - timedelta(days=31)):
            promo = first_of(month_index(earliest + timedelta(days=int(u[8] * ((end - earliest).days - 31)))))
            if promo > earliest:
                previous_type[i] = TYPE_INDEX[PREDECESSOR[ptype]]
            else:
                promo = None
        promoted_on.append(promo)
        grades.append(_grade(p, is_pppk, edu, tmt, leave[-1] or exported_on))

    # Leave and study leave among the current staff below the structural posts.
    current = np.flatnonzero(kind == "current")
    eligible_types = {"pelaksana", "fungsional_ahli_pertama", "fungsional_ahli_muda", "fungsional_terampil",
                      "fungsional_mahir"}
    pool = [i for i in current if positions[position[i]].position_type in eligible_types
            and whole_years(hired[i], exported_on) >= 2]
    n_cuti = min(round(n_current * CUTI_SHARE), len(pool))
    chosen = rng.permutation(len(pool))
    for k in chosen[:n_cuti]:
        i = pool[k]
        status[i], leave[i] = "cuti", exported_on - timedelta(days=int(10 + 140 * u01[i][9]))
    tb_pool = [pool[k] for k in chosen[n_cuti:] if not pppk[pool[k]] and whole_years(birth[pool[k]], exported_on) < 45]
    for i in tb_pool[:min(round(n_current * TUGAS_BELAJAR_SHARE), len(tb_pool))]:
        status[i], leave[i] = "tugas_belajar", exported_on - timedelta(days=int(60 + 700 * u01[i][9]))
    for i in range(n):  # records stop at the leave date, which is never before the TMT
        day = leave[i]
        if day is not None and day <= hired[i]:
            leave[i] = hired[i] + timedelta(days=40)

    nips: list[str] = []
    seen: dict[str, int] = {}
    for i in range(n):
        stem = f"{birth[i]:%Y%m%d}{hired[i]:%Y%m}{2 if female[i] else 1}"
        seen[stem] = seen.get(stem, 0) + 1
        nips.append(f"{stem}{seen[stem]:03d}")
    return Roster(units, positions, position, unit, pppk, education, female, birth, hired, status, leave,
                  previous_type, promoted_on, grades, nips)

