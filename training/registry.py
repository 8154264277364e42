"""MLflow tracking and model registry: log a training run, record its evaluation, promote with a gate.

One registered model, `asn-kompetensi`. A training run logs the gap model's point Pipeline as an MLflow
model (signature + input example, registered as a new version) and the full bundle the server uses as
the run artifact `bundle/bundle.joblib`. Evaluation is a separate run that takes the version's
LoggedModel as input (MLflow 3's model-centric layout); its metrics are also copied onto the version
as `metric.<name>` tags so that `promote` reads them with one call. Promotion uses the `champion` alias
(stages are deprecated) and moves it only after the bundle is on disk under models/.

Nothing here runs at import: `configure()` sets the tracking URI, and every public function calls it.
"""

from __future__ import annotations

import importlib.metadata
import io
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from engine.bundle import BUNDLE_FILE, sha256_bytes, sha256_file
from features.settings import Settings, get_settings
from training.bundle import locked, write_bundle_dir
from training.fairness import fairness_checks
from training.gate import Gate, Metrics, accuracy_checks, decision_checks, make_gate

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

logger = logging.getLogger(__name__)

REGISTERED_MODEL = "asn-kompetensi"
EXPERIMENT = "asn-kompetensi"
CHAMPION_ALIAS = "champion"
MODEL_NAME = "model"  # the LoggedModel's name inside a training run
BUNDLE_ARTIFACT = f"bundle/{BUNDLE_FILE}"
# Version tags. Training tags (as_of, data window, snapshot id) are copied onto the version as given;
# ours carry a prefix so they never collide with them.
METRIC_TAG_PREFIX = "metric."
TAG_PREFIX = "kompetensi."
TAG_BUNDLE_SHA256 = "kompetensi.bundle_sha256"  # set last: a version without it has no usable bundle
TAG_MODEL_ID = "kompetensi.model_id"
TAG_EVALUATION_RUN = "kompetensi.evaluation_run_id"
TAG_AS_OF = "as_of"
MANIFEST_TAGS = ("snapshot_id", "data_window_start", "data_window_end")
PROMOTE_LOCK = ".promote.lock"
OWN_DISTRIBUTION = "asn-kompetensi"  # not on any package index: never a pip requirement


@dataclass(frozen=True)
class RegisteredVersion:
    version: str
    run_id: str
    model_uri: str


@dataclass(frozen=True)
class PromotionResult:
    version: str
    previous: str | None  # the champion before, if any
    path: Path
    manifest_extra: dict[str, Any]


