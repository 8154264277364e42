"""The store on PostgreSQL 15: round trip, idempotence and atomicity (skipped where it cannot start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import features.store as store
from features.constants import TABLES
from features.ingest import ingest_export
from features.io import ExportInvalid, read_export
from features.store import DATA_TABLES, current_snapshot_info, get_engine, load_snapshot, snapshot_history
from tests.conftest_pg import postgres_database
from tests.exports import set_cell, valid_meta, write_meta, write_valid_export

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def empty_pg(pg_url: str) -> str:
    """The test database with the store's tables emptied (tests in this module share one database)."""
    engine = get_engine(pg_url)
    with engine.begin() as conn:
        store.METADATA.drop_all(conn)
    return pg_url


def row_counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as conn:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in {**DATA_TABLES, "snapshots": store.SNAPSHOTS}.items()}


def test_round_trip_with_protected_columns(empty_pg: str, tmp_path: Path) -> None:
    folder = write_valid_export(tmp_path / "e")

    result = ingest_export(folder, empty_pg)
    snapshot = load_snapshot(get_engine(empty_pg), include_protected=True)

    expected = read_export(folder)
    for table in TABLES:
        pd.testing.assert_frame_equal(snapshot[table.name], expected[table.name])
    assert snapshot.snapshot_id == result.content_sha256
    assert "sex" not in load_snapshot(get_engine(empty_pg))["employees"].columns


def test_idempotent_and_new_content_replaces_current(empty_pg: str, tmp_path: Path) -> None:
    folder = write_valid_export(tmp_path / "e")
    first = ingest_export(folder, empty_pg)

    again = ingest_export(folder, empty_pg)
    write_meta(folder, {**valid_meta(), "organisation": "Kota Pontianak (revisi)"})
    second = ingest_export(folder, empty_pg)

    assert again.unchanged and again.snapshot_id == first.snapshot_id
    assert not second.unchanged and second.snapshot_id > first.snapshot_id
    engine = get_engine(empty_pg)
    assert [s.is_current for s in snapshot_history(engine)] == [True, False]
    assert current_snapshot_info(engine).organisation == "Kota Pontianak (revisi)"


def test_failure_mid_load_and_invalid_export_leave_the_store_unchanged(
        empty_pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_valid_export(tmp_path / "e")
    first = ingest_export(folder, empty_pg)
    before = row_counts(empty_pg)
    write_meta(folder, {**valid_meta(), "organisation": "new"})
    real_insert = store._insert_table
    calls: list[str] = []

    def fail_after_five(conn, table, frame, snapshot_id):  # type: ignore[no-untyped-def]
        if len(calls) == 5:
            raise RuntimeError("connection lost")
        calls.append(table.name)
        return real_insert(conn, table, frame, snapshot_id)

    with monkeypatch.context() as patch:
        patch.setattr(store, "_insert_table", fail_after_five)
        with pytest.raises(RuntimeError, match="connection lost"):
            ingest_export(folder, empty_pg)
    assert len(calls) == 5 and row_counts(empty_pg) == before
    assert current_snapshot_info(get_engine(empty_pg)).snapshot_id == first.snapshot_id

    set_cell(folder, "assessments", 0, level="7")
    with pytest.raises(ExportInvalid):
        ingest_export(folder, empty_pg)
    assert row_counts(empty_pg) == before
