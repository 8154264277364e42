"""Training time and peak memory of `engine.predictor.fit_predictor` per export size.

Each repeat is a fresh child process (`python -m benchmarks.bench_train --export DIR --json OUT`) that
reads the export and fits once; the parent records the fit's wall time (reported by the child) and the
child's RSS high-water mark (`os.wait4`, i.e. imports + export + fit). Exports are generated once per size
(`features.generator.generate_export(out, employees=N, years=5, seed=7)`) and kept in the work folder for
the other benchmarks; the last repeat of a size also pickles its predictor for `bench_score`.

    .venv/bin/python -m benchmarks.bench_train --export /tmp/export-1000 --json /tmp/fit.json
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import Progress, median, peak_rss_mb, rounded, rss_mb, run_child, say, write_json

YEARS = 5
EXPORT_SEED = 7  # the CLI's default `kompetensi generate` seed
FIT_SEED = 20261128  # Settings.seed, what `kompetensi train` uses


def export_dir(workdir: Path, employees: int) -> Path:
    return workdir / f"export-{employees}"


def predictor_path(workdir: Path, employees: int) -> Path:
    return workdir / f"predictor-{employees}.joblib"


def ensure_export(workdir: Path, employees: int, progress: Progress = say) -> tuple[Path, float | None]:
    """The export of `employees` in the work folder, generated unless it is there; (folder, seconds)."""
    from features.generator import generate_export

    folder = export_dir(workdir, employees)
    if (folder / "export.json").is_file():
        return folder, None
    progress(f"generating a {employees:,}-employee export ({YEARS} years, seed {EXPORT_SEED})")
    started = time.perf_counter()
    generate_export(folder, employees=employees, years=YEARS, seed=EXPORT_SEED)
    return folder, time.perf_counter() - started


def ensure_predictor(workdir: Path, employees: int, progress: Progress = say, timeout_s: float = 3600.0) -> Path:
    """The predictor fitted on the export of `employees` (for scoring): the train section's, or fitted here."""
    bundle = predictor_path(workdir, employees)
    if not bundle.is_file():
        folder, _ = ensure_export(workdir, employees, progress)
        progress(f"fitting a predictor on {employees:,} employees for scoring (not measured)")
        run_child("benchmarks.bench_train", ["--export", str(folder), "--dump", str(bundle)],
                  workdir / f"fit-{employees}-for-score.json", timeout_s=timeout_s)
    return bundle


def run(sizes: Sequence[int], workdir: Path, *, repeats: dict[int, int] | int = 1,
        progress: Progress = say, timeout_s: float = 3600.0) -> dict[str, Any]:
    """Fit each size `repeats` times (each in its own process); medians of time and peak RSS."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        folder, generate_seconds = ensure_export(workdir, n, progress)
        count = repeats.get(n, 1) if isinstance(repeats, dict) else int(repeats)
        fits: list[dict[str, Any]] = []
        for r in range(count):
            progress(f"train {n:,}: fit {r + 1} of {count}")
            dump = ["--dump", str(predictor_path(workdir, n))] if r == count - 1 else []
            child = run_child("benchmarks.bench_train", ["--export", str(folder), *dump],
                              workdir / f"fit-{n}-{r}.json", timeout_s=timeout_s)
            fits.append({**child.report, "peak_rss_mb": round(child.peak_rss_mb, 1),
                         "process_seconds": round(child.seconds, 2),
                         "cpu_seconds": round(child.user_seconds + child.system_seconds, 2)})
            progress(f"train {n:,}: fit {child.report['fit_seconds']:.1f} s, peak RSS {child.peak_rss_mb:,.0f} MB")
        first = fits[0]
        rows.append({
            "employees_requested": n,
            "active_employees": first["active_employees"],
            "training_pairs": first["training_pairs"],
            "generate_seconds": rounded(generate_seconds, 1),
            "repeats": count,
            "fit_seconds_median": rounded(median([f["fit_seconds"] for f in fits]), 2),
            "peak_rss_mb_median": rounded(median([f["peak_rss_mb"] for f in fits]), 1),
            "rss_before_fit_mb_median": rounded(median([f["rss_before_fit_mb"] for f in fits]), 1),
            "cpu_seconds_median": rounded(median([f["cpu_seconds"] for f in fits]), 1),
            "fits": fits,
        })
    return {
        "what": "fit_predictor(export, seed) on read_export(DIR).without_protected(); one process per fit; "
                "peak RSS = the fitting process's high-water mark (imports + export + fit)",
        "sizes": rows,
    }


def _child(export: Path, out: Path, dump: Path | None) -> None:
    import os

    from features.io import read_export
    from training.fit import fit_predictor

    started = time.perf_counter()
    data = read_export(export).without_protected()
    read_seconds = time.perf_counter() - started
    employees = data["employees"]
    before = rss_mb()
    started = time.perf_counter()
    predictor = fit_predictor(data, seed=FIT_SEED)
    fit_seconds = time.perf_counter() - started
    if dump is not None:
        import joblib

        predictor.metadata["model_version"] = "bench"
        joblib.dump(predictor, dump)
    write_json(out, {
        "employees": int(len(employees)),
        "active_employees": int((employees["status"] == "aktif").sum()),
        "training_pairs": int(predictor.metadata["fit_metrics"]["training_pairs"]),
        "read_seconds": round(read_seconds, 2),
        "fit_seconds": round(fit_seconds, 2),
        "rss_before_fit_mb": rounded(before, 1),
        "peak_rss_self_mb": round(peak_rss_mb(), 1),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    })


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit the predictor once on an export (a bench child).")
    parser.add_argument("--export", type=Path, required=True, help="export folder")
    parser.add_argument("--json", type=Path, required=True, help="write the measurement here")
    parser.add_argument("--dump", type=Path, default=None, help="pickle the fitted predictor here")
    args = parser.parse_args(argv)
    _child(args.export, args.json, args.dump)


if __name__ == "__main__":
    main()
