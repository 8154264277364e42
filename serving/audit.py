"""The audit trail: who asked what, when, and which model answered (table `audit_log` in the store).

A record holds the time, key id, route template, NIP (or the number of NIPs for a batch), model
version, status and latency — never a request body or a protected attribute. Routes whose answer depends
on options (POST /v1/plans, `kompetensi plan`) add `inputs`: a compact JSON of those options, built by the
route with NIP lists reduced to counts. Requests only put a
record on a queue; one background thread writes them in batches, so auditing costs a request
microseconds and a slow or locked store never fails a request.

The writer lingers `linger_seconds` (0.2 s) after the first record of a batch before it writes: one
INSERT and one commit per request cost the server ~0.4 ms of CPU and a SQLite fsync (~3 ms) each;
batched, a few per second. Records wait in the bounded queue meanwhile (so a full queue still drops, never
blocks), and `flush()` (GET /v1/audit) and `close()` end the linger at once.

Nothing is lost quietly (issue 14: one request with an 8 KB invented method erased its whole batch on
PostgreSQL, and a store locked for longer than SQLite's 30 s busy timeout lost every record):
- values are fitted to their columns when written (strings cut to the column's length, NUL removed, the
  method from a closed set), because the request that carried them was answered already and its record
  must still fit;
- a batch the store refuses for its content is written again record by record, so one bad record never
  takes another with it; a record that still fails is counted (`failed`);
- while the store is busy or unreachable (locked, connection refused), the batch is retried with backoff
  for up to `retry_seconds`; requests go on meanwhile and the bounded queue fills, whose overflow is
  counted (`dropped`, the `kompetensi_audit_dropped` metric). A commit whose acknowledgement is lost
  with the connection is then written twice: a duplicate rather than a gap;
- `close()` (the server's shutdown) writes what is queued, retrying until its timeout, and counts what it
  could not write.
`prune()` deletes old records (`kompetensi audit prune --older-than DAYS`): the table is never pruned
otherwise.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
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
    delete,
    exc,
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
RETRY_SECONDS = 300.0  # how long a batch is retried while the store is busy or down (Settings.audit_retry_seconds)
QUEUE_SIZE = 10_000  # records waiting for the writer; beyond it a record is dropped and counted
BACKOFF_FIRST, BACKOFF_MAX = 0.05, 5.0  # seconds between attempts: doubling from the first to the max
PRUNE_CHUNK = 10_000  # rows deleted per transaction: a long prune never holds the store's write lock long

# The method column holds one of these; anything else a client invents is stored as OTHER_METHOD.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "CLI"})
OTHER_METHOD = "OTHER"
# Text columns with a length, and the length: a value is cut to it when written.
_LENGTHS = {c.name: c.type.length for c in AUDIT_TABLE.columns if isinstance(c.type, String) and c.type.length}
_TEXTS = tuple(c.name for c in AUDIT_TABLE.columns if isinstance(c.type, String))


@dataclass(frozen=True)
class AuditRecord:
    """One answered request: who asked what, when, and which model answered."""

    # The one audit type: the middleware (serving.observe) and the CLI write it, GET /v1/audit returns it.

    at: Annotated[datetime, Field(description="when the answer was given (UTC)")]
    key_id: Annotated[str | None, Field(description="the API key's id (`cli` for the command line), never the key")]
    method: Annotated[str, Field(description="the HTTP method (`OTHER` for one outside the standard set), "
                                             "`CLI` for the command line")]
    route: Annotated[str, Field(description="the route template, e.g. /v1/employees/{nip}/gaps")]
    nip: str | None
    nips_count: Annotated[int | None, Field(description="how many NIPs a batch or a plan was about")]
    model_version: str | None
    status: int
    latency_ms: float
    inputs: Annotated[str | None, Field(description="compact JSON of the request's options (plans); NIPs as "
                                                    "counts")] = None

    def row(self) -> dict[str, Any]:
        """The record as a row of `audit_log`, fitted to its columns (see `fit_row`)."""
        # Field by field, not dataclasses.asdict: that deep-copies every value (~10 calls per record).
        return fit_row({f.name: getattr(self, f.name) for f in fields(self)})


_FIELDS = tuple(f.name for f in fields(AuditRecord))


def fit_text(value: object, length: int | None) -> str:
    """`value` as text a store accepts: no NUL (PostgreSQL refuses it), valid UTF-8, at most `length`
    characters (a VARCHAR(n) on PostgreSQL refuses longer values; SQLite would keep them)."""
    text_value = value if isinstance(value, str) else str(value)
    if not text_value.isascii():
        text_value = text_value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become "?"
    if "\x00" in text_value:
        text_value = text_value.replace("\x00", "")
    return text_value[:length] if length else text_value


def fit_method(method: object) -> str:
    """The method as recorded: a standard one, or OTHER (a client may send any token of any length)."""
    name = str(method).upper()
    return name if name in METHODS else OTHER_METHOD


def fit_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row whose values fit `audit_log`'s columns; the time in UTC, stored naive."""
    fitted = dict(row)
    for name in _TEXTS:
        if fitted.get(name) is not None:
            fitted[name] = fit_text(fitted[name], _LENGTHS.get(name))
    fitted["method"] = fit_method(row.get("method", ""))
    at = fitted["at"]
    fitted["at"] = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    latency = fitted.get("latency_ms")
    if not isinstance(latency, int | float) or not math.isfinite(latency):
        fitted["latency_ms"] = -1.0  # not measured; the column is NOT NULL
    return fitted


