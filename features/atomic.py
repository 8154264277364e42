"""The one atomic file write: a temporary file in the target's folder, then `os.replace`.

A reader sees the old file or the new one, never half of one; a writer that dies leaves at most a hidden
`.<name>.<random>.tmp` next to the target. With `fsync=True` the new bytes and the rename are on disk
before the call returns (the champion pointer, the keys file): the file is fsynced before the rename and
its folder after it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

Writer = Callable[[Path], object]


def temp_path(path: Path) -> Path:
    """A new, empty, hidden file next to `path` (created exclusively: no two writers share one)."""
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate


def write_atomic(path: Path, content: str | bytes | Writer, *, fsync: bool = False,
                 mode: int | None = None) -> Path:
    """Write `path` atomically. `content` is text (UTF-8), bytes, or a function that writes the file at
    the path it is given (e.g. `lambda tmp: frame.to_parquet(tmp)`). `mode`: the file's permissions
    (default: as the umask gives a new file). Returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        if mode is not None:
            os.chmod(tmp, mode)  # before the content: a private file is never readable by others
        if isinstance(content, str):
            tmp.write_text(content, encoding="utf-8")
        elif isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            content(tmp)
        if fsync:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        fsync_path(path.parent)
    return path


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's (its entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
