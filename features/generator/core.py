"""`generate_export`: build the roster, run the history, compute the truth, write every file.

The world (`worlds.py`) is recorded in `truth/world.json` only, never in the export itself.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from features.constants import (
    ASSESSMENT_METHODS,
    CONTRACT_VERSION,
    DEFAULT_HORIZON_MONTHS,
    EDUCATIONS,
    EXPORT_META_FILE,
    SKP_EXPECTATIONS,
    SKP_RATINGS,
    TABLES_BY_NAME,
    TRAINING_STATUSES,
    TRUTH_EFFECTS_COLUMNS,
    TRUTH_LEVELS_COLUMNS,
)
from features.generator.catalogue import standards
from features.generator.competencies import competency_rows
from features.generator.messy import CLEAN, CsvStyle, csv_style, messy_cells, messy_history
from features.generator.population import Roster, build_roster
from features.generator.simulate import AWARD_KINDS, simulate
from features.generator.state import Catalogue, FinalState, History, Latent, Timeline, day_number
from features.generator.trainings import TRAININGS
from features.generator.truth import TRUTH_COMPLETION_COLUMNS, Truth, compute_truth
from features.generator.worlds import World, world_from_spec

ORGANISATION = "Pemerintah Kota Pontianak"
WORLD_FILE = "world.json"  # in truth/: the world the export was drawn from


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate_export` wrote: rows per file (tables and truth files), the export date, wall time."""

    out: Path
    exported_on: date
    counts: dict[str, int] = field(default_factory=dict)
    active_employees: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        shown = ", ".join(f"{name} {count:,}" for name, count in self.counts.items())
        return (f"{self.active_employees:,} active employees as of {self.exported_on.isoformat()}; {shown}; "
                f"{self.seconds:.1f} s")


def _write_csv(path: Path, header: Sequence[str], columns: Sequence[Sequence[str]], style: CsvStyle = CLEAN,
               bom: bool = False) -> int:
    """Write one CSV (UTF-8, comma, header, "\\n" line ends unless the style says otherwise); every cell is
    already text. Returns rows."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=style.line_end,
                            quoting=csv.QUOTE_ALL if style.quote_all else csv.QUOTE_MINIMAL)
        writer.writerow(header)
        writer.writerows(zip(*columns, strict=True))
    return len(columns[0]) if columns else 0


def _iso(days: np.ndarray) -> list[str]:
    return np.asarray(days, dtype="int64").astype("datetime64[D]").astype(str).tolist()


def _fixed(values: Iterable[float], digits: int) -> list[str]:
    return [f"{v:.{digits}f}" for v in values]


def _ranks(values: Sequence[str]) -> np.ndarray:
    """Rank of each string in sorted order (for lexsort keys on text columns)."""
    order = np.argsort(np.asarray(values, dtype=object), kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    return ranks


def _sorted(*keys: np.ndarray) -> np.ndarray:
    """Row order sorting by the first key, then the second, … (all integer ranks)."""
    return np.lexsort(tuple(reversed(keys)))


@dataclass
class Simulation:
    """Everything the generator knows before writing: roster, catalogue, history, latent state, truth."""

    exported_on: date
    roster: Roster
    catalogue: Catalogue
    history: History
    latent: Latent
    timeline: Timeline
    final: FinalState
    truth: Truth
    world: World = field(default_factory=World)
    seed: int = 7


def simulate_export(employees: int = 6000, years: int = 5, seed: int = 7, exported_on: date = date(2026, 6, 30),
                    world: World | str = "default", progress: Callable[[str], None] | None = None) -> Simulation:
    """Build the roster, run the history of the world (a `World`, a name of `NAMED_WORLDS` or
    `random:SEED`) and compute its truth, in memory (no files)."""
    world = world_from_spec(world)
    if employees < 10:
        raise ValueError("employees must be at least 10")
    if years < 1:
        raise ValueError("years must be at least 1")
    say = progress or (lambda message: None)
    roster = build_roster(employees, years, exported_on, np.random.default_rng(np.random.SeedSequence([seed, 1])))
    say(f"roster of {len(roster.position):,} people in {len(roster.units):,} units")
    catalogue = Catalogue.build([c[0] for c in competency_rows()], roster, TRAININGS).with_world(world, seed)
    history, latent, timeline, final = simulate(roster, catalogue, years, exported_on, seed, progress=say,
                                                world=world)
    say(f"computing the ground truth of world {world.name}")
    truth = compute_truth(roster, catalogue, latent, timeline, final, history.records, exported_on, world=world)
    return Simulation(exported_on, roster, catalogue, history, latent, timeline, final, truth, world, seed)


def generate_export(out: Path, employees: int = 6000, years: int = 5, seed: int = 7,
                    exported_on: date = date(2026, 6, 30), world: World | str = "default",
                    progress: Callable[[str], None] | None = None) -> GenerateSummary:
    """Write a synthetic Kota Pontianak export (DATA_CONTRACT.md) and its ground truth into `out`.

    About `employees` active employees at `exported_on`, `years` of history, drawn from `world` (a
    `World`, a name of `NAMED_WORLDS` or `random:SEED`; the default is the demo world); the same arguments
    give byte-identical files. Raises ValueError for an unknown world.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    sim = simulate_export(employees, years, seed, exported_on, world, progress)
    out = Path(out)
    say(f"writing {out}")
    counts = write_files(sim, out)
    active = sum(1 for s in sim.roster.status if s == "aktif")
    summary = GenerateSummary(out, exported_on, counts, active, time.perf_counter() - started)
    say(str(summary))
    return summary