class PromotionRefused(Exception):
    """The candidate cannot be promoted; `reasons` says why. Nothing was changed."""

    def __init__(self, reasons: Iterable[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
def configure(settings: Settings | None = None) -> str:
    """Point MLflow at the configured store and make sure the experiment exists; returns the URI.

    Idempotent. Local stores (sqlite, file) get the experiment's artifacts under data_dir/mlartifacts;
    a remote tracking server keeps its own artifact location.
    """

    settings = settings or get_settings()
    # MLflow reads these lazily, so setting them here (not at import) is enough.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MPLCONFIGDIR", str(settings.data_dir / ".matplotlib"))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # noise in CLI output and logs
    uri = settings.tracking_uri
    local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = _client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        location = (settings.data_dir / "mlartifacts").resolve().as_uri() if local else None
        try:
            experiment_id = client.create_experiment(EXPERIMENT, artifact_location=location)
        except MlflowException:
            # Another process created it between our lookup and our create.
            experiment = client.get_experiment_by_name(EXPERIMENT)
            if experiment is None:
                raise
            experiment_id = experiment.experiment_id
    else:
        experiment_id = experiment.experiment_id
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment_id)
    mlflow.set_experiment(experiment_id=experiment_id)
    return uri


def _client() -> MlflowClient:

    return MlflowClient()


# ---------------------------------------------------------------------------------------------
# Training and evaluation runs
# ---------------------------------------------------------------------------------------------
def log_training_run(
    bundle: object,
    *,
    sklearn_model: Any,
    input_example: pd.DataFrame,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    artifacts: Mapping[str, Path] | None = None,
    run_name: str | None = None,
) -> RegisteredVersion:
    """Log one training run and register its model as a new version of `asn-kompetensi`.

    `sklearn_model` is logged with a signature inferred from `input_example` and its prediction;
    `bundle` (any picklable object with a `metadata` dict) gets `metadata["model_version"]` and
    `metadata["mlflow_run_id"]` set, then is logged as the artifact `bundle/bundle.joblib`. `tags`
    (as_of, data window, snapshot id) go on the run and on the version; `artifacts` maps an artifact
    folder to a file or directory to log there. If anything after registration fails, the new version
    is deleted again, so every registered version has its bundle.
    """

    metadata = getattr(bundle, "metadata", None)
    if not isinstance(metadata, dict):
        raise TypeError(f"{type(bundle).__name__} has no `metadata` dict to record its model version in")
    configure()
    client = _client()
    example = _nullable_ints_as_float(input_example)
    signature = infer_signature(example, sklearn_model.predict(input_example))
    run_tags = {str(k): str(v) for k, v in tags.items()}
    with mlflow.start_run(run_name=run_name, tags={**run_tags, f"{TAG_PREFIX}run_type": "training"}) as run:
        run_id = run.info.run_id
        mlflow.log_params(_flatten(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        with _quiet_pickle_warning():
            info = mlflow.sklearn.log_model(
                sklearn_model,
                name=MODEL_NAME,
                signature=signature,
                input_example=example,
                registered_model_name=REGISTERED_MODEL,
                pip_requirements=_pip_requirements(sklearn_model),
                # skops refuses types it does not know (HistGradientBoosting's TreePredictor, our own
                # transformers); this copy feeds the MLflow UI and `mlflow models serve`, while the
                # server loads the checksummed bundle.
                serialization_format="cloudpickle",
            )
        version = str(info.registered_model_version)
        try:
            metadata["model_version"] = version
            metadata["mlflow_run_id"] = run_id
            with tempfile.TemporaryDirectory(prefix="kompetensi-bundle-") as tmp:
                path = Path(tmp) / BUNDLE_FILE
                joblib.dump(bundle, path)
                digest = sha256_file(path)
                mlflow.log_artifact(str(path), artifact_path=BUNDLE_ARTIFACT.rsplit("/", 1)[0])
            for folder, file in (artifacts or {}).items():
                _log_path(Path(file), folder)
            for key, value in {**run_tags, TAG_MODEL_ID: info.model_id}.items():
                client.set_model_version_tag(REGISTERED_MODEL, version, key, value)
            client.set_model_version_tag(REGISTERED_MODEL, version, TAG_BUNDLE_SHA256, digest)
        except BaseException:
            client.delete_model_version(REGISTERED_MODEL, version)
            raise
    logger.info("registered %s version %s (run %s)", REGISTERED_MODEL, version, run_id)
    return RegisteredVersion(version, run_id, model_uri=f"models:/{REGISTERED_MODEL}/{version}")


def log_evaluation(version: str, metrics: Mapping[str, float], files: Iterable[Path]) -> None:
    """Record an evaluation of `version`: a run with the metrics and report files, plus version tags.

    The run is linked to the version's LoggedModel (metrics logged with its model_id make it an input
    of the run, and show on the model's page) and tagged with the version and the training run.
    The version's `metric.*` tags are replaced by these metrics, so the gate sees one evaluation.
    """

    configure()
    client = _client()
    mv = _model_version(client, str(version))
    if mv is None:
        raise LookupError(f"{REGISTERED_MODEL} version {version} is not registered")
    model_id = mv.tags.get(TAG_MODEL_ID) or _model_id_from_source(mv.source)
    values = {str(k): float(v) for k, v in metrics.items()}
    run_tags = {
        f"{TAG_PREFIX}run_type": "evaluation",
        f"{TAG_PREFIX}model_version": str(version),
        f"{TAG_PREFIX}training_run_id": mv.run_id or "",
    }
    with mlflow.start_run(run_name=f"evaluate-v{version}", tags=run_tags) as run:
        if values:
            mlflow.log_metrics(values, model_id=model_id)
        for file in files:
            _log_path(Path(file), "evaluation")
    for key in mv.tags:
        if key.startswith(METRIC_TAG_PREFIX) and key.removeprefix(METRIC_TAG_PREFIX) not in values:
            client.delete_model_version_tag(REGISTERED_MODEL, str(version), key)
    for key, value in values.items():
        client.set_model_version_tag(REGISTERED_MODEL, str(version), METRIC_TAG_PREFIX + key, repr(value))
    client.set_model_version_tag(REGISTERED_MODEL, str(version), TAG_EVALUATION_RUN, run.info.run_id)


def version_metrics(version: str) -> Metrics:
    """The evaluation metrics recorded on a version (empty if it was never evaluated)."""
    configure()
    mv = _model_version(_client(), str(version))
    if mv is None:
        raise LookupError(f"{REGISTERED_MODEL} version {version} is not registered")
    return _metrics_from_tags(mv.tags)


def load_bundle(version: str | None = None) -> tuple[str, Any]:
    """(version, bundle) of a registered version (default: the latest), from its run's artifact.

    The download is checked against the SHA-256 recorded at training time before it is unpickled.
    """

    configure()
    client = _client()
    version = str(version) if version is not None else _latest(client)
    if version is None:
        raise LookupError("no version is registered yet: run `kompetensi train` first")
    mv = _model_version(client, version)
    if mv is None:
        raise LookupError(f"{REGISTERED_MODEL} version {version} is not registered")
    expected_sha = mv.tags.get(TAG_BUNDLE_SHA256)
    if not expected_sha or not mv.run_id:
        raise LookupError(f"version {version} has no bundle (its training run did not finish)")
    with tempfile.TemporaryDirectory(prefix="kompetensi-bundle-") as tmp:
        local = Path(client.download_artifacts(mv.run_id, BUNDLE_ARTIFACT, tmp))
        data = local.read_bytes()
    if sha256_bytes(data) != expected_sha:
        raise LookupError(f"the bundle artifact of version {version} fails its checksum")
    return version, joblib.load(io.BytesIO(data))


def champion_version() -> str | None:
    """The version the `champion` alias points to, or None."""
    configure()
    return _champion(_client())


def latest_version() -> str | None:
    """The highest registered version number, or None if nothing is registered."""
    configure()
    return _latest(_client())


# ---------------------------------------------------------------------------------------------
# Promotion
# ---------------------------------------------------------------------------------------------
def promote(version: str | None = None, *, gate: Gate, models_dir: Path | None = None) -> PromotionResult:
    """Make `version` (default: the latest) the champion if `gate` passes; else PromotionRefused.

    Order matters for crash safety: gate → download and check the bundle → write it under models/ and
    swap the pointer atomically → only then move the `champion` alias. A crash before the swap leaves
    everything as it was; a crash between the swap and the alias leaves models/ ahead of the registry,
    which promoting again repairs.
    """
    configure()
    client = _client()
    models_dir = Path(models_dir or get_settings().models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    # The promote lock spans the champion lookup, the gate and the alias, so two promotions cannot
    # interleave and leave models/ and the alias pointing at different versions.
    with locked(models_dir, PROMOTE_LOCK):
        version = str(version) if version is not None else _latest(client)
        if version is None:
            raise PromotionRefused(["no version is registered yet: run `kompetensi train` first"])
        mv = _model_version(client, version)
        if mv is None:
            raise PromotionRefused([f"{REGISTERED_MODEL} version {version} is not registered"])
        expected_sha = mv.tags.get(TAG_BUNDLE_SHA256)
        if not expected_sha or not mv.run_id:
            raise PromotionRefused([f"version {version} has no bundle (its training run did not finish)"])
        candidate = _metrics_from_tags(mv.tags)
        previous = _champion(client)
        champion_mv = _model_version(client, previous) if previous is not None else None
        champion_metrics = _metrics_from_tags(champion_mv.tags) if champion_mv is not None else None
        reasons = gate(candidate, champion_metrics)
        if reasons:
            raise PromotionRefused(reasons)
        ours = (TAG_PREFIX, METRIC_TAG_PREFIX)
        training_tags = {k: v for k, v in mv.tags.items() if not k.startswith(ours)}
        manifest_extra: dict[str, Any] = {
            # What GET /v1/models shows, at the top level; the rest of the training tags below.
            **{k: training_tags[k] for k in MANIFEST_TAGS if k in training_tags},
            "as_of": training_tags.get(TAG_AS_OF),
            "metrics": candidate,
            "registered_model": REGISTERED_MODEL,
            "model_uri": f"models:/{REGISTERED_MODEL}/{version}",
            "run_id": mv.run_id,
            "training_tags": training_tags,
            "promoted_over": previous,
        }
        with tempfile.TemporaryDirectory(prefix="kompetensi-promote-") as tmp:
            local = Path(client.download_artifacts(mv.run_id, BUNDLE_ARTIFACT, tmp))
            if sha256_file(local) != expected_sha:
                raise PromotionRefused([f"the bundle artifact of version {version} fails its checksum"])
            path = write_bundle_dir(local, models_dir, version=version, manifest_extra=manifest_extra)
        client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)
    logger.info("promoted %s version %s (previous champion: %s)", REGISTERED_MODEL, version, previous)
    return PromotionResult(version, previous, path, manifest_extra)




def promotion_gate(tolerance: float = 0.02, settings: Settings | None = None) -> Gate:
    """The gate of `kompetensi promote`: `accuracy_checks`, the truth-free decision check of
    `training.gate.decision_checks` (the model's picks beat the rule baseline's by the doubly robust
    estimate) and the merit-system fairness checks of `training.fairness.fairness_checks` (thresholds
    from `settings`, KOMPETENSI_FAIRNESS_*)."""
    return make_gate(*accuracy_checks(tolerance), *decision_checks(), *fairness_checks(settings=settings))


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _model_version(client: MlflowClient, version: str) -> ModelVersion | None:

    try:
        return client.get_model_version(REGISTERED_MODEL, str(version))
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _champion(client: MlflowClient) -> str | None:

    try:
        return str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def _latest(client: MlflowClient) -> str | None:
    versions = client.search_model_versions(f"name='{REGISTERED_MODEL}'")
    return str(max(int(v.version) for v in versions)) if versions else None


def _metrics_from_tags(tags: Mapping[str, str]) -> Metrics:
    metrics = {}
    for key, value in tags.items():
        if key.startswith(METRIC_TAG_PREFIX):
            try:
                metrics[key.removeprefix(METRIC_TAG_PREFIX)] = float(value)
            except ValueError:
                continue  # a hand-edited tag that is not a number counts as missing
    return metrics


def _model_id_from_source(source: str | None) -> str | None:
    # MLflow 3 registers `models:/<model_id>`; older versions point at a run's artifact path.
    if source and source.startswith("models:/m-"):
        return source.removeprefix("models:/").split("/")[0]
    return None


def _nullable_ints_as_float(frame: pd.DataFrame) -> pd.DataFrame:
    """The example as the signature should describe it: nullable integer columns (Int64) as double.

    MLflow maps Int64 to `long`, which cannot hold a missing value, so a served request with a null
    there would be refused; a double column accepts NaN and the Pipeline takes either.
    """

    ints = [c for c in frame.columns if isinstance(frame[c].dtype, pd.api.extensions.ExtensionDtype)
            and pd.api.types.is_integer_dtype(frame[c].dtype)]
    return frame.astype(dict.fromkeys(ints, "float64")) if ints else frame


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def _log_path(path: Path, folder: str) -> None:

    if path.is_dir():
        mlflow.log_artifacts(str(path), artifact_path=folder)
    else:
        mlflow.log_artifact(str(path), artifact_path=folder)


def _pip_requirements(model: Any) -> list[str]:
    """Pinned requirements of the libraries the model's objects come from (MLflow's own inference
    takes ~5 s in a subprocess and picks up the whole venv)."""
    modules = {"sklearn", "numpy", "pandas", "scipy", "cloudpickle"}
    objects = [model, *getattr(model, "get_params", lambda deep=True: {})(deep=True).values()]
    modules.update(type(obj).__module__.split(".")[0] for obj in objects)
    by_module = importlib.metadata.packages_distributions()
    dists = {d for m in modules for d in by_module.get(m, []) if d != OWN_DISTRIBUTION}
    return sorted(f"{d}=={importlib.metadata.version(d)}" for d in dists)


class _DropPickleWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "cloudpickle format" not in record.getMessage()


@contextmanager
def _quiet_pickle_warning() -> Iterator[None]:
    """Silence mlflow.sklearn's pickle warning for our own, deliberate choice (see log_model call)."""
    target = logging.getLogger("mlflow.sklearn")
    drop = _DropPickleWarning()
    target.addFilter(drop)
    try:
        yield
    finally:
        target.removeFilter(drop)
