"""Ingest: validate fully, then load atomically into the SQLite store; idempotent; readers see whole snapshots."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import features.store as store
from features.constants import PROTECTED_COLUMNS, TABLES
from features.export import PANDAS_DTYPES
from features.ingest import IngestResult, ingest_export
from features.io import ExportInvalid, read_export
from features.store import (
    NoSnapshot,
    current_snapshot_info,
    get_engine,
    init_store,
    load_snapshot,
    snapshot_history,
)
from tests.exports import (
    BROKEN_EXPORTS,
    Broken,
    large_export,
    set_cell,
    valid_meta,
    write_meta,
    write_valid_export,
)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "kompetensi.db"


@pytest.fixture
def url(db_path: Path) -> str:
    return f"sqlite:///{db_path}"


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    return write_valid_export(tmp_path / "export")


@pytest.fixture
def loaded(url: str, export_dir: Path) -> IngestResult:
    return ingest_export(export_dir, url)


def test_ingest_then_load_round_trips_every_table_with_contract_dtypes(url: str, export_dir: Path) -> None:
    messages: list[str] = []
    result = ingest_export(export_dir, url, progress=messages.append)

    snapshot = load_snapshot(get_engine(url), include_protected=True)

    expected = read_export(export_dir)
    for table in TABLES:
        pd.testing.assert_frame_equal(snapshot[table.name], expected[table.name])
        assert {c: str(t) for c, t in snapshot[table.name].dtypes.items()} == {
            c.name: PANDAS_DTYPES[c.type] for c in table.columns}
    assert (snapshot.exported_on, snapshot.organisation) == (expected.exported_on, expected.organisation)
    assert snapshot.snapshot_id == result.content_sha256
    assert not result.unchanged and result.row_counts["employees"] == 6
    assert str(result).startswith(f"loaded snapshot {result.snapshot_id} ")
    assert any("loading assessments (9 rows)" in m for m in messages)


def test_load_without_protected_attributes_by_default(url: str, loaded: IngestResult) -> None:
    snapshot = load_snapshot(get_engine(url))

    for frame in snapshot.tables.values():
        assert not set(PROTECTED_COLUMNS) & set(frame.columns)
    assert snapshot["employees"]["nip"].iloc[0] == "198503122010031001"


def test_same_export_twice_is_idempotent(url: str, db_path: Path, export_dir: Path, loaded: IngestResult) -> None:
    before = sha256_of(db_path)

    again = ingest_export(export_dir, url)

    assert again.unchanged and again.snapshot_id == loaded.snapshot_id
    assert str(again).startswith(f"unchanged: the current snapshot {loaded.snapshot_id}")
    assert sha256_of(db_path) == before
    assert len(snapshot_history(get_engine(url))) == 1


def test_same_content_as_parquet_is_unchanged(url: str, tmp_path: Path, loaded: IngestResult) -> None:
    from tests.exports import write_export

    folder = write_export(tmp_path / "parquet", parquet=[t.name for t in TABLES])

    assert ingest_export(folder, url).unchanged


def test_new_content_becomes_current_and_only_three_snapshots_are_kept(url: str, export_dir: Path) -> None:
    ids = []
    for i in range(4):
        write_meta(export_dir, {**valid_meta(), "organisation": f"Kota {i}"})
        ids.append(ingest_export(export_dir, url).snapshot_id)

    engine = get_engine(url)
    history = snapshot_history(engine)
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [s.snapshot_id for s in history] == ids[::-1][:3]
    assert [s.is_current for s in history] == [True, False, False]
    assert current_snapshot_info(engine).organisation == "Kota 3"
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT DISTINCT snapshot_id FROM employees ORDER BY 1")).scalars().all()
    assert kept == sorted(ids[1:])


def test_failure_mid_load_rolls_back_byte_for_byte(url: str, db_path: Path, export_dir: Path,
                                                   loaded: IngestResult, monkeypatch: pytest.MonkeyPatch) -> None:
    write_meta(export_dir, {**valid_meta(), "organisation": "new content"})
    before = sha256_of(db_path)
    inserted: list[str] = []
    real_insert = store._insert_table

    def fail_after_three_tables(conn, table, frame, snapshot_id):  # type: ignore[no-untyped-def]
        if len(inserted) == 3:
            raise RuntimeError("disk on fire")
        inserted.append(table.name)
        return real_insert(conn, table, frame, snapshot_id)

    monkeypatch.setattr(store, "_insert_table", fail_after_three_tables)

    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_export(export_dir, url)

    assert inserted == ["units", "competencies", "positions"]
    assert sha256_of(db_path) == before
    assert not db_path.with_name(db_path.name + "-journal").exists()
    assert current_snapshot_info(get_engine(url)).snapshot_id == loaded.snapshot_id
    assert load_snapshot(get_engine(url)).organisation == "Pemerintah Kota Pontianak"


def test_failed_first_load_leaves_no_tables(url: str, export_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(store, "_insert_table", fail)

    with pytest.raises(RuntimeError):
        ingest_export(export_dir, url)

    assert sa.inspect(get_engine(url)).get_table_names() == []
    assert current_snapshot_info(get_engine(url)) is None


@pytest.mark.parametrize("broken", BROKEN_EXPORTS, ids=lambda b: b.name)
def test_invalid_export_is_rejected_and_the_store_is_unchanged(db_path: Path, url: str, export_dir: Path,
                                                               loaded: IngestResult, broken: Broken) -> None:
    before = sha256_of(db_path)
    broken.apply(export_dir)

    with pytest.raises(ExportInvalid) as caught:
        ingest_export(export_dir, url)

    assert [(e.file, e.row, e.column) for e in caught.value.errors] == [(broken.file, broken.row, broken.column)]
    assert broken.rule in caught.value.errors[0].rule
    assert sha256_of(db_path) == before
    assert current_snapshot_info(get_engine(url)).snapshot_id == loaded.snapshot_id


def test_invalid_export_does_not_even_create_the_store(tmp_path: Path, export_dir: Path) -> None:
    set_cell(export_dir, "assessments", 0, level="7")
    db = tmp_path / "never" / "store.db"

    with pytest.raises(ExportInvalid):
        ingest_export(export_dir, f"sqlite:///{db}")

    assert not db.parent.exists()


def test_empty_store_has_no_snapshot(url: str, db_path: Path) -> None:
    assert not db_path.exists()  # nothing is created before it is asked for
    engine = get_engine(url)
    assert current_snapshot_info(engine) is None
    init_store(engine)
    assert {"snapshots", "employees", "awards"} <= set(sa.inspect(engine).get_table_names())
    assert current_snapshot_info(engine) is None
    with pytest.raises(NoSnapshot, match="kompetensi ingest"):
        load_snapshot(engine)


def test_get_engine_is_cached_per_url(url: str, tmp_path: Path) -> None:
    assert get_engine(url) is get_engine(url)
    assert get_engine(url) is not get_engine(f"sqlite:///{tmp_path / 'other.db'}")


def test_readers_never_see_a_half_loaded_snapshot(url: str, tmp_path: Path) -> None:
    # Two exports that differ in organisation and in the number of awards; a reader must always get a
    # snapshot whose rows match its organisation while ingests replace each other. keep_snapshots=1
    # deletes the previous snapshot in the same transaction, so a read that was not one transaction
    # would find the snapshot it started on gone (no awards).
    folders = {}
    for name, n_awards in (("A", 2), ("B", 1)):
        folder = write_valid_export(tmp_path / name)
        write_meta(folder, {**valid_meta(), "organisation": name})
        if n_awards == 1:
            lines = (folder / "awards.csv").read_text(encoding="utf-8").splitlines()[:-1]
            (folder / "awards.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        folders[name] = (folder, n_awards)
    ingest_export(folders["A"][0], url)
    engine = get_engine(url)
    problems: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def read_forever() -> None:
        while not stop.is_set():
            snapshot = load_snapshot(engine)
            seen.add(snapshot.organisation)
            if len(snapshot["awards"]) != folders[snapshot.organisation][1]:
                problems.append(f"{snapshot.organisation}: {len(snapshot['awards'])} awards")

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        for i in range(4):
            ingest_export(folders["B" if i % 2 == 0 else "A"][0], url, keep_snapshots=1)
            time.sleep(0.02)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert problems == []
    assert seen == {"A", "B"}


@pytest.mark.slow
def test_a_6000_employee_export_validates_and_loads_quickly(tmp_path: Path, url: str) -> None:
    folder = large_export(tmp_path / "big", n_employees=6000)

    started = time.perf_counter()
    export = read_export(folder)
    validated = time.perf_counter() - started
    result = ingest_export(folder, url)

    assert sum(result.row_counts.values()) > 140_000
    assert validated < 15  # ~2 s measured on 2 cores; generous for a loaded CI machine
    assert result.seconds < 60  # validate + hash + load: ~6 s measured
    assert len(load_snapshot(get_engine(url))["assessments"]) == len(export["assessments"])
