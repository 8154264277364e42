"""MLflow registry: logging versions, evaluation tags, the promotion gate, and crash-safe promotion.

One SQLite MLflow store per module (its migrations take a few seconds); every test logs the versions
it needs and promotes into its own models directory, so tests do not depend on each other's order.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from engine.bundle import BUNDLE_FILE, CHAMPION_FILE, load_champion, read_champion_pointer
from features.settings import PROJECT_ROOT, get_settings
from training import registry
from training.bundle import PAUSE_ENV, PAUSE_MARKER, TMP_PREFIX
from training.gate import GateCheck, accuracy_checks, default_gate, make_gate, run_checks
from training.registry import CHAMPION_ALIAS, REGISTERED_MODEL, PromotionRefused, promote

GOOD = {"backtest_mae": 0.30, "baseline_carry_forward_mae": 0.40, "baseline_linear_mae": 0.35}
BAD = {"backtest_mae": 0.50, "baseline_carry_forward_mae": 0.40, "baseline_linear_mae": 0.35}


@dataclass
class Store:
    root: Path
    uri: str


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'data' / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("KOMPETENSI_DATA_DIR", str(root / "data"))
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.setenv("MLFLOW_REGISTRY_URI", uri)  # mlflow exports it; restored by undo()
    mp.setenv("KOMPETENSI_MODELS_DIR", str(root / "models-default"))
    mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mp.setenv("MPLCONFIGDIR", str(root / "mpl"))
    mp.delenv(PAUSE_ENV, raising=False)
    get_settings.cache_clear()
    try:
        assert registry.configure() == uri
        yield Store(root, uri)
    finally:
        mlflow.set_tracking_uri(None)
        mp.undo()
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(20261128)
    x = pd.DataFrame(rng.normal(size=(60, 3)), columns=["level_terakhir", "jp_12_bulan", "masa_kerja"])
    y = 2.5 + 0.4 * x["level_terakhir"] - 0.1 * x["masa_kerja"] + rng.normal(scale=0.05, size=60)
    return x, y


def _pipeline(data: tuple[pd.DataFrame, pd.Series], alpha: float = 1.0) -> Pipeline:
    x, y = data
    return Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=alpha))]).fit(x, y)


def _log(data: tuple[pd.DataFrame, pd.Series], alpha: float = 1.0, evaluate: dict | None = None):
    model = _pipeline(data, alpha)
    bundle = SimpleNamespace(model=model, metadata={"as_of": "2026-06-30"})
    logged = registry.log_training_run(
        bundle,
        sklearn_model=model,
        input_example=data[0].head(5),
        params={"alpha": alpha, "ridge": {"solver": "auto"}},
        metrics={"train_mae": 0.1},
        tags={"as_of": "2026-06-30", "snapshot_id": "abc123", "data_window": "2021-07-01/2026-06-30"},
    )
    if evaluate is not None:
        registry.log_evaluation(logged.version, evaluate, [])
    return logged, bundle


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*")}


def test_configure_is_idempotent_and_uses_the_data_dir(store: Store) -> None:
    assert registry.configure() == store.uri
    experiment = mlflow.MlflowClient().get_experiment_by_name(registry.EXPERIMENT)
    assert experiment is not None
    assert experiment.artifact_location == (store.root / "data" / "mlartifacts").resolve().as_uri()


def test_log_registers_consecutive_versions_with_signature_and_bundle(store: Store, data) -> None:
    first, bundle = _log(data)
    second, _ = _log(data, alpha=2.0)
    assert int(second.version) == int(first.version) + 1
    assert bundle.metadata["model_version"] == first.version
    assert bundle.metadata["mlflow_run_id"] == first.run_id

    info = mlflow.models.get_model_info(first.model_uri)
    assert info.signature.inputs.input_names() == list(data[0].columns)
    assert info.saved_input_example_info is not None

    client = mlflow.MlflowClient()
    run = client.get_run(first.run_id)
    assert run.data.params["alpha"] == "1.0" and run.data.params["ridge.solver"] == "auto"
    assert run.data.metrics["train_mae"] == 0.1
    assert run.data.tags["snapshot_id"] == "abc123"
    assert [a.path for a in client.list_artifacts(first.run_id, "bundle")] == [registry.BUNDLE_ARTIFACT]
    tags = client.get_model_version(REGISTERED_MODEL, first.version).tags
    assert tags["as_of"] == "2026-06-30" and len(tags[registry.TAG_BUNDLE_SHA256]) == 64

    version, loaded = registry.load_bundle(first.version)
    assert version == first.version and loaded.metadata == bundle.metadata
    np.testing.assert_array_equal(loaded.model.predict(data[0]), bundle.model.predict(data[0]))
    assert registry.load_bundle()[0] == registry.latest_version()
    with pytest.raises(LookupError, match="not registered"):
        registry.load_bundle("9999")


def test_nullable_integer_columns_are_doubles_in_the_signature(store: Store) -> None:
    x = pd.DataFrame({"jp_12_bulan": pd.Series([10, None, 24, 30] * 5, dtype="Int64"),
                      "level_terakhir": np.linspace(1.0, 5.0, 20)})
    model = Pipeline([("impute", SimpleImputer()), ("ridge", Ridge())]).fit(x, x["level_terakhir"])
    logged = registry.log_training_run(SimpleNamespace(model=model, metadata={}), sklearn_model=model,
                                       input_example=x.head(3), params={}, metrics={}, tags={})
    inputs = mlflow.models.get_model_info(logged.model_uri).signature.inputs.to_dict()
    assert {c["name"]: c["type"] for c in inputs} == {"jp_12_bulan": "double", "level_terakhir": "double"}


def test_a_bundle_without_metadata_registers_nothing(store: Store, data) -> None:
    before = registry.latest_version()
    model = _pipeline(data)
    with pytest.raises(TypeError, match="metadata"):
        registry.log_training_run(object(), sklearn_model=model, input_example=data[0].head(3), params={},
                                  metrics={}, tags={})
    assert registry.latest_version() == before


def test_log_evaluation_links_a_run_and_replaces_metric_tags(store: Store, data) -> None:
    logged, _ = _log(data)
    registry.log_evaluation(logged.version, {**GOOD, "fairness_gap": 0.01}, [])
    registry.log_evaluation(logged.version, GOOD, [])
    assert registry.version_metrics(logged.version) == GOOD  # the stale fairness_gap tag is gone
    client = mlflow.MlflowClient()
    eval_run_id = client.get_model_version(REGISTERED_MODEL, logged.version).tags[registry.TAG_EVALUATION_RUN]
    eval_run = client.get_run(eval_run_id)
    assert eval_run.data.tags["kompetensi.model_version"] == logged.version
    assert eval_run.data.tags["kompetensi.training_run_id"] == logged.run_id
    assert eval_run.data.metrics["backtest_mae"] == GOOD["backtest_mae"]
    model_id = client.get_model_version(REGISTERED_MODEL, logged.version).tags[registry.TAG_MODEL_ID]
    assert [m.model_id for m in eval_run.inputs.model_inputs] == [model_id]  # the evaluated model is an input


def test_promote_moves_the_alias_and_writes_a_loadable_bundle(store: Store, data, tmp_path: Path) -> None:
    logged, bundle = _log(data, evaluate=GOOD)
    models = tmp_path / "models"
    result = promote(logged.version, gate=default_gate, models_dir=models)
    assert result.version == logged.version
    assert registry.champion_version() == logged.version
    by_alias = mlflow.MlflowClient().get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    assert str(by_alias.version) == logged.version
    assert read_champion_pointer(models) == logged.version
    loaded = load_champion(models)
    assert loaded.version == logged.version
    assert loaded.manifest["as_of"] == "2026-06-30"
    assert loaded.manifest["metrics"] == GOOD
    assert loaded.manifest["snapshot_id"] == "abc123"
    assert loaded.manifest["training_tags"]["data_window"] == "2021-07-01/2026-06-30"
    assert loaded.bundle.metadata["model_version"] == logged.version
    x = data[0]
    np.testing.assert_array_equal(loaded.bundle.model.predict(x), bundle.model.predict(x))


def test_promote_without_a_version_takes_the_latest(store: Store, data, tmp_path: Path) -> None:
    _log(data, evaluate=GOOD)
    latest, _ = _log(data, alpha=3.0, evaluate=GOOD)
    assert promote(gate=default_gate, models_dir=tmp_path).version == latest.version


def test_a_failing_gate_changes_nothing(store: Store, data, tmp_path: Path) -> None:
    good, _ = _log(data, evaluate=GOOD)
    promote(good.version, gate=default_gate, models_dir=tmp_path)
    before = _tree(tmp_path)
    bad, _ = _log(data, alpha=5.0, evaluate=BAD)
    with pytest.raises(PromotionRefused) as refused:
        promote(bad.version, gate=default_gate, models_dir=tmp_path)
    assert any(r.startswith("beats_linear: backtest_mae 0.5000") for r in refused.value.reasons)
    assert any(r.startswith("not_worse_than_champion:") for r in refused.value.reasons)
    assert registry.champion_version() == good.version
    assert _tree(tmp_path) == before


def test_an_unevaluated_version_is_refused_with_a_hint(store: Store, data, tmp_path: Path) -> None:
    logged, _ = _log(data)
    with pytest.raises(PromotionRefused, match="kompetensi evaluate"):
        promote(logged.version, gate=default_gate, models_dir=tmp_path)
    assert not (tmp_path / CHAMPION_FILE).exists()


def test_unknown_version_is_refused(store: Store) -> None:
    with pytest.raises(PromotionRefused, match="not registered"):
        promote("9999", gate=default_gate)


def test_a_tampered_registry_artifact_is_refused(store: Store, data, tmp_path: Path) -> None:
    logged, _ = _log(data, evaluate=GOOD)
    client = mlflow.MlflowClient()
    artifact = Path(client.download_artifacts(logged.run_id, registry.BUNDLE_ARTIFACT, str(tmp_path)))
    run_artifacts = f"{logged.run_id}/artifacts/{registry.BUNDLE_ARTIFACT}"
    stored = next((store.root / "data" / "mlartifacts").rglob(run_artifacts))
    assert stored.read_bytes() == artifact.read_bytes()
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    stored.write_bytes(bytes(raw))
    models = tmp_path / "models"
    with pytest.raises(PromotionRefused, match="checksum"):
        promote(logged.version, gate=default_gate, models_dir=models)
    with pytest.raises(LookupError, match="checksum"):
        registry.load_bundle(logged.version)
    assert read_champion_pointer(models) is None


def test_a_promote_killed_midway_leaves_the_previous_champion(store: Store, data, tmp_path: Path) -> None:
    old, _ = _log(data, evaluate=GOOD)
    new, _ = _log(data, alpha=0.5, evaluate=GOOD)
    models = tmp_path / "models"
    promote(old.version, gate=default_gate, models_dir=models)

    env = {**os.environ, PAUSE_ENV: "60"}
    code = ("from pathlib import Path; from training.registry import promote; from training.gate import default_gate; "
            f"promote({new.version!r}, gate=default_gate, models_dir=Path({str(models)!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (models / PAUSE_MARKER).exists():
            if proc.poll() is not None:
                pytest.fail(f"promote ended before the pause: {proc.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "promote never reached the pause"
            time.sleep(0.05)
        half_written = [p for p in models.iterdir() if p.name.startswith(TMP_PREFIX)]
        assert len(half_written) == 1 and (half_written[0] / BUNDLE_FILE).exists()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    assert read_champion_pointer(models) == old.version
    loaded = load_champion(models)  # verifies every checksum
    assert loaded.version == old.version
    assert registry.champion_version() == old.version

    # The next promotion clears the leftovers and succeeds.
    promote(new.version, gate=default_gate, models_dir=models)
    assert load_champion(models).version == new.version
    assert registry.champion_version() == new.version
    assert not [p for p in models.iterdir() if p.name.startswith((TMP_PREFIX, ".trash-", PAUSE_MARKER))]


# ---------------------------------------------------------------------------------------------
# The gate itself (no MLflow)
# ---------------------------------------------------------------------------------------------
def test_default_gate_passes_a_better_model_on_first_promotion() -> None:
    assert default_gate(GOOD, None) == []
    assert default_gate(GOOD, {"backtest_mae": 0.31}) == []


def test_default_gate_requires_beating_both_baselines() -> None:
    reasons = default_gate({**GOOD, "backtest_mae": 0.37}, None)
    assert reasons == ["beats_linear: backtest_mae 0.3700 is not below baseline_linear_mae 0.3500"]
    equal = default_gate({**GOOD, "backtest_mae": 0.35}, None)  # a tie is not an improvement
    assert [r.split(":")[0] for r in equal] == ["beats_linear"]
    both = default_gate({**GOOD, "backtest_mae": 0.45}, None)
    assert [r.split(":")[0] for r in both] == ["beats_carry_forward", "beats_linear"]


def test_default_gate_tolerance_against_the_champion_is_relative() -> None:
    champion = {"backtest_mae": 0.25}
    assert default_gate({**GOOD, "backtest_mae": 0.255}, champion) == []  # +2.0 %: at the limit
    worse = default_gate({**GOOD, "backtest_mae": 0.2551}, champion)
    assert [r.split(":")[0] for r in worse] == ["not_worse_than_champion"]
    assert default_gate({**GOOD, "backtest_mae": 0.2551}, champion, tolerance=0.05) == []
    assert default_gate(GOOD, {"other": 1.0}) == []  # a champion never evaluated cannot block


def test_default_gate_reports_missing_and_non_finite_metrics_once() -> None:
    reasons = default_gate({"backtest_mae": math.nan}, None)
    assert reasons == [
        "missing metrics: backtest_mae, baseline_carry_forward_mae, baseline_linear_mae; "
        "run `kompetensi evaluate` first"
    ]
    assert default_gate({}, GOOD)[0].startswith("missing metrics: backtest_mae,")


def test_extra_checks_plug_into_the_gate() -> None:
    fairness = GateCheck("fairness_sex", ("mae_gap_sex",),
                         lambda c, _: None if c["mae_gap_sex"] <= 0.05 else "gap too large")
    gate = make_gate(*accuracy_checks(), fairness)
    assert gate({**GOOD, "mae_gap_sex": 0.01}, None) == []
    assert gate({**GOOD, "mae_gap_sex": 0.20}, None) == ["fairness_sex: gap too large"]
    assert "mae_gap_sex" in gate(GOOD, None)[0]
    assert run_checks([], {}, None) == []
