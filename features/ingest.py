"""`kompetensi ingest DIR`: validate an export completely, then load it as the current snapshot atomically.

All-or-nothing (DATA_CONTRACT.md "Bad input"): an export with any error raises `ExportInvalid` before
the store is touched (not even created); a failure while loading rolls the one transaction back. The
same content as the current snapshot loads nothing (`IngestResult.unchanged`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from features.io import read_export
from features.store import DEFAULT_KEEP_SNAPSHOTS, content_sha256, get_engine, write_snapshot

Progress = Callable[[str], None]


@dataclass(frozen=True)
class IngestResult:
    snapshot_id: int
    content_sha256: str
    unchanged: bool  # the current snapshot already held this content: nothing was written
    exported_on: date
    organisation: str
    row_counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.unchanged:
            return (f"unchanged: the current snapshot {self.snapshot_id} already holds this export "
                    f"(sha256 {self.content_sha256[:12]}…, exported_on {self.exported_on.isoformat()})")
        counts = ", ".join(f"{n:,} {name}" for name, n in self.row_counts.items() if n)
        return (f"loaded snapshot {self.snapshot_id} (sha256 {self.content_sha256[:12]}…, exported_on "
                f"{self.exported_on.isoformat()}) in {self.seconds:.1f} s: {counts}")


def ingest_export(folder: Path, url: str | None = None, progress: Progress | None = None, *,
                  max_errors: int = 200, keep_snapshots: int = DEFAULT_KEEP_SNAPSHOTS) -> IngestResult:
    """Validate the export in `folder` (raises ExportInvalid), then load it into the store at `url`."""
    started = time.perf_counter()
    say = progress or (lambda message: None)
    export = read_export(Path(folder), max_errors=max_errors, progress=say)
    sha256 = content_sha256(export)
    info, unchanged = write_snapshot(get_engine(url), export, sha256, keep=keep_snapshots, progress=say)
    return IngestResult(
        snapshot_id=info.snapshot_id, content_sha256=info.content_sha256, unchanged=unchanged,
        exported_on=info.exported_on, organisation=info.organisation, row_counts=dict(info.row_counts),
        warnings=list(export.warnings), seconds=time.perf_counter() - started,
    )
