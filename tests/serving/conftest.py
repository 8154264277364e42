"""The serving tests' world: a generated export, ingested into a store, a REALLY trained predictor written as
champion bundle(s) into a models dir, and API keys — built once per test session (`build_serving_world`).

Everything a test changes (the champion pointer, the keys file) it changes in its own copy
(`world.copy_models(tmp_path)`), so tests do not depend on each other's order.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.settings import Settings

EMPLOYEES = 300
YEARS = 4
SEED = 5
# The real model classes, smaller than in production so that the session fixture trains in seconds; one
# thread, so that a busy CI machine does not stall LightGBM's OpenMP pool.
GAP_MODEL_PARAMS = {"n_estimators": 150, "interval_estimators": 80, "n_jobs": 1}
VERSIONS = ("1", "2")  # the same trained predictor, promoted twice: the reload tests swap between them


@dataclass(frozen=True)
class ServingWorld:
    root: Path
    export_dir: Path
    db_url: str
    models_dir: Path  # versions 1 and 2, champion = 2
    keys_file: Path
    keys: dict[str, str]  # role -> secret
    key_ids: dict[str, str]  # role -> key id
    nip: str  # an active employee with at least one recommendation
    other_nips: tuple[str, ...]  # more active employees
    inactive_nip: str | None
    unit_id: str
    training_id: str  # recommended to `nip`, so eligible for them
    position_id: str  # `nip`'s position
    employee: dict[str, Any]  # `nip`'s non-protected attributes (for the inline request)
    protected: dict[str, str] = field(default_factory=dict)  # `nip`'s birth_date (ISO) and sex

    def settings(self, models_dir: Path | None = None, keys_file: Path | None = None) -> Settings:
        return Settings(data_dir=self.root / "data", db_url=self.db_url, models_dir=models_dir or self.models_dir,
                        api_keys_file=keys_file or self.keys_file)

    def copy_models(self, target: Path) -> Path:
        """A private copy of the models dir (a test may move its champion pointer)."""
        shutil.copytree(self.models_dir, target)
        return target

    def env(self, models_dir: Path | None = None) -> dict[str, str]:
        """Environment for a server subprocess configured like `settings()`."""
        return {
            **os.environ,
            "KOMPETENSI_DATA_DIR": str(self.root / "data"),
            "KOMPETENSI_DB_URL": self.db_url,
            "KOMPETENSI_MODELS_DIR": str(models_dir or self.models_dir),
            "KOMPETENSI_API_KEYS_FILE": str(self.keys_file),
        }

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def point_champion(models_dir: Path, version: str) -> None:
    """Move models_dir/CHAMPION to `version` atomically, as promotion does."""
    fd, tmp = tempfile.mkstemp(prefix=".CHAMPION-", dir=models_dir)
    with os.fdopen(fd, "w") as handle:
        handle.write(version + "\n")
    os.replace(tmp, models_dir / "CHAMPION")


def corrupt_version(models_dir: Path, source: str, version: str) -> None:
    """versions/<version>: a copy of <source> whose bundle bytes no longer match the manifest's checksum."""
    import json

    target = models_dir / "versions" / version
    shutil.copytree(models_dir / "versions" / source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = version
    (target / "manifest.json").write_text(json.dumps(manifest))
    data = bytearray((target / "bundle.joblib").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (target / "bundle.joblib").write_bytes(bytes(data))


def build_serving_world(root: Path) -> ServingWorld:
    """generate → ingest → train (the real predictor) → write champion bundles → create keys."""
    from features.generator import generate_export
    from features.ingest import ingest_export
    from features.io import read_export
    from features.store import get_engine, load_snapshot
    from serving.keys import create_key
    from training.bundle import write_bundle_dir
    from training.fit import fit_predictor

    root.mkdir(parents=True, exist_ok=True)
    export_dir = root / "export"
    generate_export(export_dir, employees=EMPLOYEES, years=YEARS, seed=SEED)
    db_url = f"sqlite:///{root / 'store.db'}"
    ingest_export(export_dir, url=db_url)
    export = load_snapshot(get_engine(db_url))
    predictor = fit_predictor(export, seed=SEED, gap_model_params=GAP_MODEL_PARAMS)

    models_dir = root / "models"
    manifest_extra = {"as_of": export.exported_on.isoformat(), "metrics": {"mae": 0.25, "coverage_80": 0.8}}
    for version in VERSIONS:  # as `registry.log_training_run` does before it pickles the bundle
        predictor.metadata["model_version"] = version
        write_bundle_dir(predictor, models_dir, version=version, manifest_extra=manifest_extra)

    employees = export["employees"]
    active = [str(n) for n in employees.loc[employees["status"] == "aktif", "nip"]]
    nip, training_id = "", ""
    for candidate, result in zip(active[:40], predictor.recommend_many(export, active[:40]), strict=True):
        if result.items:
            nip, training_id = candidate, result.items[0].training_id
            break
    assert nip, "no active employee of the generated export has a recommendation"
    row = employees.loc[employees["nip"] == nip].iloc[0]
    inactive = employees.loc[employees["status"] != "aktif", "nip"]

    full = read_export(export_dir).tables["employees"]  # with the protected columns, for leak checks
    mine = full.loc[full["nip"] == nip].iloc[0]

    keys_file = root / "keys.json"
    created = {role: create_key(role, keys_file) for role in ("reader", "planner", "admin")}
    return ServingWorld(
        root=root, export_dir=export_dir, db_url=db_url, models_dir=models_dir, keys_file=keys_file,
        keys={role: secret for role, (_, secret) in created.items()},
        key_ids={role: key_id for role, (key_id, _) in created.items()},
        nip=nip, other_nips=tuple(n for n in active[:12] if n != nip),
        inactive_nip=str(inactive.iloc[0]) if len(inactive) else None,
        unit_id=str(row["unit_id"]), training_id=training_id, position_id=str(row["position_id"]),
        employee={c: row[c] for c in ("position_id", "unit_id", "grade", "employment", "education")}
        | {"hired_on": row["hired_on"].date().isoformat()},
        protected={"birth_date": mine["birth_date"].date().isoformat(), "sex": str(mine["sex"])},
    )


def wait_for(check: Callable[[], bool], seconds: float = 20.0) -> bool:
    """Poll `check` until it holds (True) or `seconds` pass (False): for what a server does in the background."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> ServingWorld:
    return build_serving_world(tmp_path_factory.mktemp("serving-world"))


PG_SERVING_DATABASE = "kompetensi_serving_test"  # the session's; the store tests recreate their own
PG_SCRATCH_DATABASE = "kompetensi_serving_scratch"  # a test's private store (`private_store`)
STORES = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


@pytest.fixture(scope="session")
def pg_world(world: ServingWorld) -> Iterator[ServingWorld]:
    """The same world on PostgreSQL 15: the export ingested into a database of the local cluster, with the
    same trained bundles and keys (the model does not depend on where the snapshot is stored, so one
    training serves both stores). Skips where PostgreSQL cannot start, which fails a CI run."""
    from features.ingest import ingest_export
    from tests.conftest_pg import postgres_database

    with postgres_database(PG_SERVING_DATABASE) as url:
        ingest_export(world.export_dir, url=url)
        yield replace(world, db_url=url)


@pytest.fixture(params=STORES)
def store_world(request: pytest.FixtureRequest) -> ServingWorld:
    """The world on each store: the integration tests that take it run on SQLite and on PostgreSQL."""
    return request.getfixturevalue("world" if request.param == "sqlite" else "pg_world")


@contextmanager
def private_store(world: ServingWorld, tmp_path: Path) -> Iterator[str]:
    """The URL of a store holding the world's snapshot that this test alone writes to (ingests, audit)."""
    if world.db_url.startswith("sqlite"):
        store = tmp_path / "store.db"
        shutil.copyfile(world.db_url.removeprefix("sqlite:///"), store)
        yield f"sqlite:///{store}"
        return
    from features.ingest import ingest_export
    from tests.conftest_pg import postgres_database

    with postgres_database(PG_SCRATCH_DATABASE) as url:
        ingest_export(world.export_dir, url=url)
        yield url


@pytest.fixture
def client(world: ServingWorld) -> Iterator[TestClient]:
    """The app on the world's champion, lifespan run, poller off."""
    from serving.main import create_app

    with TestClient(create_app(world.settings(), poll_seconds=None)) as test_client:
        yield test_client
