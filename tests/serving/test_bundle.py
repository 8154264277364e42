"""The bundle on disk: checksums verified before unpickling, atomic champion pointer, retention."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from engine.bundle import (
    BUNDLE_FILE,
    CHAMPION_FILE,
    MANIFEST_FILE,
    VERSIONS_DIR,
    BundleError,
    load_champion,
    load_version,
    read_champion_pointer,
)
from training.bundle import TMP_PREFIX, write_bundle_dir

PADDING = b"p" * 4096


class Canary:
    """Unpickling this touches a file: proof of whether a pickle was ever loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _model() -> Pipeline:
    rng = np.random.default_rng(7)
    x = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    return Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]).fit(x, x["a"] * 2 + 1)


def _write(models: Path, version: str, bundle: object | None = None) -> Path:
    bundle = bundle if bundle is not None else SimpleNamespace(metadata={"model_version": version})
    return write_bundle_dir(bundle, models, version=version, manifest_extra={"as_of": "2026-06-30",
                                                                            "metrics": {"backtest_mae": 0.3}})


def _flip_byte(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


def test_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    model = _model()
    path = _write(tmp_path, "1", SimpleNamespace(model=model, metadata={"model_version": "1"}))
    assert path == tmp_path / VERSIONS_DIR / "1"
    assert read_champion_pointer(tmp_path) == "1"
    loaded = load_champion(tmp_path)
    assert (loaded.version, loaded.path) == ("1", path)
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    assert loaded.manifest == manifest
    assert manifest["version"] == "1" and manifest["as_of"] == "2026-06-30"
    assert manifest["metrics"] == {"backtest_mae": 0.3}
    assert set(manifest["sha256"]) == {BUNDLE_FILE}
    # Readable by a server running as another user (temp files and dirs start private).
    assert [oct(p.stat().st_mode & 0o777) for p in (path, tmp_path / CHAMPION_FILE)] == ["0o755", "0o644"]
    x = pd.DataFrame({"a": [0.0, 1.5, -2.0], "b": [1.0, 0.0, 3.0]})
    np.testing.assert_array_equal(loaded.bundle.model.predict(x), model.predict(x))


def test_a_pickle_file_path_is_copied_byte_for_byte(tmp_path: Path) -> None:
    source = tmp_path / "from-registry.joblib"
    joblib.dump({"metadata": {"model_version": "4"}}, source)
    path = write_bundle_dir(source, tmp_path / "models", version="4", manifest_extra={})
    assert (path / BUNDLE_FILE).read_bytes() == source.read_bytes()
    assert load_version(tmp_path / "models", "4").bundle == {"metadata": {"model_version": "4"}}


def test_a_flipped_byte_is_refused_before_anything_is_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    models = tmp_path / "models"
    path = _write(models, "1", {"canary": Canary(marker), "padding": PADDING})
    bundle_file = path / BUNDLE_FILE
    assert pickle.loads(pickle.dumps(Canary(marker))) is None and marker.exists()  # the canary works
    marker.unlink()

    # Flip a byte inside the padding: the pickle stays valid, so only the checksum can stop it.
    _flip_byte(bundle_file, bundle_file.read_bytes().index(PADDING) + 100)
    with pytest.raises(BundleError, match=r"bundle\.joblib does not match its checksum"):
        load_champion(models)
    assert not marker.exists()


def test_missing_or_unlisted_files_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "1")
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    (path / MANIFEST_FILE).write_text(json.dumps({**manifest, "sha256": {}}))
    with pytest.raises(BundleError, match="no checksum for bundle.joblib"):
        load_champion(tmp_path)
    (path / MANIFEST_FILE).write_text(json.dumps({**manifest, "sha256": {"../CHAMPION": "0" * 64,
                                                                         **manifest["sha256"]}}))
    with pytest.raises(BundleError, match="outside its directory"):
        load_champion(tmp_path)
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))
    (path / BUNDLE_FILE).unlink()
    with pytest.raises(BundleError, match=r"bundle\.joblib is missing"):
        load_champion(tmp_path)
    (path / MANIFEST_FILE).unlink()
    with pytest.raises(BundleError, match=r"manifest\.json is missing"):
        load_champion(tmp_path)


def test_no_champion_and_a_tampered_pointer(tmp_path: Path) -> None:
    assert read_champion_pointer(tmp_path) is None
    with pytest.raises(BundleError, match="no champion"):
        load_champion(tmp_path)
    (tmp_path / CHAMPION_FILE).write_text("../../etc\n")
    with pytest.raises(BundleError, match="does not name a version"):
        read_champion_pointer(tmp_path)
    with pytest.raises(BundleError, match="not a valid version"):
        load_version(tmp_path, "..")


def test_a_manifest_for_another_version_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "1")
    os.replace(tmp_path / VERSIONS_DIR / "1", tmp_path / VERSIONS_DIR / "2")
    with pytest.raises(BundleError, match="for version '1', not '2'"):
        load_version(tmp_path, "2")


def test_only_the_last_three_versions_are_kept(tmp_path: Path) -> None:
    for version in ["1", "2", "3", "4", "5"]:
        _write(tmp_path, version)
    assert sorted(p.name for p in (tmp_path / VERSIONS_DIR).iterdir()) == ["3", "4", "5"]
    # Going back to an old champion keeps it, and drops the oldest of the others.
    _write(tmp_path, "3")
    assert read_champion_pointer(tmp_path) == "3"
    _write(tmp_path, "6")
    assert sorted(p.name for p in (tmp_path / VERSIONS_DIR).iterdir()) == ["3", "5", "6"]
    assert all(load_version(tmp_path, v).version == v for v in ["3", "5", "6"])


def test_rewriting_a_corrupt_champion_repairs_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "1", {"padding": PADDING, "metadata": {}})
    _flip_byte(path / BUNDLE_FILE, (path / BUNDLE_FILE).read_bytes().index(PADDING))
    with pytest.raises(BundleError):
        load_champion(tmp_path)
    _write(tmp_path, "1", {"padding": PADDING, "metadata": {}})
    assert load_champion(tmp_path).bundle["padding"] == PADDING
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((TMP_PREFIX, ".trash-"))] == []


def test_reserved_manifest_keys_and_bad_versions_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sha256"):
        write_bundle_dir({}, tmp_path, version="1", manifest_extra={"sha256": {}})
    with pytest.raises(ValueError, match="version name"):
        write_bundle_dir({}, tmp_path, version="../1", manifest_extra={})
    assert read_champion_pointer(tmp_path) is None


def test_the_server_module_does_not_import_training() -> None:
    code = ("import sys, engine.bundle; "
            "assert not [m for m in sys.modules if m == 'training' or m.startswith('training.')]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
