"""Evidence people can trust (DECISIONS.md): comparable past participants against comparable
non-participants over the same period, a difference in differences on matched records.

A raw before → after of past participants overstates what a course does: people are sent when they
measure low, and a low measurement rises on retest without any course (regression to the mean). So each
participant's change is set against the change of comparable non-participants:

- *Participants* of training t for competency c: completed records (on or before the as-of date) with an
  assessment of c before the start (the latest) and after completion (the first), both on or before the
  as-of date (`features.eligibility`'s definition), and no other training targeting c running between the
  two (its effect would be counted as this one's). Their change is after − before.
- *Non-participants*: consecutive assessments of one person in c, both on or before the as-of date, with
  no training record targeting c running between them (started on or before the later one and not
  completed before the earlier one). Their change is later − earlier.
- *Matching*: a participant's comparable non-participants share the cell: the competency, the
  whole-level band of the level before, the level the person's position requires in c (people far below
  their standard grow toward it faster, and are sent more), the time between the two assessments
  (MATCH_GAP_DAYS buckets) and the period (the year of the assessment before). Within a band the level
  before still predicts the change (the lower the measurement, the larger the rise on retest), so the
  cell's mean change is moved to the participant's level before along the within-cell slope pooled over
  all cells (a regression adjustment).
- *Estimate* per (training, competency, band of the level before), the look-up key of a recommendation:
  mean over matched participants of (their change − the adjusted change of their non-participants), with
  the number of matched participants and of the distinct non-participant records they were compared with.
  On a generated export (1,000 employees) the raw before → after of participants averages +0.37 level
  against a true effect of +0.18; this estimate averages +0.18.

Participants without a single comparable non-participant are left out (nothing to compare them with).
Everything is built from the records on or before the as-of date: later records change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from features.constants import ASSESSMENT_METHODS
from features.eligibility import level_band
from features.export import Export

MATCH_GAP_DAYS = 183  # the time between the two assessments is matched in half-year buckets
SLOPE_LIMIT = (-1.0, 0.0)  # the pooled within-cell slope of change on level before (regression to the mean)
CELL = ["competency_id", "band", "gap_bucket", "period", "required"]  # what comparable means (see above)
DID_COLUMNS = ("training_id", "competency_id", "band", "participants", "mean_observed_change",
               "non_participants", "mean_change_non_participants", "mean_change_participants")


def _assessments(export: Export, at: pd.Timestamp) -> pd.DataFrame:
    """Assessments on or before `at`, one per (nip, competency, day): the most trusted method."""
    trust = {m: i for i, m in enumerate(ASSESSMENT_METHODS)}
    a = export["assessments"]
    a = a.loc[a["assessed_on"] <= at, ["nip", "competency_id", "assessed_on", "level", "method"]]
    a = a.assign(_trust=a["method"].astype("object").map(trust).fillna(len(trust)),
                 nip=a["nip"].astype(str), competency_id=a["competency_id"].astype(str))
    a = a.sort_values(["assessed_on", "_trust"], kind="stable").drop_duplicates(
        ["nip", "competency_id", "assessed_on"])
    return a[["nip", "competency_id", "assessed_on", "level"]].dropna(subset=["level"])


def _participant_pairs(export: Export, assessments: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Per (completed record, targeted competency) with assessments before and after: nip, training_id,
    competency_id, before_on, level_before, after_on, level_after."""
    records = export["training_records"]
    done = records[(records["status"] == "selesai") & records["completed_on"].notna()
                   & (records["completed_on"] <= at)]
    done = done.assign(nip=done["nip"].astype(str), training_id=done["training_id"].astype(str))
    targets = export["training_targets"][["training_id", "competency_id"]].astype(str)
    pairs = done[["nip", "training_id", "started_on", "completed_on"]].merge(targets, on="training_id")
    if pairs.empty:
        return pd.DataFrame(columns=["nip", "training_id", "competency_id", "before_on", "level_before",
                                     "after_on", "level_after"])
    pairs = pairs.reset_index(drop=True).assign(_row=lambda d: np.arange(len(d)))
    right = assessments.assign(_key=assessments["assessed_on"]).sort_values("_key")
    left = pairs.assign(_key=pairs["started_on"] - pd.Timedelta(days=1)).sort_values("_key")
    before = pd.merge_asof(left, right.rename(columns={"assessed_on": "before_on", "level": "level_before"}),
                           on="_key", by=["nip", "competency_id"], direction="backward")
    left = pairs.assign(_key=pairs["completed_on"]).sort_values("_key")
    after = pd.merge_asof(left, right.rename(columns={"assessed_on": "after_on", "level": "level_after"}),
                          on="_key", by=["nip", "competency_id"], direction="forward")
    out = pairs.merge(before[["_row", "before_on", "level_before"]], on="_row").merge(
        after[["_row", "after_on", "level_after"]], on="_row")
    out = out.dropna(subset=["level_before", "level_after"])
    # Only this course between the two assessments: another one targeting the competency would add its effect.
    spells = _spells(export, at)
    hit = out.merge(spells, on=["nip", "competency_id"], suffixes=("", "_other"))
    hit = hit[(hit["started_on_other"] <= hit["after_on"]) & (hit["end"] >= hit["before_on"])]
    crowded = hit.groupby("_row").size()
    out = out[~out["_row"].isin(crowded.index[crowded > 1])]
    return out[["nip", "training_id", "competency_id", "before_on", "level_before", "after_on", "level_after"]]


