"""Start the local PostgreSQL 15 cluster and give a test a fresh database (or skip the test).

Reusable by any test module:

    from tests.conftest_pg import postgres_database

    @pytest.fixture(scope="module")
    def pg_url():
        with postgres_database() as url:
            yield url

The cluster is started with `pg_ctlcluster 15 main start` (needs root) when it is down, and stopped
again afterwards only if this helper started it. The role and database are (re)created through
`runuser -u postgres -- psql`. Anything that cannot be done here becomes `pytest.skip(reason)`, which the skip guard of
`tests/conftest.py` turns into a failure in CI (CI installs and starts PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_VERSION, PG_CLUSTER, PG_PORT = "15", "main", 5432
PG_ROLE = PG_DATABASE = "kompetensi_test"
PG_PASSWORD = "kompetensi_test_only"  # a throwaway role of a local test cluster, not a secret


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def _skip(reason: str) -> None:
    pytest.skip(f"PostgreSQL {PG_VERSION} cannot start here: {reason}")


def _cluster_running() -> bool:
    return _run("pg_ctlcluster", PG_VERSION, PG_CLUSTER, "status").returncode == 0


def _psql(sql: str, database: str = "postgres") -> None:
    done = _run("runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-p", str(PG_PORT), "-d", database, "-c", sql)
    if done.returncode != 0:
        _skip(f"psql failed: {done.stderr.strip() or done.stdout.strip()}")


def start_postgres() -> bool:
    """Make sure the cluster runs; returns True when this call started it (so the caller stops it)."""
    for tool in ("psql", "pg_ctlcluster", "runuser"):
        if shutil.which(tool) is None:
            _skip(f"{tool} is not installed")
    if _cluster_running():
        return False
    if os.geteuid() != 0:
        _skip("the cluster is down and starting it needs root")
    started = _run("pg_ctlcluster", PG_VERSION, PG_CLUSTER, "start", timeout=120)
    if started.returncode != 0:
        _skip(f"pg_ctlcluster start failed: {started.stderr.strip() or started.stdout.strip()}")
    for _ in range(50):  # the server accepts connections shortly after pg_ctlcluster returns
        if _run("runuser", "-u", "postgres", "--", "pg_isready", "-q", "-p", str(PG_PORT)).returncode == 0:
            return True
        time.sleep(0.2)
    _skip("the server did not accept connections within 10 s")
    return True  # pragma: no cover - _skip raises


def stop_postgres() -> None:
    _run("pg_ctlcluster", PG_VERSION, PG_CLUSTER, "stop", timeout=120)


def create_database(name: str = PG_DATABASE) -> str:
    """(Re)create the test role and an empty test database `name`; returns its SQLAlchemy URL."""
    _psql(f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_ROLE}') THEN
                  CREATE ROLE {PG_ROLE} LOGIN;
                END IF;
              END $$;
              ALTER ROLE {PG_ROLE} WITH LOGIN PASSWORD '{PG_PASSWORD}';""")
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _psql(f"CREATE DATABASE {name} OWNER {PG_ROLE}")
    return f"postgresql+psycopg://{PG_ROLE}:{PG_PASSWORD}@127.0.0.1:{PG_PORT}/{name}"


@contextmanager
def postgres_database(name: str = PG_DATABASE) -> Iterator[str]:
    """A fresh test database on the local cluster for the duration of the block (skips if impossible).
    Give each fixture that lives alongside others its own `name` (the serving tests keep one for the
    session while the store tests drop and recreate theirs)."""
    started_here = start_postgres()
    try:
        yield create_database(name)
    finally:
        from features.store import dispose_engines

        dispose_engines()  # close pooled connections before the database or server goes away
        _run("runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-p", str(PG_PORT), "-d", "postgres",
             "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if started_here:
            stop_postgres()
