"""Point-in-time features, training pairs from history, and prediction queries.

Every feature of a query row is computed *as of* that row's own `as_of` date from records dated on or
before it (INTERFACES.md "Definitions"); plan features describe trainings completed just after it. All
look-ups are vectorised: records are sorted once by (group, day) into `Timeline`s whose prefix sums answer
"state of group g on day d" and "sum over a window of days" with one `np.searchsorted` per query column,
so the cost is O((records + queries) · log records) whatever the mix of as-of dates.

Dating rules (what "dated after A" means for each record):
- an assessment is dated `assessed_on`;
- an SKP review of year Y is dated 31 December Y (it is final only once the year is over);
- a completed training (`selesai`) is dated `completed_on`; an abandoned one (`tidak_selesai`) is dated
  `completed_on` when given, else `started_on` (the contract has no other drop-out date);
  `berjalan` records are never counted;
- employee attributes (unit, position, grade, education, employment) exist only as of the export date,
  so they are used as they are (the export carries no history of them); tenure is measured to A.

Protected attributes (sex, birth_date, the NIP digits) never reach a feature: the index is built from
`export.without_protected()` and the NIP is used only as an opaque key.

The code is in three modules, imported here so that `features.pit` stays the one place to import from:
- `features.pit_index`: the index (`PitIndex`, built once per export) and the prediction queries;
- `features.pit_features`: the feature names and `build_features`, `plan_features`, the evidence;
- `features.pit_pairs`: training pairs and back-test pairs.
"""

from __future__ import annotations

from features.pit_features import (
    CATEGORICAL_FEATURES,
    DESCRIPTIVE_COLUMNS,
    FEATURES,
    HISTORY_FEATURES,
    MONOTONE,
    NO_BAND_DISTANCE,
    NUMERIC_FEATURES,
    PLAN_FEATURES,
    PREDICTION_METHOD,
    SCALE_MIDDLE,
    assessment_history,
    assessment_records,
    build_features,
    plan_features,
)
from features.pit_index import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    FORMAT_GROUPS,
    QUERY_COLUMNS,
    PitIndex,
    as_index,
    prediction_queries,
    queries_frame,
)
from features.pit_pairs import MAX_PAIR_MONTHS, MIN_PAIR_MONTHS, PAIR_COLUMNS, holdout_pairs, training_pairs

__all__ = [
    "CATEGORICAL_FEATURES",
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "DESCRIPTIVE_COLUMNS",
    "FEATURES",
    "FORMAT_GROUPS",
    "HISTORY_FEATURES",
    "MAX_PAIR_MONTHS",
    "MIN_PAIR_MONTHS",
    "MONOTONE",
    "NO_BAND_DISTANCE",
    "NUMERIC_FEATURES",
    "PAIR_COLUMNS",
    "PLAN_FEATURES",
    "PREDICTION_METHOD",
    "QUERY_COLUMNS",
    "SCALE_MIDDLE",
    "PitIndex",
    "as_index",
    "assessment_history",
    "assessment_records",
    "build_features",
    "holdout_pairs",
    "plan_features",
    "prediction_queries",
    "queries_frame",
    "training_pairs",
]
