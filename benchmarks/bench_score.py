"""Batch scoring throughput: `Predictor.score(export, top_k=5)` (what `kompetensi score` runs).

Each repeat is a fresh child process that loads the export and the predictor `bench_train` pickled for
that size and scores every active employee once, cold (the point-in-time index is built inside the
timed call, as in a nightly `kompetensi score`). Reported: gap rows/s, recommendation rows/s and
employees/s, medians over the repeats, and the child's peak RSS.

    .venv/bin/python -m benchmarks.bench_score --export DIR --predictor FILE --json OUT
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import Progress, median, peak_rss_mb, rounded, run_child, say, write_json
from benchmarks.bench_train import export_dir, predictor_path

TOP_K = 5


def run(sizes: Sequence[int], workdir: Path, *, repeats: dict[int, int] | int = 1, progress: Progress = say,
        timeout_s: float = 3600.0) -> dict[str, Any]:
    """Score each size `repeats` times with the predictor trained on it (bench_train must have run)."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        folder, bundle = export_dir(workdir, n), predictor_path(workdir, n)
        if not bundle.is_file():
            raise FileNotFoundError(f"{bundle} is missing: the train benchmark of {n:,} employees must run first")
        count = repeats.get(n, 1) if isinstance(repeats, dict) else int(repeats)
        runs: list[dict[str, Any]] = []
        for r in range(count):
            progress(f"score {n:,}: run {r + 1} of {count}")
            child = run_child("benchmarks.bench_score", ["--export", str(folder), "--predictor", str(bundle)],
                              workdir / f"score-{n}-{r}.json", timeout_s=timeout_s)
            runs.append({**child.report, "peak_rss_mb": round(child.peak_rss_mb, 1)})
            progress(f"score {n:,}: {child.report['employees']:,} employees in {child.report['seconds']:.1f} s "
                     f"({child.report['gap_rows_per_s']:,.0f} gap rows/s)")
        rows.append({
            "employees_requested": n,
            "employees": runs[0]["employees"],
            "gap_rows": runs[0]["gap_rows"],
            "recommendation_rows": runs[0]["recommendation_rows"],
            "repeats": count,
            "seconds_median": rounded(median([x["seconds"] for x in runs]), 2),
            "gap_rows_per_s_median": rounded(median([x["gap_rows_per_s"] for x in runs]), 0),
            "recommendation_rows_per_s_median": rounded(median([x["recommendation_rows_per_s"] for x in runs]), 0),
            "employees_per_s_median": rounded(median([x["employees_per_s"] for x in runs]), 1),
            "peak_rss_mb_median": rounded(median([x["peak_rss_mb"] for x in runs]), 1),
            "runs": runs,
        })
    return {"what": f"Predictor.score(export, top_k={TOP_K}) over every active employee, cold, one process "
                    "per run, default native threads", "sizes": rows}


def _child(export: Path, bundle: Path, out: Path) -> None:
    import joblib

    from features.io import read_export

    data = read_export(export).without_protected()
    predictor = joblib.load(bundle)
    started = time.perf_counter()
    gaps, recs = predictor.score(data, top_k=TOP_K)
    seconds = time.perf_counter() - started
    employees = int(gaps["nip"].nunique())
    write_json(out, {
        "employees": employees,
        "gap_rows": int(len(gaps)),
        "recommendation_rows": int(len(recs)),
        "seconds": round(seconds, 3),
        "gap_rows_per_s": round(len(gaps) / seconds, 1),
        "recommendation_rows_per_s": round(len(recs) / seconds, 1),
        "employees_per_s": round(employees / seconds, 2),
        "peak_rss_self_mb": round(peak_rss_mb(), 1),
    })


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Score every active employee once (a bench child).")
    parser.add_argument("--export", type=Path, required=True, help="export folder")
    parser.add_argument("--predictor", type=Path, required=True, help="pickled predictor (bench_train --dump)")
    parser.add_argument("--json", type=Path, required=True, help="write the measurement here")
    args = parser.parse_args(argv)
    _child(args.export, args.predictor, args.json)


if __name__ == "__main__":
    main()
