"""Who may attend which training, and what past participants gained (INTERFACES.md "Definitions").

Pure functions on an `Export`; everything is vectorised over employees × trainings because the batch
scorer asks for every active employee at once.

*Eligible* (INTERFACES.md): the training is active; the employee's position type is listed in
`eligible_position_types` (empty = all); the employment is listed in `eligible_employment` (empty =
both); the whole years of service since `hired_on` at the as-of date are at most `max_years_of_service`
(empty = no limit); and the employee has no record of the training with status `selesai` or `berjalan`
dated on or before the as-of date.

*Evidence* of a training for a competency it targets: past participants who completed it on or before
the as-of date and who were assessed in that competency before the start and again after completion
(both on or before the as-of date): how many, and their mean observed change (after − before). The
assessment before is the latest one before `started_on`, the one after is the first one on or after
`completed_on`; same-day assessments follow the contract's trust order.

*Comparable* participants (used by the Predictor): those whose level before the training falls in the
same whole-level band as the employee's current level in that competency, i.e.
``floor(level_before) == floor(current_level)`` (level 5.0 joins band 4). The band is the one the
catalogue itself uses (`min_level` ≤ level < `max_level` + 1), so "comparable" means "started at the
same step of the 1–5 ladder".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from features.constants import ACTIVE_STATUS, ASSESSMENT_METHODS, LEVEL_MAX, POSITION_TYPES
from features.export import Export

ELIGIBLE_COLUMNS = ("nip", "training_id")
EVIDENCE_COLUMNS = ("training_id", "competency_id", "participants", "mean_observed_change")
EVIDENCE_ROW_COLUMNS = (
    "nip", "training_id", "competency_id", "level_before", "level_after", "change", "band",
)
BAND_EVIDENCE_COLUMNS = ("training_id", "competency_id", "band", "participants", "mean_observed_change")
BLOCKING_STATUSES = ("selesai", "berjalan")


def level_band(level: pd.Series | np.ndarray) -> np.ndarray:
    """Whole-level band 1–4 of a continuous level (5.0 joins band 4; missing → -1)."""
    values = np.asarray(pd.to_numeric(pd.Series(level), errors="coerce"), dtype="float64")
    band = np.floor(np.clip(values, 1.0, LEVEL_MAX - 1e-9))
    return np.where(np.isnan(band), -1, band).astype("int64")


def _timestamp(as_of: date | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize()


def whole_years_of_service(hired_on: pd.Series, as_of: date | pd.Timestamp) -> np.ndarray:
    """Completed years between `hired_on` and `as_of` (anniversary based; missing → 0)."""
    at = _timestamp(as_of)
    hired = pd.to_datetime(hired_on)
    years = at.year - hired.dt.year
    month, day = hired.dt.month, hired.dt.day
    before_anniversary = (month > at.month) | ((month == at.month) & (day > at.day))
    out = (years - before_anniversary.astype("int64")).astype("float64")
    return np.nan_to_num(out.to_numpy(dtype="float64", na_value=np.nan), nan=0.0)


def _split_list(value: object) -> tuple[str, ...]:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ()
    return tuple(part.strip() for part in str(value).split(";") if part.strip())


def _employee_frame(export: Export, nips: Iterable[str] | None) -> pd.DataFrame:
    employees = export["employees"]
    if nips is None:
        employees = employees[employees["status"] == ACTIVE_STATUS]
    else:
        wanted = pd.Index(pd.unique(pd.Series(list(nips), dtype="str")))
        employees = employees[employees["nip"].isin(wanted)]
    positions = export["positions"][["position_id", "position_type"]]
    return employees[["nip", "position_id", "employment", "hired_on"]].merge(positions, on="position_id",
                                                                              how="left")


def blocking_records(export: Export, as_of: date | pd.Timestamp, nips: pd.Index | None = None
                     ) -> pd.DataFrame:
    """(nip, training_id) pairs that make a training ineligible at `as_of` (of `nips` only, when given).

    A record blocks when it started on or before `as_of` and is `selesai` or `berjalan`; a record
    that was still running at `as_of` (completed after it) blocks too, whatever its final status,
    because at that date it was `berjalan`.
    """
    at = _timestamp(as_of)
    records = export["training_records"]
    if nips is not None and len(nips) < 100:  # one request: select its rows first (cheaper than a join)
        records = records[records["nip"].isin(list(nips))]
    started = records["started_on"] <= at
    running_then = records["completed_on"].notna() & (records["completed_on"] > at)
    blocks = started & (records["status"].isin(BLOCKING_STATUSES) | running_then)
    return records.loc[blocks, ["nip", "training_id"]].drop_duplicates()


def eligibility_matrix(
    export: Export, nips: Iterable[str] | None, as_of: date | pd.Timestamp
) -> tuple[pd.Index, pd.Index, np.ndarray]:
    """(nips, training_ids, boolean matrix [employee, training]) of eligibility at `as_of`.

    `nips=None` means every active employee; unknown nips are ignored.
    """
    employees = _employee_frame(export, nips).drop_duplicates("nip")
    trainings = export["trainings"]
    trainings = trainings[trainings["active"].astype(bool)]
    nip_index = pd.Index(employees["nip"].astype("str"), name="nip")
    training_index = pd.Index(trainings["training_id"].astype("str"), name="training_id")
    n_emp, n_tr = len(nip_index), len(training_index)
    if n_emp == 0 or n_tr == 0:
        return nip_index, training_index, np.zeros((n_emp, n_tr), dtype=bool)

    # Position type: a [training, position type] table, indexed by each employee's type code. Types not
    # in the contract (should not happen after validation) get their own column so they match nothing
    # but the "open to all" trainings.
    type_codes = {t: i for i, t in enumerate(POSITION_TYPES)}
    unknown = len(POSITION_TYPES)
    open_types = np.zeros((n_tr, unknown + 1), dtype=bool)
    for row, raw in enumerate(trainings["eligible_position_types"].tolist()):
        listed = _split_list(raw)
        if not listed:
            open_types[row, :] = True
        for t in listed:
            if t in type_codes:
                open_types[row, type_codes[t]] = True
    emp_type = employees["position_type"].astype("object").map(lambda t: type_codes.get(t, unknown))
    eligible = open_types[:, emp_type.to_numpy(dtype="int64")].T

    # Employment: same idea with two columns (pns, pppk) + unknown.
    if "eligible_employment" in trainings.columns:
        employment_lists = [_split_list(v) for v in trainings["eligible_employment"].tolist()]
    else:
        employment_lists = [() for _ in range(n_tr)]
    emp_kinds = sorted({e for lst in employment_lists for e in lst} | set(employees["employment"].dropna()))
    kind_codes = {k: i for i, k in enumerate(emp_kinds)}
    open_employment = np.zeros((n_tr, len(emp_kinds) + 1), dtype=bool)
    for row, listed in enumerate(employment_lists):
        if not listed:
            open_employment[row, :] = True
        for k in listed:
            open_employment[row, kind_codes[k]] = True
    emp_kind = employees["employment"].astype("object").map(lambda k: kind_codes.get(k, len(emp_kinds)))
    eligible &= open_employment[:, emp_kind.to_numpy(dtype="int64")].T

    # Years of service.
    if "max_years_of_service" in trainings.columns:
        max_years = pd.to_numeric(trainings["max_years_of_service"], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan)
        service = whole_years_of_service(employees["hired_on"], as_of)
        limited = ~np.isnan(max_years)
        if limited.any():
            eligible[:, limited] &= service[:, None] <= max_years[None, limited]

    # No completed or running record.
    blocked = blocking_records(export, as_of, nip_index)
    rows = nip_index.get_indexer(blocked["nip"].astype("str"))
    cols = training_index.get_indexer(blocked["training_id"].astype("str"))
    keep = (rows >= 0) & (cols >= 0)
    eligible[rows[keep], cols[keep]] = False
    return nip_index, training_index, eligible


def eligible_pairs(export: Export, nips: Iterable[str] | None, as_of: date | pd.Timestamp) -> pd.DataFrame:
    """DataFrame[nip, training_id] of every eligible (employee, training) pair at `as_of`.

    `nips=None` means every active employee. Rows are ordered by employee (input order), then by the
    catalogue order of trainings.
    """
    nip_index, training_index, eligible = eligibility_matrix(export, nips, as_of)
    rows, cols = np.nonzero(eligible)
    return pd.DataFrame({
        "nip": pd.array(nip_index.to_numpy()[rows], dtype="str"),
        "training_id": pd.array(training_index.to_numpy()[cols], dtype="str"),
    })


def _ordered_assessments(assessments: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Assessments on or before `as_of`, one per (nip, competency, day): the most trusted method."""
    trust = {m: i for i, m in enumerate(ASSESSMENT_METHODS)}
    a = assessments.loc[assessments["assessed_on"] <= as_of, ["nip", "competency_id", "assessed_on", "level",
                                                              "method"]]
    a = a.assign(_trust=a["method"].astype("object").map(trust).fillna(len(trust)))
    a = a.sort_values(["assessed_on", "_trust"]).drop_duplicates(["nip", "competency_id", "assessed_on"])
    return a.drop(columns=["_trust", "method"])


