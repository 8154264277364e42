"""The audit trail: who asked what, when, and which model answered (table `audit_log` in the store).

A record holds the time, key id, route template, NIP (or the number of NIPs for a batch), model
version, status and latency — never a request body or a protected attribute. Routes whose answer depends
on options (POST /v1/plans, `kompetensi plan`) add `inputs`: a compact JSON of those options, built by the
route with NIP lists reduced to counts. Requests only put a
record on a queue; one background thread writes them in batches, so auditing costs a request
microseconds and a slow or locked store never fails a request (a record that cannot be written is
logged as a count and dropped).

The writer lingers `linger_seconds` (0.2 s) after the first record of a batch before it writes: one
INSERT and one commit per request cost the server ~0.4 ms of CPU and a SQLite fsync (~3 ms) each;
batched, a few per second. Records wait in the bounded queue meanwhile (so a full queue still drops, never
blocks), and `flush()` (GET /v1/audit) and `close()` end the linger at once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
)

log = logging.getLogger("serving.audit")

_metadata = MetaData()
AUDIT_TABLE = Table(
    "audit_log",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(), nullable=False, index=True),  # UTC, stored naive for SQLite/Postgres parity
    Column("key_id", String(32)),
    Column("method", String(8), nullable=False),
    Column("route", String(128), nullable=False),
    Column("nip", String(32)),
    Column("nips_count", Integer),
    Column("model_version", String(128)),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("inputs", Text),  # compact JSON of the request's options, where the route records them
)

BATCH_SIZE = 500
LINGER_SECONDS = 0.2


@dataclass(frozen=True)
class AuditRecord:
    """One answered request: who asked what, when, and which model answered."""

    # The one audit type: the middleware (serving.observe) and the CLI write it, GET /v1/audit returns it.

    at: Annotated[datetime, Field(description="when the answer was given (UTC)")]
    key_id: Annotated[str | None, Field(description="the API key's id (`cli` for the command line), never the key")]
    method: str
    route: Annotated[str, Field(description="the route template, e.g. /v1/employees/{nip}/gaps")]
    nip: str | None
    nips_count: Annotated[int | None, Field(description="how many NIPs a batch or a plan was about")]
    model_version: str | None
    status: int
    latency_ms: float
    inputs: Annotated[str | None, Field(description="compact JSON of the request's options (plans); NIPs as "
                                                    "counts")] = None

    def row(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: that deep-copies every value (~10 calls per record).
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["at"] = self.at.astimezone(UTC).replace(tzinfo=None)
        return row


_FIELDS = tuple(f.name for f in fields(AuditRecord))


def _add_missing_columns(engine: Engine) -> None:
    """A store created before a column was added gets it (nullable, so old rows stay valid)."""
    present = {c["name"] for c in inspect(engine).get_columns(AUDIT_TABLE.name)}
    missing = [c for c in AUDIT_TABLE.columns if c.name not in present]
    if missing:
        with engine.begin() as conn:
            for column in missing:
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(text(f"ALTER TABLE {AUDIT_TABLE.name} ADD COLUMN {column.name} {kind}"))


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class AuditLog:
    """Queue + writer thread in front of the `audit_log` table; `read` serves GET /v1/audit."""

    def __init__(self, engine_factory: Callable[[], Engine], *, max_queue: int = 10_000,
                 on_drop: Callable[[int], None] | None = None, linger_seconds: float = LINGER_SECONDS) -> None:
        self._engine_factory = engine_factory
        self._linger = linger_seconds
        self._wake = threading.Event()  # set by flush() and close(): stop lingering, write now
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._queue: queue.Queue[AuditRecord | _Flush | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._on_drop = on_drop
        self.written = 0
        self.dropped = 0

    # -- engine ----------------------------------------------------------------------------------
    def engine(self) -> Engine:
        """The store engine, with `audit_log` created on first use (not at import, not at start-up)."""
        with self._engine_lock:
            if self._engine is None:
                engine = self._engine_factory()
                _metadata.create_all(engine, tables=[AUDIT_TABLE], checkfirst=True)
                _add_missing_columns(engine)
                self._engine = engine
            return self._engine

    # -- writing ---------------------------------------------------------------------------------
    def start(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    def record(self, record: AuditRecord) -> None:
        """Queue a record without blocking; when the queue is full the record is dropped and counted."""
        self.start()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._drop(1)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written (or dropped); False on timeout."""
        self.start()
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop the writer thread."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._wake.set()
        thread.join(timeout)

    def _drop(self, count: int) -> None:
        self.dropped += count
        if self._on_drop is not None:
            self._on_drop(count)

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if isinstance(item, AuditRecord) and self._linger > 0:
                # Let the records of the next moments join this one in one INSERT; they wait in the
                # (bounded) queue meanwhile. flush() and close() cut the wait short.
                self._wake.wait(self._linger)
            self._wake.clear()
            pending: list[AuditRecord] = []
            markers: list[_Flush] = []
            # Drain what is queued so that a burst becomes one INSERT.
            while True:
                if item is None:
                    stop = True
                elif isinstance(item, _Flush):
                    markers.append(item)
                else:
                    pending.append(item)
                if stop or len(pending) >= BATCH_SIZE:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if pending:
                self._write(pending)
            for marker in markers:
                marker.done.set()

    def _write(self, records: list[AuditRecord]) -> None:
        try:
            with self.engine().begin() as conn:
                conn.execute(insert(AUDIT_TABLE), [r.row() for r in records])
            self.written += len(records)
        except Exception as exc:  # noqa: BLE001 - a broken store must not take the writer thread down
            log.warning("audit: %d record(s) not written (%s)", len(records), type(exc).__name__)
            self._drop(len(records))

    # -- reading ---------------------------------------------------------------------------------
    def read(self, since: datetime, limit: int) -> list[AuditRecord]:
        """Records at or after `since` (UTC), oldest first, at most `limit`."""
        since_utc = since.astimezone(UTC).replace(tzinfo=None) if since.tzinfo else since
        columns = [AUDIT_TABLE.c[name] for name in _FIELDS]
        query = (
            select(*columns).where(AUDIT_TABLE.c.at >= since_utc)
            .order_by(AUDIT_TABLE.c.at, AUDIT_TABLE.c.id).limit(limit)
        )
        with self.engine().connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditRecord(**{**row, "at": row["at"].replace(tzinfo=UTC)}) for row in rows]
