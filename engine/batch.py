"""Batch scoring (`kompetensi score`): gaps and top-K recommendations of every active employee with the
champion bundle, written as the batch files INTERFACES.md defines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import cast

import pandas as pd

from engine.bundle import load_champion
from engine.predictor import Predictor
from features.atomic import write_atomic
from features.console import Progress, quiet
from features.constants import GAPS_COLUMNS, RECOMMENDATIONS_COLUMNS
from features.export import Export
from features.settings import Settings, get_settings
from features.store import load_snapshot


def _write_frame(frame: pd.DataFrame, file_format: str, path: Path) -> None:
    if file_format == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, date_format="%Y-%m-%d", float_format="%.6g")


@dataclass
class ScoreResult:
    version: str
    employees: int
    files: dict[Path, int]
    seconds: float


def score(out: Path, *, as_of: date | None = None, horizon_months: int = 12, top_k: int = 5,
          file_format: str = "parquet", settings: Settings | None = None, export: Export | None = None,
          progress: Progress = quiet) -> ScoreResult:
    """Write gaps.{parquet,csv} and recommendations.{parquet,csv} for every active employee with the
    champion bundle under models/ (what the server serves), columns as INTERFACES.md defines."""
    settings = settings or get_settings()
    started = time.perf_counter()
    loaded = load_champion(settings.models_dir)
    export = export if export is not None else load_snapshot()
    predictor = cast("Predictor", loaded.bundle)
    predictor.configure(jpm_bands=settings.jpm_bands, seed=settings.seed)
    progress(f"scoring with model version {loaded.version} as of {as_of or export.exported_on}")
    gaps, recs = predictor.score(export, as_of=as_of, horizon_months=horizon_months, top_k=top_k,
                                 progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[Path, int] = {}
    outputs = [("gaps", gaps[list(GAPS_COLUMNS)])]
    if top_k > 0:
        outputs.append(("recommendations", recs[list(RECOMMENDATIONS_COLUMNS)]))
    for name, frame in outputs:
        path = out / f"{name}.{file_format}"
        write_atomic(path, partial(_write_frame, frame, file_format))  # readers never see half a file
        files[path] = len(frame)
    employees = int(gaps["nip"].nunique()) if len(gaps) else 0
    return ScoreResult(loaded.version, employees, files, time.perf_counter() - started)