def is_transient(error: BaseException) -> bool:
    """Whether the store was busy or unreachable (worth another try later), as opposed to refusing the
    rows themselves. SQLite's "database is locked" and PostgreSQL's "connection refused" or a dropped
    connection are OperationalErrors; a value that does not fit is a DataError or an IntegrityError."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, exc.OperationalError | exc.InterfaceError | exc.DisconnectionError
                      | exc.TimeoutError)


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


Counter = Callable[[int], None]


class AuditLog:
    """Queue + writer thread in front of the `audit_log` table; `read` serves GET /v1/audit.

    Counts: `written` (rows in the store), `dropped` (refused because the queue was full), `failed` (not
    written: refused by the store one by one, or the store stayed unavailable), `retries` (attempts
    repeated while the store was busy or down). `on_drop`, `on_fail` and `on_retry` report them as they
    happen (the server's metrics)."""

    def __init__(self, engine_factory: Callable[[], Engine], *, max_queue: int = QUEUE_SIZE,
                 on_drop: Counter | None = None, on_fail: Counter | None = None, on_retry: Counter | None = None,
                 linger_seconds: float = LINGER_SECONDS, retry_seconds: float = RETRY_SECONDS) -> None:
        self._engine_factory = engine_factory
        self._linger = linger_seconds
        self._retry_seconds = retry_seconds
        self._wake = threading.Event()  # set by flush() and close(): stop lingering, write now
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._queue: queue.Queue[AuditRecord | _Flush | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._give_up_at = math.inf  # set by close(): retries end there (monotonic clock)
        self._on_drop = on_drop
        self._on_fail = on_fail
        self._on_retry = on_retry
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.retries = 0

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
                self._give_up_at = math.inf  # a previous close() no longer limits the retries
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    @property
    def queued(self) -> int:
        """Records (and flush markers) waiting for the writer."""
        return self._queue.qsize()

    def record(self, record: AuditRecord) -> None:
        """Queue a record without blocking; when the queue is full the record is dropped and counted."""
        self.start()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._count_drop(1)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written (or counted as failed); False on timeout."""
        self.start()
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop the writer thread: the shutdown's flush. A store that stays busy is
        retried until `timeout`; what is still unwritten then is counted as failed and logged."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        started = time.monotonic()
        # The writer gives up slightly before we stop waiting for it, so that it counts what it gave up.
        self._give_up_at = started + timeout * 0.8
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._wake.set()
        thread.join(max(0.0, timeout - (time.monotonic() - started)))
        if thread.is_alive():  # stuck in one long attempt (SQLite waits up to its busy timeout)
            left = self._take_queued()
            log.warning("audit: the writer did not finish within %.0f s; %d queued record(s) not written",
                        timeout, left)
            self._count_fail(left)

    def _take_queued(self) -> int:
        """Empty the queue (the writer will not write what close() counts); how many records it held."""
        records = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return records
            if isinstance(item, AuditRecord):
                records += 1
            elif isinstance(item, _Flush):
                item.done.set()

    def _count_drop(self, count: int) -> None:
        self.dropped += count
        if self._on_drop is not None:
            self._on_drop(count)

    def _count_fail(self, count: int) -> None:
        if count:
            self.failed += count
            if self._on_fail is not None:
                self._on_fail(count)

    def _count_retry(self) -> None:
        self.retries += 1
        if self._on_retry is not None:
            self._on_retry(1)

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
        """Write a batch; on a refusal of its content, each record alone (one bad record drops no other)."""
        rows = self._rows(records)
        if not rows:
            return
        deadline = time.monotonic() + self._retry_seconds
        error = self._insert(rows, deadline)
        if error is None:
            self.written += len(rows)
            return
        if is_transient(error):
            # Never the exception's text: it may quote the rows (a NIP).
            log.warning("audit: the store stayed unavailable for %.0f s; %d record(s) not written (%s)",
                        self._retry_seconds, len(rows), type(error).__name__)
            self._count_fail(len(rows))
            return
        log.warning("audit: the store refused a batch of %d (%s); writing its records one by one",
                    len(rows), type(error).__name__)
        for row in rows:
            error = self._insert([row], deadline)
            if error is None:
                self.written += 1
            else:
                log.warning("audit: a record was not written (%s)", type(error).__name__)
                self._count_fail(1)

    def _rows(self, records: list[AuditRecord]) -> list[dict[str, Any]]:
        """The records as fitted rows; one that cannot be made a row at all is counted, not written."""
        rows = []
        for record in records:
            try:
                rows.append(record.row())
            except Exception as error:  # noqa: BLE001 - e.g. a time that is not a datetime; never the writer
                log.warning("audit: a record could not be made a row (%s)", type(error).__name__)
                self._count_fail(1)
        return rows

    def _insert(self, rows: Sequence[dict[str, Any]], deadline: float) -> BaseException | None:
        """INSERT `rows` in one transaction, retrying with backoff while the store is busy or unreachable
        (until `deadline` or close()'s limit); the last error, or None when written."""
        delay = BACKOFF_FIRST
        while True:
            try:
                with self.engine().begin() as conn:
                    conn.execute(insert(AUDIT_TABLE), list(rows))
                return None
            except Exception as error:  # noqa: BLE001 - a broken store must not take the writer thread down
                left = min(deadline, self._give_up_at) - time.monotonic()
                if not is_transient(error) or left <= 0:
                    return error
                self._count_retry()
                time.sleep(min(delay, left))
                delay = min(delay * 2, BACKOFF_MAX)

    # -- reading and pruning ---------------------------------------------------------------------
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

    def prune(self, before: datetime, chunk: int = PRUNE_CHUNK) -> int:
        """Delete the records older than `before` (UTC); returns how many. In chunks of `chunk` rows, one
        transaction each, so that the server's writer is never locked out for the whole prune."""
        before_utc = before.astimezone(UTC).replace(tzinfo=None) if before.tzinfo else before
        oldest = (select(AUDIT_TABLE.c.id).where(AUDIT_TABLE.c.at < before_utc)
                  .order_by(AUDIT_TABLE.c.id).limit(chunk))
        deleted = 0
        while True:
            with self.engine().begin() as conn:
                count = conn.execute(delete(AUDIT_TABLE).where(AUDIT_TABLE.c.id.in_(oldest))).rowcount
            deleted += count
            if count < chunk:
                return deleted
