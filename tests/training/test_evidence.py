"""The evidence shown with a recommendation (`engine.evidence`): comparable past participants against
comparable non-participants over the same period, a difference in differences on matched records.

On a small generated export, people are sent when they measure low, so the raw before → after of
participants overstates a course (regression to the mean); the difference in differences must land near
the generator's true effect, stay point-in-time, report both groups' counts, and read as a sentence that
names both groups.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from engine import explain
from engine.evidence import DID_COLUMNS, did_evidence
from engine.snapshot import SnapshotTables
from features.eligibility import level_band
from features.export import Export
from features.generator import generate_export
from features.generator.model import FORMAT_FACTOR, band_factor, base_effect
from features.generator.trainings import TRAININGS
from features.io import read_export

KEYS = ["training_id", "competency_id", "band"]


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    folder = tmp_path_factory.mktemp("evidence") / "export"
    generate_export(folder, employees=300, years=5, seed=11)
    return read_export(folder)


def _true_effects() -> pd.DataFrame:
    """The generator's shift of a completion per (training, competency, band of the level before): its
    causal model (`features.generator`) at the band's middle, openness at its mean. truth/effects.csv
    holds the gains of the trainings still open to each employee, which past participants no longer are."""
    rows = [(t.training_id, c, band, float(base_effect(t.hours_jp) * FORMAT_FACTOR[t.format] * t.quality * w
                                           * band_factor(np.array([band + 0.5]), lo, hi)[0]))
            for t in TRAININGS for c, lo, hi, w in t.targets for band in (1, 2, 3, 4)]
    return pd.DataFrame(rows, columns=[*KEYS, "truth"])


def _weighted(frame: pd.DataFrame, column: str) -> float:
    return float(np.average(frame[column], weights=frame["participants"]))


def test_difference_in_differences_is_near_the_truth_where_the_raw_change_overstates(export: Export) -> None:
    evidence = did_evidence(export, export.exported_on).merge(_true_effects(), on=KEYS)
    assert evidence["participants"].sum() >= 200
    truth = _weighted(evidence, "truth")
    did = _weighted(evidence, "mean_observed_change")
    raw = _weighted(evidence, "mean_change_participants")
    assert raw > truth + 0.1  # people sent when measured low rise on retest anyway
    assert did < raw - 0.1
    assert abs(did - truth) < 0.5 * abs(raw - truth)


def test_both_groups_are_counted_and_the_estimate_is_their_difference(export: Export) -> None:
    evidence = did_evidence(export, export.exported_on)
    assert list(evidence.columns) == list(DID_COLUMNS)
    assert (evidence["participants"] >= 1).all() and (evidence["non_participants"] >= 1).all()
    assert evidence["band"].isin([1, 2, 3, 4]).all()
    np.testing.assert_allclose(evidence["mean_change_participants"] - evidence["mean_change_non_participants"],
                               evidence["mean_observed_change"], atol=1e-9)
    # The raw table counts every participant with a before and an after; the matched ones are fewer.
    assert evidence["participants"].sum() < len(export["training_records"])


def _until(export: Export, as_of: date) -> Export:
    """The export as it stood at `as_of`: later assessments and records gone, later completions running."""
    at = pd.Timestamp(as_of)
    records = export["training_records"]
    records = records[records["started_on"] <= at].copy()
    late = records["completed_on"] > at
    records.loc[late, "completed_on"] = pd.NaT
    records.loc[late, "status"] = "berjalan"
    assessments = export["assessments"]
    return replace(export, tables={**export.tables, "training_records": records,
                                   "assessments": assessments[assessments["assessed_on"] <= at]},
                   snapshot_id=None)


def test_point_in_time(export: Export) -> None:
    as_of = date(2024, 12, 31)
    now = did_evidence(export, as_of)
    assert len(now) > 0
    pd.testing.assert_frame_equal(now, did_evidence(_until(export, as_of), as_of))
    assert not now.equals(did_evidence(export, export.exported_on))


def test_a_request_reads_the_snapshot_table(export: Export) -> None:
    tables = SnapshotTables.__new__(SnapshotTables)
    tables._lock, tables._cache = threading.Lock(), []
    ctx = tables._context(export)
    table = tables._evidence(ctx, export.exported_on)
    assert tables._evidence(ctx, export.exported_on) is table  # built once per snapshot and date
    frame = did_evidence(export, export.exported_on)
    position = ctx.tables.training_ids.get_indexer(frame["training_id"])
    comp = ctx.index.competencies.index.get_indexer(frame["competency_id"])
    found = table.lookup(tables._evidence_keys(ctx, position, comp, frame["band"].to_numpy(np.int64)))
    assert found["participants"].tolist() == frame["participants"].tolist()
    assert found["non_participants"].tolist() == frame["non_participants"].tolist()
    np.testing.assert_allclose(found["effect"], frame["mean_observed_change"])
    # A band nobody started from: no evidence.
    missing = table.lookup(tables._evidence_keys(ctx, position[:1], comp[:1], level_band(np.array([np.nan]))))
    assert missing["participants"].tolist() == [0] and np.isnan(missing["effect"]).all()


def test_the_sentence_names_both_groups_with_counts() -> None:
    text = explain.training_evidence(12, 0.31, 40, 0.21, 0.52, "Komunikasi")
    assert text == ("12 peserta sebelumnya dengan level Komunikasi serupa naik 0,31 level lebih banyak daripada "
                    "40 non-peserta serupa pada periode yang sama (+0,52 dibanding +0,21).")
    english = explain.training_evidence(12, -0.05, 40, 0.30, 0.25, "Communication", lang="en")
    assert english == ("12 earlier participants at a similar Communication level rose 0.05 levels less than 40 "
                       "comparable non-participants over the same period (+0.25 against +0.30).")


def test_no_records_no_evidence(export: Export) -> None:
    empty = _until(export, date(2000, 1, 1))
    assert did_evidence(empty, date(2000, 1, 1)).empty
