"""`make bench`: benchmarks of training, batch scoring, serving and the planner (`benchmarks.run`).

The helpers here are shared by the bench modules: running a measured child process (wall time and its
own RSS high-water mark from `os.wait4`), medians and percentiles, and the facts about the machine that
every results file records. Nothing runs at import.
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Packages whose versions decide the figures (STACK_NOTES.md "Versions that install together").
PACKAGES = ("numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "lightgbm", "shap", "mlflow", "fastapi",
            "uvicorn", "httpx", "pydantic", "SQLAlchemy")

Progress = Callable[[str], None]


def say(message: str) -> None:
    """Progress on stderr with a wall-clock stamp (the results go to files, not to the terminal)."""
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float | None]) -> float | None:
    """The median of the values that are not None (None when there are none)."""
    kept = sorted(float(v) for v in values if v is not None)
    if not kept:
        return None
    mid = len(kept) // 2
    return kept[mid] if len(kept) % 2 else (kept[mid - 1] + kept[mid]) / 2.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between order statistics (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def ratio(numerator: float | None, denominator: float | None, digits: int = 3) -> float | None:
    """numerator / denominator, None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, digits)


def rss_mb() -> float | None:
    """This process's current resident set size in MB (Linux), None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """This process's RSS high-water mark in MB (`ru_maxrss` is in KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass(frozen=True)
class ChildResult:
    """What a measured child process reported (its JSON file) and what the kernel says about it."""

    returncode: int
    seconds: float  # wall time of the whole child, imports included
    peak_rss_mb: float  # the child's own RSS high-water mark (os.wait4), not its children's
    user_seconds: float
    system_seconds: float
    report: dict[str, Any]


class ChildFailed(RuntimeError):
    """A measured child exited non-zero or timed out."""


def run_child(module: str, args: Sequence[str], out: Path, *, env: Mapping[str, str] | None = None,
              timeout_s: float = 3600.0) -> ChildResult:
    """Run `python -m module args…` (which writes its JSON report to `out`) and measure it.

    The child inherits stderr, so its progress shows; `os.wait4` gives the resource usage of exactly
    this child (RUSAGE_CHILDREN would only give the largest child so far). Killed after `timeout_s`.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", module, *args, "--json", str(out)], cwd=PROJECT_ROOT,
                               env=dict(env) if env is not None else None, stdout=2)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        process.send_signal(signal.SIGKILL)

    timer = threading.Timer(timeout_s, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
    seconds = time.perf_counter() - started
    if timed_out.is_set():
        raise ChildFailed(f"{module} {' '.join(args)} timed out after {timeout_s:.0f} s")
    if process.returncode != 0 or not out.is_file():
        raise ChildFailed(f"{module} {' '.join(args)} failed with exit code {process.returncode}")
    return ChildResult(process.returncode, seconds, usage.ru_maxrss / 1024.0, usage.ru_utime, usage.ru_stime,
                       json.loads(out.read_text()))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temp file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024.0 / 1024.0, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    """Read-only git queries (the commit measured); None outside a repository."""
    try:
        done = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_fingerprint() -> str:
    """SHA-256 (12 hex digits) of the measured packages' Python sources: the tree is edited while benchmarks
    run, and the commit alone does not say which code a figure comes from."""
    import hashlib

    digest = hashlib.sha256()
    for package in ("features", "training", "serving"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine_facts() -> dict[str, Any]:
    """nproc, CPU, memory, Python, package versions, git commit and date: what a figure depends on."""
    import importlib.metadata

    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    dirty = _git("status", "--porcelain")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": None if dirty is None else bool(dirty),
        "source_sha256": source_fingerprint(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    }
