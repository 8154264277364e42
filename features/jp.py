"""JP (jam pelajaran) completed per employee in a calendar year, for the 20 JP right (DOMAIN.md)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from features.export import Export


def jp_this_year(export: Export, as_of: date) -> pd.Series:
    """JP of trainings completed (selesai) in the calendar year of `as_of`, up to it, per nip."""
    r = export["training_records"]
    at = pd.Timestamp(as_of)
    done = r[(r["status"] == "selesai") & (r["completed_on"] <= at)
             & (r["completed_on"] >= pd.Timestamp(year=at.year, month=1, day=1))]
    hours = export["trainings"].set_index(export["trainings"]["training_id"].astype(str))["hours_jp"]
    jp = hours.reindex(done["training_id"].astype(str)).fillna(0).to_numpy(np.float64)
    return pd.Series(jp, index=done["nip"].astype(str).to_numpy()).groupby(level=0).sum()
