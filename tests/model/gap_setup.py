"""One small generated export and the gap models trained on it, built once per test process.

Shared by tests/training/test_gap_model.py and tests/model/test_behaviour.py through `gap_setup()`
(cached), so the export is generated and the models are fitted once. Nothing here mutates what it
returns; tests must not either (the frames are shared).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd

from engine.gap_model import CarryForward, GapModel, PerCompetencyLinear, temporal_split
from features.export import Export
from features.generator import generate_export
from features.io import read_export
from features.pit import PitIndex, build_features, holdout_pairs, training_pairs

EMPLOYEES = 1000
YEARS = 5
SEED = 11
BACKTEST_MONTHS = 18  # the back-test cutoff lies this far before the export date


@dataclass(frozen=True)
class GapSetup:
    export: Export
    index: PitIndex
    truth: pd.DataFrame  # truth/levels.csv
    cutoff: date
    train_x: pd.DataFrame
    train_y: pd.Series
    calib_x: pd.DataFrame
    calib_y: pd.Series
    test_pairs: pd.DataFrame  # held-out later assessments, as of the cutoff
    test_x: pd.DataFrame
    model: GapModel  # fitted on history up to the cutoff
    carry: CarryForward
    linear: PerCompetencyLinear


@lru_cache(maxsize=1)
def small_export() -> tuple[Export, pd.DataFrame]:
    """The generated export (read back through features.io) and its truth/levels.csv."""
    with tempfile.TemporaryDirectory(prefix="gap-export-") as tmp:
        folder = Path(tmp) / "export"
        generate_export(folder, employees=EMPLOYEES, years=YEARS, seed=SEED)
        export = read_export(folder)
        truth = pd.read_csv(folder / "truth" / "levels.csv", dtype={"nip": str, "competency_id": str})
    return export, truth


@lru_cache(maxsize=1)
def gap_setup() -> GapSetup:
    export, truth = small_export()
    index = PitIndex.build(export)
    cutoff = (pd.Timestamp(export.exported_on) - pd.DateOffset(months=BACKTEST_MONTHS)).date()
    pairs = training_pairs(index, before=cutoff, query_horizons=(12,))  # one horizon: a faster fit
    train_mask, calib_mask = temporal_split(pairs["target_on"])
    features = build_features(index, pairs)
    test_pairs = holdout_pairs(index, cutoff)
    test_x = build_features(index, test_pairs)
    train_x, train_y = features[train_mask], pairs["target"][train_mask]
    calib_x, calib_y = features[calib_mask], pairs["target"][calib_mask]
    model = GapModel(seed=SEED).fit(train_x, train_y, calib_x, calib_y)
    carry = CarryForward().fit(train_x, train_y, calib_x, calib_y)
    linear = PerCompetencyLinear().fit(train_x, train_y, calib_x, calib_y)
    return GapSetup(export, index, truth, cutoff, train_x, train_y, calib_x, calib_y, test_pairs, test_x,
                    model, carry, linear)
