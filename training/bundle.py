"""Writing a promoted bundle into the models directory, atomically (layout: `engine.bundle`).

Why a `CHAMPION` pointer file rather than a `champion` symlink: the server resolves the pointer once
to an immutable `versions/<v>/` directory and reads every file from there, so it can never mix the
manifest of one version with the pickle of another (a reader walking `champion/…` twice could straddle
a symlink swap); a one-line file is also cheap to poll, survives copying into images and volumes that
drop or refuse symlinks, and is replaced with the same temp-file + fsync + `os.replace` dance as
everything else (`features.atomic.write_atomic`). A crash at any point leaves the previous champion
complete and pointed to: new files live under a `.tmp-*` name until the version directory is renamed
into place, and the pointer moves only after that rename is on disk.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from engine.bundle import (
    BUNDLE_FILE,
    CHAMPION_FILE,
    MANIFEST_FILE,
    VERSIONS_DIR,
    BundleError,
    is_valid_version,
    read_champion_pointer,
    read_manifest,
    sha256_file,
    verify_files,
)
from features.atomic import fsync_path, write_atomic

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
KEEP_VERSIONS = 3
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
POINTER_TMP_PREFIX = f".{CHAMPION_FILE}."  # features.atomic names its temp files .<name>.<random>.tmp
# Test hook for the crash test: sleep this many seconds after writing half of the files, once a
# marker file says so, so that a test can SIGKILL the writer at a known point.
PAUSE_ENV = "KOMPETENSI_TEST_PAUSE_IN_PROMOTE"
PAUSE_MARKER = ".promote-paused"
_RESERVED_KEYS = ("format", "version", "created_at", "sha256")


def write_bundle_dir(
    bundle: object | Path,
    models_dir: Path,
    *,
    version: str,
    manifest_extra: dict[str, Any],
    keep: int = KEEP_VERSIONS,
) -> Path:
    """Write models_dir/versions/<version>/ (bundle + manifest) and make it the champion, atomically.

    `bundle` is the object to pickle with joblib, or a Path to an already pickled `bundle.joblib`
    (promotion copies the registry's bytes instead of unpickling and re-pickling them). The manifest is
    `{format, version, created_at, sha256, as_of, metrics}` plus `manifest_extra`. Only the newest
    `keep` version directories (always including the champion) are kept. Returns the version directory.
    """
    version = str(version)
    if not is_valid_version(version):
        raise ValueError(f"not a valid version name: {version!r}")
    clash = sorted(set(manifest_extra) & set(_RESERVED_KEYS))
    if clash:
        raise ValueError(f"manifest_extra may not set {clash}")
    models_dir = Path(models_dir)
    versions = models_dir / VERSIONS_DIR
    versions.mkdir(parents=True, exist_ok=True)
    target = versions / version
    with locked(models_dir):
        _remove_leftovers(models_dir)
        if not (read_champion_pointer(models_dir) == version and _is_intact(target)):
            _write_version_dir(bundle, models_dir, target, version, manifest_extra)
        _point_champion(models_dir, version)
        _prune(versions, champion=version, keep=keep)
    logger.info("champion is now version %s (%s)", version, target)
    return target


def _write_version_dir(
    bundle: object | Path, models_dir: Path, target: Path, version: str, manifest_extra: dict[str, Any]
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=models_dir))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the server may run as another user

    def write_pickle(path: Path) -> None:
        if isinstance(bundle, Path):
            shutil.copyfile(bundle, path)
        else:
            joblib.dump(bundle, path)

    bundle_path = write_atomic(tmp / BUNDLE_FILE, write_pickle, fsync=True)
    _pause_for_crash_test(models_dir, tmp)
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "sha256": {BUNDLE_FILE: sha256_file(bundle_path)},
        "as_of": manifest_extra.get("as_of"),
        "metrics": manifest_extra.get("metrics", {}),
        **{k: v for k, v in manifest_extra.items() if k not in ("as_of", "metrics")},
    }
    write_atomic(tmp / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n",
                 fsync=True)  # fsyncs `tmp` too: both files are on disk before the folder is renamed
    trash = models_dir / f"{TRASH_PREFIX}{version}-{os.getpid()}"
    if target.exists():
        # Same version written again (a repair, or a re-promotion of a non-champion): move the old
        # directory aside first, because rename cannot replace a non-empty directory.
        os.replace(target, trash)
    os.replace(tmp, target)
    fsync_path(target.parent)
    shutil.rmtree(trash, ignore_errors=True)


def _point_champion(models_dir: Path, version: str) -> None:
    """Replace models_dir/CHAMPION with `version`: temp file, fsync, rename, fsync the directory."""
    # 0o644: the server may run as another user.
    write_atomic(models_dir / CHAMPION_FILE, version + "\n", fsync=True, mode=0o644)


def _prune(versions: Path, *, champion: str, keep: int) -> None:
    """Delete all but the `keep` most recently written version directories; never the champion."""
    dirs = [d for d in versions.iterdir() if d.is_dir()]
    dirs.sort(key=_written_at, reverse=True)
    newest_first = [champion] + [d.name for d in dirs if d.name != champion]
    kept = set(newest_first[: max(keep, 1)])
    for old in dirs:
        if old.name not in kept:
            # Rename first so a half-deleted directory never carries a version's name.
            trash = versions.parent / f"{TRASH_PREFIX}{old.name}-{os.getpid()}"
            os.replace(old, trash)
            shutil.rmtree(trash, ignore_errors=True)


def _written_at(path: Path) -> str:
    try:
        return str(read_manifest(path).get("created_at") or "")
    except BundleError:
        return ""  # unreadable directories sort as the oldest, so they go first


def _is_intact(path: Path) -> bool:
    try:
        verify_files(path, read_manifest(path))
    except BundleError:
        return False
    return True


def _remove_leftovers(models_dir: Path) -> None:
    """Remove what a killed writer left behind; safe because we hold the lock."""
    for entry in models_dir.iterdir():
        if entry.name.startswith((TMP_PREFIX, TRASH_PREFIX)) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(POINTER_TMP_PREFIX) or entry.name == PAUSE_MARKER:
            entry.unlink(missing_ok=True)


@contextmanager
def locked(models_dir: Path, name: str = LOCK_FILE) -> Iterator[None]:
    """Hold an exclusive lock on models_dir/<name> (the kernel drops it if the holder dies)."""
    with (Path(models_dir) / name).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _pause_for_crash_test(models_dir: Path, tmp: Path) -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if not seconds:
        return
    (models_dir / PAUSE_MARKER).write_text(tmp.name + "\n", encoding="utf-8")
    time.sleep(float(seconds))