def _spells(export: Export, at: pd.Timestamp) -> pd.DataFrame:
    """Training spells begun on or before `at` per (nip, targeted competency): nip, competency_id,
    started_on_other, end (completed_on, or `at` while running or without an end)."""
    records = export["training_records"]
    records = records[records["started_on"] <= at]
    spells = records.assign(nip=records["nip"].astype(str), training_id=records["training_id"].astype(str),
                            end=records["completed_on"].fillna(at).clip(upper=at))
    targets = export["training_targets"][["training_id", "competency_id"]].astype(str)
    spells = spells[["nip", "training_id", "started_on", "end"]].merge(targets, on="training_id")
    return spells[["nip", "competency_id", "started_on", "end"]].rename(columns={"started_on": "started_on_other"})


def _control_pairs(export: Export, assessments: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Consecutive assessments of one person in one competency with no training targeting it running in
    between: nip, competency_id, before_on, level_before, after_on, level_after."""
    a = assessments.sort_values(["nip", "competency_id", "assessed_on"], kind="stable")
    same = (a["nip"].to_numpy()[1:] == a["nip"].to_numpy()[:-1]) & (
        a["competency_id"].to_numpy()[1:] == a["competency_id"].to_numpy()[:-1])
    first, second = np.flatnonzero(same), np.flatnonzero(same) + 1
    pairs = pd.DataFrame({
        "nip": a["nip"].to_numpy()[first], "competency_id": a["competency_id"].to_numpy()[first],
        "before_on": a["assessed_on"].to_numpy()[first], "level_before": a["level"].to_numpy(np.float64)[first],
        "after_on": a["assessed_on"].to_numpy()[second], "level_after": a["level"].to_numpy(np.float64)[second],
    })
    spells = _spells(export, at)
    pairs = pairs.reset_index(drop=True).assign(_row=lambda d: np.arange(len(d)))
    hit = pairs.merge(spells, on=["nip", "competency_id"])
    hit = hit[(hit["started_on_other"] <= hit["after_on"]) & (hit["end"] >= hit["before_on"])]
    return pairs[~pairs["_row"].isin(hit["_row"])].drop(columns="_row").reset_index(drop=True)


def _required(export: Export) -> pd.DataFrame:
    """nip, competency_id, required (the level the person's position requires; 0: not required)."""
    emp = export["employees"][["nip", "position_id"]].astype(str)
    std = export["position_standards"][["position_id", "competency_id", "required_level"]]
    std = std.assign(position_id=std["position_id"].astype(str), competency_id=std["competency_id"].astype(str))
    out = emp.merge(std, on="position_id")
    return out[["nip", "competency_id"]].assign(required=out["required_level"].to_numpy(np.int64))


def _cells(pairs: pd.DataFrame, required: pd.DataFrame) -> pd.DataFrame:
    """Each pair with its CELL columns (band of the level before, gap bucket, period, required level) and
    its change."""
    pairs = pairs.merge(required, on=["nip", "competency_id"], how="left")
    pairs = pairs.assign(required=pairs["required"].fillna(0).astype(np.int64))
    gap = (pd.to_datetime(pairs["after_on"]) - pd.to_datetime(pairs["before_on"])).dt.days.to_numpy()
    return pairs.assign(band=level_band(pairs["level_before"].to_numpy(np.float64)),
                        gap_bucket=(gap // MATCH_GAP_DAYS).astype(np.int64),
                        period=pd.to_datetime(pairs["before_on"]).dt.year.to_numpy(np.int64),
                        change=pairs["level_after"].to_numpy(np.float64) - pairs["level_before"].to_numpy(
                            np.float64))



def did_evidence(export: Export, as_of: date | pd.Timestamp) -> pd.DataFrame:
    """DataFrame[DID_COLUMNS]: per (training, competency, band of the level before) the matched
    participants, their change beyond comparable non-participants' (`mean_observed_change`, the difference
    in differences), the distinct non-participant records compared, their (level-adjusted) mean change, and
    the participants' own mean change (the raw before → after, shown only beside the comparison)."""
    at = pd.Timestamp(as_of).normalize()
    assessments = _assessments(export, at)
    required = _required(export)
    treated = _cells(_participant_pairs(export, assessments, at), required)
    controls = _cells(_control_pairs(export, assessments, at), required)
    empty = pd.DataFrame({c: pd.Series([], dtype="float64") for c in DID_COLUMNS})
    if treated.empty or controls.empty:
        return empty.astype({"training_id": "str", "competency_id": "str", "band": "int64",
                             "participants": "int64", "non_participants": "int64"})
    cell = controls.groupby(CELL, as_index=False).agg(
        control_n=("change", "size"), control_change=("change", "mean"), control_level=("level_before", "mean"))
    # The within-cell slope of change on the level before, pooled over every cell (cells are small).
    c = controls.merge(cell, on=CELL)
    dx = (c["level_before"] - c["control_level"]).to_numpy(np.float64)
    spread = float(dx @ dx)
    beta = float(np.clip(dx @ (c["change"] - c["control_change"]).to_numpy(np.float64) / spread, *SLOPE_LIMIT)
                 ) if spread > 0 else 0.0
    m = treated.merge(cell, on=CELL)
    m = m.assign(counterfactual=m["control_change"].to_numpy(np.float64) + beta * (
        m["level_before"].to_numpy(np.float64) - m["control_level"].to_numpy(np.float64)))
    m = m.assign(did=m["change"] - m["counterfactual"])
    keys = ["training_id", "competency_id", "band"]
    out = m.groupby(keys, as_index=False).agg(
        participants=("did", "size"), mean_observed_change=("did", "mean"),
        mean_change_non_participants=("counterfactual", "mean"), mean_change_participants=("change", "mean"))
    # Distinct non-participant records compared: each record sits in one cell, so sum the distinct cells.
    used = m.drop_duplicates(keys + CELL[2:]).groupby(keys, as_index=False)["control_n"].sum()
    out = out.merge(used.rename(columns={"control_n": "non_participants"}), on=keys)
    return out.astype({"training_id": "str", "competency_id": "str", "band": "int64", "participants": "int64",
                       "non_participants": "int64"})[list(DID_COLUMNS)].reset_index(drop=True)


@dataclass
class EvidenceTable:
    """`did_evidence` of one snapshot and as-of date as sorted integer keys and arrays (a request's look-up
    is one `searchsorted`); key = (training position × competencies + competency code) × bands + band + 1."""

    keys: np.ndarray
    participants: np.ndarray
    effect: np.ndarray  # the difference in differences
    non_participants: np.ndarray
    change_non_participants: np.ndarray
    change_participants: np.ndarray

    @classmethod
    def of(cls, table: pd.DataFrame, keys: np.ndarray) -> EvidenceTable:
        known = keys >= 0
        order = np.argsort(keys[known], kind="stable")

        def col(name: str, dtype: type) -> np.ndarray:
            return table[name].to_numpy(dtype)[known][order]

        return cls(keys[known][order], col("participants", np.int64), col("mean_observed_change", np.float64),
                   col("non_participants", np.int64), col("mean_change_non_participants", np.float64),
                   col("mean_change_participants", np.float64))

    def lookup(self, wanted: np.ndarray) -> dict[str, np.ndarray]:
        """Per wanted key: participants, effect, non_participants, change_non_participants,
        change_participants (0 and NaN where there is no evidence)."""
        if not len(self.keys):
            found = np.zeros(len(wanted), dtype=bool)
            at = np.zeros(len(wanted), dtype=np.int64)
        else:
            at = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
            found = self.keys[at] == wanted
        out: dict[str, np.ndarray] = {}
        for name in ("participants", "non_participants"):
            values = getattr(self, name)
            out[name] = np.where(found, values[at] if len(values) else 0, 0).astype(np.int64)
        for name in ("effect", "change_non_participants", "change_participants"):
            values = getattr(self, name)
            out[name] = np.where(found, values[at] if len(values) else np.nan, np.nan)
        return out