def training_evidence_rows(export: Export, as_of: date | pd.Timestamp) -> pd.DataFrame:
    """One row per (completed record, targeted competency) with an assessment before and after.

    Columns: nip, training_id, competency_id, level_before, level_after, change, band (of level_before).
    """
    at = _timestamp(as_of)
    records = export["training_records"]
    done = records[(records["status"] == "selesai") & records["completed_on"].notna()
                   & (records["completed_on"] <= at)]
    done = done[["nip", "training_id", "started_on", "completed_on"]]
    targets = export["training_targets"][["training_id", "competency_id"]]
    pairs = done.merge(targets, on="training_id")
    empty = pd.DataFrame({c: pd.Series([], dtype="float64") for c in EVIDENCE_ROW_COLUMNS})
    if pairs.empty:
        return empty.astype({"nip": "str", "training_id": "str", "competency_id": "str", "band": "int64"})
    assessments = _ordered_assessments(export["assessments"], at)
    pairs = pairs.reset_index(drop=True).assign(_row=lambda d: np.arange(len(d)))

    # Latest assessment strictly before the start: merge_asof backwards on the start date minus a day.
    left = pairs.assign(_key=pairs["started_on"] - pd.Timedelta(days=1)).sort_values("_key")
    right = assessments.rename(columns={"assessed_on": "_key", "level": "level_before"}).sort_values("_key")
    before = pd.merge_asof(left, right, on="_key", by=["nip", "competency_id"], direction="backward")
    # First assessment on or after completion (and ≤ as_of, already filtered).
    left = pairs.assign(_key=pairs["completed_on"]).sort_values("_key")
    right = assessments.rename(columns={"assessed_on": "_key", "level": "level_after"}).sort_values("_key")
    after = pd.merge_asof(left, right, on="_key", by=["nip", "competency_id"], direction="forward")

    out = pairs.merge(before[["_row", "level_before"]], on="_row").merge(after[["_row", "level_after"]],
                                                                          on="_row")
    out = out.dropna(subset=["level_before", "level_after"])
    out = out.assign(change=out["level_after"] - out["level_before"], band=level_band(out["level_before"]))
    return out[list(EVIDENCE_ROW_COLUMNS)].reset_index(drop=True)


def training_evidence(export: Export, as_of: date | pd.Timestamp) -> pd.DataFrame:
    """DataFrame[training_id, competency_id, participants, mean_observed_change] over all past participants.

    A participant who took the training twice counts once per completed record.
    """
    rows = training_evidence_rows(export, as_of)
    out = rows.groupby(["training_id", "competency_id"], as_index=False).agg(
        participants=("change", "size"), mean_observed_change=("change", "mean"))
    return out.astype({"participants": "int64"})[list(EVIDENCE_COLUMNS)]


def training_evidence_by_band(export: Export, as_of: date | pd.Timestamp) -> pd.DataFrame:
    """Evidence per (training, competency, band of the level before): the comparable-participant table."""
    rows = training_evidence_rows(export, as_of)
    out = rows.groupby(["training_id", "competency_id", "band"], as_index=False).agg(
        participants=("change", "size"), mean_observed_change=("change", "mean"))
    return out.astype({"participants": "int64", "band": "int64"})[list(BAND_EVIDENCE_COLUMNS)]
