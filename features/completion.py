"""Point-in-time features of an enrolment: will this employee finish this course? (the completion model's
inputs, `engine.completion`).

A row is (nip, training_id, as_of); every feature is computed from records dated *before* as_of (the
dating rules of `features.pit`), so an enrolment's own record never describes itself: an abandoned
course without `completed_on` is dated on its start day, which is why the cut is strict (as_of − 1 day).
Training examples are the enrolments whose outcome is known (`selesai`, `tidak_selesai`; `berjalan`
excluded), each as of its own start date (`enrolment_examples`).

What the features say, and why they are there:
- the person's own record: courses finished and abandoned before (all, and in the last 36 months), the
  smoothed completion rate, months since the last abandonment; the strongest sign of persistent
  reluctance (BKPSDM's "ASN yang enggan mengikuti atau menyelesaikan pelatihan");
- the course: format (completion differs a lot by format) and JP;
- fit to the job: the share of the course's targets the position requires, and where the person's latest
  assessed level sits relative to the course's band on those competencies (below, inside, above; levels);
- the unit's habits: the completion rate of the unit's other employees' enrolments before as_of (the
  employee excluded), smoothed towards the city-wide rate, and the unit's number of such enrolments;
- SKP: the last finished year's rating and its change from the year before; tenure in years.
Protected attributes (sex, birth date, the NIP digits) never reach a feature: the index is built from
`Export.without_protected()`, and the NIP is only a key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.export import Export
from features.pit_index import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    PitIndex,
    Timeline,
    as_str,
    to_days,
    year_end_days,
    years_of_days,
)

FORMAT_FEATURE = "format"
NUMERIC_COMPLETION_FEATURES: tuple[str, ...] = (
    "past_finished", "past_abandoned", "past_finished_36m", "past_abandoned_36m", "past_completion_rate",
    "months_since_abandoned", "hours_jp", "targets_required_share", "band_below", "band_above", "band_inside",
    "unit_completion_rate", "unit_enrolments", "skp_last_rating", "skp_trend", "tenure_years",
)
COMPLETION_FEATURES: tuple[str, ...] = (FORMAT_FEATURE, *NUMERIC_COMPLETION_FEATURES)
PRIOR_WEIGHT = 2.0  # pseudo-enrolments at the city-wide rate in the smoothed own and unit rates
ENDED = ("selesai", "tidak_selesai")


@dataclass
class CompletionTables:
    """What the features need beyond `PitIndex`: each course's format, and the enrolments' outcomes per
    unit as timelines (built once per index; `of` caches them in the index)."""

    formats: pd.Series  # training_id → format
    unit_done: Timeline  # finished enrolments per unit code, dated like `PitIndex.completed`
    unit_quit: Timeline  # abandoned enrolments per unit code, dated like `PitIndex.abandoned`
    city_done: Timeline  # every finished enrolment (one group), for the city-wide rate as of a day
    city_quit: Timeline  # every abandoned enrolment

    @classmethod
    def of(cls, index: PitIndex, export: Export) -> CompletionTables:
        """The tables of an index (built on first use and kept in `index.derived`)."""
        return index._derived("completion_tables", lambda: cls.build(index, export))

    @classmethod
    def build(cls, index: PitIndex, export: Export) -> CompletionTables:
        trainings = export["trainings"]
        formats = pd.Series(trainings["format"].astype(str).to_numpy(),
                            index=as_str(trainings["training_id"])).groupby(level=0).first()
        unit_code = index.arrays("employees")["unit_code"].astype(np.int64)

        def by_unit(events: Timeline) -> Timeline:
            return Timeline.build(unit_code[events.groups], events.days, n=np.ones(len(events.days)))

        def city(events: Timeline) -> Timeline:
            return Timeline.build(np.zeros(len(events.days), dtype=np.int64), events.days,
                                  n=np.ones(len(events.days)))

        return cls(formats, by_unit(index.completed), by_unit(index.abandoned), city(index.completed),
                   city(index.abandoned))


def enrolment_examples(export: Export) -> pd.DataFrame:
    """Enrolments with a known outcome, oldest first: nip, training_id, as_of (the start date), finished
    (1 = selesai, 0 = tidak_selesai). `berjalan` records and rows without a start date are left out."""
    r = export["training_records"]
    r = r[r["status"].isin(ENDED) & r["started_on"].notna()]
    out = pd.DataFrame({
        "nip": as_str(r["nip"]).to_numpy(),
        "training_id": as_str(r["training_id"]).to_numpy(),
        "as_of": pd.to_datetime(r["started_on"]).to_numpy("datetime64[ns]"),
        "finished": (r["status"] == "selesai").to_numpy(np.int64),
    })
    return out.sort_values(["as_of", "nip", "training_id"], kind="stable").reset_index(drop=True)


def completion_features(index: PitIndex, tables: CompletionTables, queries: pd.DataFrame) -> pd.DataFrame:
    """One row of COMPLETION_FEATURES per query row (nip, training_id, as_of), same index, each from the
    records dated before its as_of. Unknown employees or trainings raise KeyError."""
    n = len(queries)
    nip_code = index.nips.get_indexer(as_str(queries["nip"]))
    ids = pd.Index(as_str(queries["training_id"]))
    k = index.trainings.index.get_indexer(ids)
    if (nip_code < 0).any() or (k < 0).any() or ids.isin(tables.formats.index).sum() < n:
        raise KeyError("unknown employee or training in the completion queries")
    day = to_days(queries["as_of"]) - 1  # strictly before the enrolment: it never describes itself
    emp = index.arrays("employees")
    f: dict[str, np.ndarray] = {}

    # The person's own record.
    done = index.completed.upto("n", nip_code, day)
    quit_ = index.abandoned.upto("n", nip_code, day)
    y3 = day - int(round(3 * DAYS_PER_YEAR))
    f["past_finished"], f["past_abandoned"] = done, quit_
    f["past_finished_36m"] = index.completed.window("n", nip_code, y3, day)
    f["past_abandoned_36m"] = index.abandoned.window("n", nip_code, y3, day)
    zero = np.zeros(n, dtype=np.int64)
    city_done, city_quit = tables.city_done.upto("n", zero, day), tables.city_quit.upto("n", zero, day)
    city_rate = (city_done + 1.0) / (city_done + city_quit + 2.0)  # as of the day too: never a later record
    f["past_completion_rate"] = (done + PRIOR_WEIGHT * city_rate) / (done + quit_ + PRIOR_WEIGHT)
    last_quit = index.abandoned.last(nip_code, day)
    quit_day = np.where(last_quit >= 0, index.abandoned.days[np.maximum(last_quit, 0)] if len(
        index.abandoned.days) else 0, -1)
    f["months_since_abandoned"] = np.where(last_quit >= 0, (day - quit_day) / DAYS_PER_MONTH, np.nan)

    # The course.
    f["hours_jp"] = index.trainings["hours_jp"].to_numpy(np.float64)[k]
    fmt = tables.formats.reindex(ids).to_numpy(dtype=object)

    # Fit to the job: targets the position requires, and the latest level against the course's band.
    f.update(_band_features(index, nip_code, ids, day))

    # The unit's habits, the employee excluded.
    unit = emp["unit_code"][nip_code].astype(np.int64)
    u_done = tables.unit_done.upto("n", unit, day) - done
    u_quit = tables.unit_quit.upto("n", unit, day) - quit_
    f["unit_enrolments"] = u_done + u_quit
    f["unit_completion_rate"] = (u_done + PRIOR_WEIGHT * city_rate) / (u_done + u_quit + PRIOR_WEIGHT)

    # SKP of the last finished year and its change; tenure.
    f.update(_skp_change(index, nip_code, day))
    hired = emp["hired_day"][nip_code]
    f["tenure_years"] = np.where(hired >= 0, np.maximum(day - hired, 0) / DAYS_PER_YEAR, np.nan)

    columns: dict[str, object] = {FORMAT_FEATURE: pd.array(fmt, dtype="str")}
    for name in NUMERIC_COMPLETION_FEATURES:
        columns[name] = np.asarray(f[name], dtype=np.float64)
    return pd.DataFrame(columns, index=queries.index)


def _band_features(index: PitIndex, nip_code: np.ndarray, ids: pd.Index, day: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """Per query: the share of the course's targets the position requires, and over those required targets
    the largest distance below the band, above it (levels), and whether the latest level is inside it
    (NaN when none of them was ever assessed)."""
    n = len(nip_code)
    t = index.targets
    rows = pd.DataFrame({"q": np.arange(n), "training_id": np.asarray(ids, dtype=object)})
    pairs = rows.merge(t[["training_id", "competency_id", "comp_code", "min_level", "max_level"]],
                       on="training_id", how="inner")
    q = pairs["q"].to_numpy(np.int64)
    n_targets = np.bincount(q, minlength=n).astype(np.float64)
    position = index.arrays("employees")["position_id"][nip_code[q]]
    key = pd.MultiIndex.from_arrays([pd.Index(position, dtype="str"), pd.Index(pairs["competency_id"], dtype="str")])
    required = index.standards.reindex(key).notna().to_numpy()
    out = {"targets_required_share": np.divide(np.bincount(q, weights=required, minlength=n), n_targets,
                                               out=np.zeros(n), where=n_targets > 0)}
    comp = pairs["comp_code"].to_numpy(np.int64)
    last = index.daily.last(nip_code[q] * index.n_competencies + comp, day[q])
    level = np.where(last >= 0, index.daily.values["level"][np.maximum(last, 0)] if len(index.daily.days)
                     else np.nan, np.nan)
    lo, hi = pairs["min_level"].to_numpy(np.float64), pairs["max_level"].to_numpy(np.float64) + 1.0
    seen = required & ~np.isnan(level)
    below = np.where(seen, np.maximum(lo - level, 0.0), -np.inf)
    above = np.where(seen, np.maximum(level - hi, 0.0), -np.inf)
    inside = np.where(seen, ((level >= lo) & (level < hi)).astype(np.float64), -np.inf)
    for name, values in (("band_below", below), ("band_above", above), ("band_inside", inside)):
        best = np.full(n, -np.inf)
        np.maximum.at(best, q, values)
        out[name] = np.where(np.isfinite(best), best, np.nan)
    return out


def _skp_change(index: PitIndex, nip_code: np.ndarray, day: np.ndarray) -> dict[str, np.ndarray]:
    """The rating rank of the last finished SKP year on or before `day`, and its change from the year
    before (NaN when either year is missing)."""
    years = index.skp_years
    year = years_of_days(day)
    finished = np.where(year_end_days(year) <= day, year, year - 1)
    col = finished - years[0]

    def rank(c: np.ndarray) -> np.ndarray:
        ok = (c >= 0) & (c < len(years))
        return np.where(ok, index.skp_rank[nip_code, np.clip(c, 0, len(years) - 1)], np.nan)

    last, before = rank(col), rank(col - 1)
    return {"skp_last_rating": last, "skp_trend": last - before}