def write_files(sim: Simulation, out: Path) -> dict[str, int]:
    """Write the tables, export.json and truth/ of a simulation into `out`; returns rows per file."""
    roster, catalogue, truth, exported_on, world = sim.roster, sim.catalogue, sim.truth, sim.exported_on, sim.world
    history = messy_history(sim.history, world, sim.seed, day_number(exported_on))
    style = csv_style(world)
    competencies = competency_rows()
    (out / "truth").mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    nip = np.array(roster.nip, dtype=object)
    nip_rank = _ranks(roster.nip)
    comp_ids = catalogue.competency_ids
    comp_rank = _ranks(comp_ids)
    training_ids = [t.training_id for t in catalogue.trainings]
    training_rank = _ranks(training_ids)

    def write(name: str, columns: Sequence[Sequence[str]]) -> None:
        header = TABLES_BY_NAME[name].column_names
        if world.messy > 0:
            columns = messy_cells(name, header, [list(col) for col in columns], world)
        counts[name] = _write_csv(out / f"{name}.csv", header, columns, style, name in style.bom)

    units = sorted(roster.units, key=lambda u: u.unit_id)
    write("units", [[u.unit_id for u in units], [u.name for u in units], [u.kind for u in units],
                    [u.parent or "" for u in units]])
    comps = sorted(competencies)
    write("competencies", [list(col) for col in zip(*comps, strict=True)])
    positions = sorted(roster.positions, key=lambda p: p.position_id)
    write("positions", [[p.position_id for p in positions], [p.title for p in positions],
                        [p.position_type for p in positions], [p.job_family for p in positions]])
    skj = sorted((p.position_id, cid, str(level)) for p in positions for cid, level in standards(p))
    write("position_standards", [list(col) for col in zip(*skj, strict=True)])

    order = np.argsort(nip_rank)
    person_positions = [roster.positions[roster.position[i]] for i in order]
    write("employees", [
        nip[order].tolist(), [roster.units[roster.unit[i]].unit_id for i in order],
        [p.position_id for p in person_positions], [roster.grade[i] for i in order],
        ["pppk" if roster.pppk[i] else "pns" for i in order], [EDUCATIONS[roster.education[i]] for i in order],
        [roster.hired[i].isoformat() for i in order], [roster.birth[i].isoformat() for i in order],
        ["p" if roster.female[i] else "l" for i in order], [roster.status[i] for i in order],
    ])

    a = history.assessments
    method_names = np.array(ASSESSMENT_METHODS, dtype=object)
    method_rank = _ranks(list(ASSESSMENT_METHODS))
    order = _sorted(nip_rank[a["person"]], comp_rank[a["competency"]], a["day"], method_rank[a["method"]])
    write("assessments", [nip[a["person"][order]].tolist(), [comp_ids[c] for c in a["competency"][order]],
                          _iso(a["day"][order]), _fixed(a["level"][order], 2), method_names[a["method"][order]].tolist()])

    r = history.reviews
    order = _sorted(nip_rank[r["person"]], r["year"])
    expectations = np.array(SKP_EXPECTATIONS, dtype=object)
    write("performance_reviews", [nip[r["person"][order]].tolist(), [str(y) for y in r["year"][order]],
                                  np.array(SKP_RATINGS, dtype=object)[r["rating"][order]].tolist(),
                                  expectations[r["result"][order]].tolist(),
                                  expectations[r["behavior"][order]].tolist()])

    trainings = sorted(catalogue.trainings, key=lambda t: t.training_id)
    write("trainings", [
        [t.training_id for t in trainings], [t.title for t in trainings], [t.format for t in trainings],
        [str(t.hours_jp) for t in trainings], [str(t.cost_idr) for t in trainings], [t.provider for t in trainings],
        [t.eligible_position_types for t in trainings], [t.eligible_employment for t in trainings],
        ["" if t.max_years_of_service is None else str(t.max_years_of_service) for t in trainings],
        ["true" if t.active else "false" for t in trainings],
    ])
    targets = sorted((t.training_id, cid, str(lo), str(hi)) for t in trainings for cid, lo, hi, _w in t.targets)
    write("training_targets", [list(col) for col in zip(*targets, strict=True)])

    rec = history.records
    order = _sorted(nip_rank[rec["person"]], rec["started"], training_rank[rec["training"]])
    completed = rec["completed"][order]
    score = rec["score"][order]
    write("training_records", [
        nip[rec["person"][order]].tolist(), [training_ids[k] for k in rec["training"][order]],
        _iso(rec["started"][order]),
        ["" if d < 0 else s for d, s in zip(completed.tolist(), _iso(np.maximum(completed, 0)), strict=True)],
        np.array(TRAINING_STATUSES, dtype=object)[rec["status"][order]].tolist(),
        ["" if np.isnan(v) else f"{v:.1f}" for v in score.tolist()],
    ])

    w = history.awards
    order = _sorted(nip_rank[w["person"]], w["year"], w["kind"])
    write("awards", [nip[w["person"][order]].tolist(), [str(y) for y in w["year"][order]],
                     [AWARD_KINDS[k] for k in w["kind"][order]]])

    meta = {"contract_version": CONTRACT_VERSION, "organisation": ORGANISATION, "exported_on": exported_on.isoformat()}
    (out / EXPORT_META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    as_of = exported_on.isoformat()
    order = _sorted(nip_rank[truth.level_person], comp_rank[truth.level_competency])
    n_levels = len(order)
    counts["truth/levels"] = _write_csv(out / "truth" / "levels.csv", TRUTH_LEVELS_COLUMNS, [
        nip[truth.level_person[order]].tolist(), [comp_ids[c] for c in truth.level_competency[order]],
        [as_of] * n_levels, [str(DEFAULT_HORIZON_MONTHS)] * n_levels, _fixed(truth.expected_level[order], 6),
    ])
    order = _sorted(nip_rank[truth.effect_person], training_rank[truth.effect_training])
    counts["truth/effects"] = _write_csv(out / "truth" / "effects.csv", TRUTH_EFFECTS_COLUMNS, [
        nip[truth.effect_person[order]].tolist(), [training_ids[k] for k in truth.effect_training[order]],
        _fixed(truth.expected_gain[order], 6),
    ])
    counts["truth/completion"] = _write_csv(out / "truth" / "completion.csv", TRUTH_COMPLETION_COLUMNS, [
        nip[truth.effect_person[order]].tolist(), [training_ids[k] for k in truth.effect_training[order]],
        _fixed(truth.completion_probability[order], 6),
    ])
    (out / "truth" / WORLD_FILE).write_text(json.dumps(world.to_json(), indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    return counts
