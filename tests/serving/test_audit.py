"""The audit writer: queued, batched, readable by time; a broken store fails records but never raises
(tests/serving/test_audit_store.py has the faults on real SQLite and PostgreSQL stores)."""

from __future__ import annotations

import threading
import time
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from serving.audit import AUDIT_TABLE, AuditLog, AuditRecord

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def _record(i: int, **overrides: object) -> AuditRecord:
    values: dict[str, object] = dict(at=T0 + timedelta(seconds=i), key_id="key_1", method="GET",
                                     route="/v1/employees/{nip}/gaps", nip=f"{i:018d}", nips_count=None,
                                     model_version="7", status=200, latency_ms=1.5)
    values.update(overrides)
    return AuditRecord(**values)  # type: ignore[arg-type]


def test_records_are_written_and_read_back_in_order(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    audit = AuditLog(lambda: engine)
    for i in range(1200):  # more than one batch
        audit.record(_record(i))
    assert audit.flush(timeout=10)
    rows = audit.read(T0 + timedelta(seconds=1000), limit=500)
    assert rows == [_record(i) for i in range(1000, 1200)]  # the records as they were written, UTC included
    assert audit.written == 1200 and audit.dropped == 0
    columns = {c.name for c in AUDIT_TABLE.columns}
    assert columns == {"id"} | {f.name for f in fields(AuditRecord)}  # nothing else: no body, no attribute
    audit.close()


def test_a_broken_store_fails_records_without_raising(tmp_path: Path) -> None:
    """A store that stays down is retried for `retry_seconds`; then the records are counted as failed
    (not as dropped: that count is the queue's overflow) and the writer goes on."""
    failed: list[int] = []

    def no_store() -> sa.Engine:
        raise sa.exc.OperationalError("connect", {}, Exception("store down"))

    audit = AuditLog(no_store, on_fail=failed.append, retry_seconds=0.3)
    audit.record(_record(1))
    audit.record(_record(2))
    assert audit.flush(timeout=10)
    assert sum(failed) == 2 and audit.failed == 2 and audit.dropped == 0 and audit.retries >= 1
    audit.close()


def test_a_full_queue_drops_instead_of_blocking(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    store_ready = threading.Event()

    def slow_store() -> sa.Engine:
        store_ready.wait(10)  # the writer is stuck here: nothing leaves the queue
        return engine

    audit = AuditLog(slow_store, max_queue=2)
    started = time.perf_counter()
    for i in range(50):
        audit.record(_record(i))
    assert time.perf_counter() - started < 1.0  # requests never wait for the store
    assert 45 <= audit.dropped <= 48  # the writer took at most one, the queue holds two
    store_ready.set()
    assert audit.flush(timeout=10)
    assert audit.written + audit.dropped == 50
    audit.close()
