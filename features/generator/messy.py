"""Messy records the contract still accepts (a world's `messy` strength; nothing here runs when it is 0).

Applied when the files are written, after the history and the truth: the true levels, the selection and
so the truth files are those of the same world without mess. Two kinds:
- records: SKP years missing, post-test scores not entered, a date filled in on abandoned courses
  (`completed_on` is optional for `tidak_selesai`), penilaian 360 results rounded to half levels, and
  assessments re-entered a few days later with a slightly different level (same method);
- files: CRLF line ends, every cell quoted, a UTF-8 byte-order mark, padded cells, `TRUE`/`FALSE`, and
  integers written as `3.0` — all of which `features.io` reads as the clean values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from features.constants import ASSESSMENT_METHODS, LEVEL_MAX, LEVEL_MIN
from features.generator.state import History
from features.generator.worlds import STREAM_MESSY, World, world_stream

MISSING_REVIEWS = 0.08  # shares at messy = 1
MISSING_SCORES = 0.4
DATED_ABANDONMENTS = 0.6
ROUNDED_360 = 0.5
REENTERED = 0.04
BOM_TABLES = ("employees", "assessments")


@dataclass(frozen=True)
class CsvStyle:
    """How the CSV files are written: the clean defaults, or a messy system's."""

    line_end: str = "\n"
    quote_all: bool = False
    bom: tuple[str, ...] = ()


CLEAN = CsvStyle()


def csv_style(world: World) -> CsvStyle:
    return CLEAN if world.messy <= 0 else CsvStyle("\r\n", True, BOM_TABLES)


def messy_history(history: History, world: World, seed: int, export_day: int) -> History:
    """A copy of the history with the world's record-level mess (the history itself when messy = 0)."""
    if world.messy <= 0:
        return history
    rng = world_stream(seed, STREAM_MESSY)
    m = world.messy
    reviews = history.reviews
    keep = rng.random(len(reviews["person"])) >= MISSING_REVIEWS * m
    reviews = {key: values[keep] for key, values in reviews.items()}

    records = dict(history.records)
    score = records["score"].copy()
    score[(rng.random(len(score)) < MISSING_SCORES * m)] = np.nan
    completed = records["completed"].copy()
    dated = (records["status"] == 1) & (rng.random(len(completed)) < DATED_ABANDONMENTS * m)
    completed[dated] = np.minimum(records["ended"][dated], export_day)
    records["score"], records["completed"] = score, completed

    a = {key: values.copy() for key, values in history.assessments.items()}
    rounded = (a["method"] == ASSESSMENT_METHODS.index("penilaian_360")) & (rng.random(len(a["level"]))
                                                                             < ROUNDED_360 * m)
    a["level"][rounded] = np.clip(np.round(a["level"][rounded] * 2) / 2, LEVEL_MIN, LEVEL_MAX)
    again = np.flatnonzero(rng.random(len(a["level"])) < REENTERED * m)
    later = np.minimum(a["day"][again] + rng.integers(1, 15, len(again)), export_day)
    level = np.clip(np.round(a["level"][again] + rng.normal(0.0, 0.1, len(again)), 2), LEVEL_MIN, LEVEL_MAX)
    extra = {"person": a["person"][again], "competency": a["competency"][again], "day": later, "level": level,
             "method": a["method"][again]}
    merged = {key: np.concatenate([a[key], extra[key]]) for key in a}
    # The contract's key (nip, competency, day, method) stays unique: a re-entry on a taken day is dropped.
    key = np.stack([merged["person"], merged["competency"], merged["day"], merged["method"]])
    _, first = np.unique(key, axis=1, return_index=True)
    first = np.sort(first)
    assessments = {k: values[first] for k, values in merged.items()}
    return replace(history, assessments=assessments, reviews=reviews, records=records)


def messy_cells(table: str, header: Sequence[str], columns: list[list[str]], world: World) -> list[list[str]]:
    """The text cells of one table as a messy system writes them (unchanged when messy = 0)."""
    if world.messy <= 0:
        return columns
    out = [list(col) for col in columns]
    index = {name: i for i, name in enumerate(header)}
    if table == "trainings":
        out[index["active"]] = [v.upper() for v in out[index["active"]]]
    if table == "position_standards":
        out[index["required_level"]] = [f"{v}.0" for v in out[index["required_level"]]]
    if table == "training_targets":
        out[index["max_level"]] = [f"{v}.0" for v in out[index["max_level"]]]
    if table == "employees":
        out[index["status"]] = [f" {v} " for v in out[index["status"]]]
    if table == "units":
        out[index["name"]] = [f"{v}  " for v in out[index["name"]]]
    return out
