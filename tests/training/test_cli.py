"""The `kompetensi` CLI as an analyst uses it: generate → ingest, and a rejected export."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from kompetensi.cli import main; main()"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=300)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "KOMPETENSI_DATA_DIR": str(tmp_path / "var"),
            "KOMPETENSI_DB_URL": f"sqlite:///{tmp_path / 'store.db'}"}


def test_generate_twice_same_seed_same_bytes_then_ingest(tmp_path: Path, env: dict[str, str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        done = _run(["generate", "--out", str(out), "--employees", "300", "--years", "4", "--seed", "3"], env)
        assert done.returncode == 0, done.stderr
    assert _digest(a) == _digest(b)
    assert (a / "truth" / "levels.csv").is_file() and (a / "truth" / "effects.csv").is_file()
    done = _run(["ingest", str(a)], env)
    assert done.returncode == 0, done.stderr
    assert "loaded snapshot" in done.stderr
    again = _run(["ingest", str(a)], env)
    assert again.returncode == 0 and "unchanged" in again.stderr.lower()


def test_broken_export_exits_non_zero_with_file_row_column(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "x"
    assert _run(["generate", "--out", str(out), "--employees", "60", "--years", "2", "--seed", "1"],
                env).returncode == 0
    path = out / "assessments.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    header = lines[0].split(",")
    cells[header.index("level")] = "7"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _run(["ingest", str(out)], env)
    assert done.returncode != 0
    assert "assessments.csv, row 2, column level" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
    assert not (tmp_path / "store.db").exists()  # a rejected first export creates no store


def test_missing_folder_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    done = _run(["ingest", str(tmp_path / "nope")], env)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope'} is not a folder"]
