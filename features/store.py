"""The store: validated exports kept as snapshots in SQL (SQLite by default, PostgreSQL by URL).

Schema (SQLAlchemy Core, created by `init_store` or by the first ingest, never at import):
- `snapshots`: snapshot_id, content_sha256, contract_version, exported_on, organisation, loaded_at
  (UTC), is_current (at most one row true: a partial unique index), row_counts and warnings (JSON);
- one table per contract table, named like it (`units`, `employees`, …), with the contract's columns
  (protected ones included: the fairness audit reads them) plus `snapshot_id` and `row_no`, the row's
  position in the export (primary key together; rows come back in export order).

Consistency: `write_snapshot` inserts every row under a new snapshot id, marks it current and un-marks
the old one in ONE transaction; `load_snapshot` reads the current id and its rows in one read
transaction (SQLite: an explicit BEGIN, because Python's sqlite3 would otherwise run each SELECT on
its own; PostgreSQL: REPEATABLE READ), so a reader never sees a half-loaded snapshot. SQLite keeps its
default rollback journal (not WAL): a failed load leaves the file byte-for-byte as it was.

Retention: the last `keep` snapshots (default 3: the current one and two before it, enough to compare
or audit the previous load) are kept; older ones are deleted in the same transaction, so the store
does not grow by a full export at every ingest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from features.constants import PROTECTED_COLUMNS, TABLES, Table
from features.export import PANDAS_DTYPES, Export, empty_table
from features.settings import get_settings
from features.values import finite

Progress = Callable[[str], None]
DEFAULT_KEEP_SNAPSHOTS = 3
_INSERT_CHUNK = 20_000  # rows per executemany: bounded memory, and progress for big tables

_SQL_TYPES: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "str": sa.Text, "enum": sa.Text, "enum_list": sa.Text, "int": sa.BigInteger, "decimal": sa.Double,
    "date": sa.Date, "bool": sa.Boolean,
}

METADATA = sa.MetaData()
SNAPSHOTS = sa.Table(
    "snapshots",
    METADATA,
    sa.Column("snapshot_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("content_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("contract_version", sa.Integer, nullable=False),
    sa.Column("exported_on", sa.Date, nullable=False),
    sa.Column("organisation", sa.Text, nullable=False),
    sa.Column("loaded_at", sa.DateTime, nullable=False),  # naive UTC: SQLite keeps no time zone
    sa.Column("is_current", sa.Boolean, nullable=False, default=False),
    sa.Column("row_counts", sa.JSON, nullable=False),
    sa.Column("warnings", sa.JSON, nullable=False),
    sqlite_autoincrement=True,  # never reuse the id of a pruned snapshot
)
sa.Index(
    "ix_snapshots_one_current", SNAPSHOTS.c.is_current, unique=True,
    sqlite_where=SNAPSHOTS.c.is_current == sa.true(), postgresql_where=SNAPSHOTS.c.is_current == sa.true(),
)


def _data_table(table: Table) -> sa.Table:
    columns = [
        sa.Column(c.name, _SQL_TYPES[c.type](), nullable=c.nullable or not c.required) for c in table.columns
    ]
    return sa.Table(
        table.name,
        METADATA,
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.snapshot_id"), primary_key=True),
        sa.Column("row_no", sa.Integer, primary_key=True, autoincrement=False),
        *columns,
    )


DATA_TABLES: dict[str, sa.Table] = {table.name: _data_table(table) for table in TABLES}


class NoSnapshot(LookupError):
    """The store holds no current snapshot yet."""

    def __init__(self) -> None:
        super().__init__("the store holds no snapshot: run `kompetensi ingest DIR` first")


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: int
    content_sha256: str
    exported_on: date
    organisation: str
    loaded_at: datetime  # UTC
    row_counts: dict[str, int]
    contract_version: int = 1
    is_current: bool = True
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------------------
def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: Settings.store_url), one per URL; a SQLite file's folder is created."""
    return _engine_for(url or get_settings().store_url)


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_for(url: str) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = _create_engine(url)
        return engine


def _create_engine(url: str) -> Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30})
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def dispose_engines() -> None:
    """Close and forget every cached engine (tests, and before a process forks)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's begin event emit BEGIN itself (sqlite3 would delay it to the first write, so a
    # read "transaction" would not be one) — the SQLAlchemy recipe for serializable SQLite.
    dbapi_connection.isolation_level = None


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _is_sqlite(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "sqlite"


def init_store(engine: Engine | None = None) -> None:
    """Create the store's tables if they are missing."""
    engine = engine or get_engine()
    with engine.begin() as conn:
        METADATA.create_all(conn)


# ---------------------------------------------------------------------------------------------------------
# Content hash
# ---------------------------------------------------------------------------------------------------------
def content_sha256(export: Export) -> str:
    """The sha256 of an export's content: export.json fields and every table's typed rows, in order.

    The same data gives the same hash whether it came as CSV or Parquet, or with other whitespace.
    """
    digest = hashlib.sha256()
    meta = {"contract_version": export.contract_version, "exported_on": export.exported_on.isoformat(),
            "organisation": export.organisation}
    digest.update(json.dumps(meta, sort_keys=True).encode())
    for table in TABLES:
        frame = export.tables.get(table.name, empty_table(table))
        frame = frame.reindex(columns=list(table.column_names))
        digest.update(f"\n#{table.name}\n".encode())
        digest.update(frame.to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\n").encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------
def _python_values(series: pd.Series, kind: str) -> list[Any]:
    """A column as plain Python values for the DB driver (None for missing)."""
    missing = series.isna().to_numpy()
    if kind == "date":
        values = series.dt.date.astype(object).to_numpy()
    elif kind == "int":
        values = series.astype(object).to_numpy()
        return [None if m else int(v) for v, m in zip(values, missing, strict=True)]
    elif kind == "decimal":
        return [finite(v) for v in series.astype("float64").tolist()]
    elif kind == "bool":
        return [bool(v) for v in series.tolist()]
    else:
        values = series.astype(object).to_numpy()
    return [None if m else v for v, m in zip(values, missing, strict=True)]


def _insert_table(conn: Connection, table: Table, frame: pd.DataFrame, snapshot_id: int) -> int:
    """Insert one table's rows under `snapshot_id` (bulk executemany); returns the row count."""
    names = list(table.column_names)
    columns = [_python_values(frame[c.name], c.type) for c in table.columns]
    target = DATA_TABLES[table.name].insert()
    n = len(frame)
    for start in range(0, n, _INSERT_CHUNK):
        stop = min(start + _INSERT_CHUNK, n)
        rows = [
            {"snapshot_id": snapshot_id, "row_no": start + i, **dict(zip(names, values, strict=True))}
            for i, values in enumerate(zip(*(col[start:stop] for col in columns), strict=True))
        ]
        conn.execute(target, rows)
    return n


def write_snapshot(engine: Engine, export: Export, sha256: str | None = None, *,
                   keep: int = DEFAULT_KEEP_SNAPSHOTS, progress: Progress | None = None
                   ) -> tuple[SnapshotInfo, bool]:
    """Load a validated export as the new current snapshot, atomically; returns (info, unchanged).

    When the current snapshot has the same content hash nothing is written and `unchanged` is True.
    """
    say = progress or (lambda message: None)
    sha256 = sha256 or content_sha256(export)
    keep = max(1, keep)
    with engine.connect() as conn:
        if _is_sqlite(conn):
            # IMMEDIATE takes the write lock up front: two ingests queue instead of failing mid-way.
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            METADATA.create_all(conn)  # in the transaction: a failed first load leaves no tables
            if conn.dialect.name == "postgresql":
                # serialise writers (readers are not blocked): one current snapshot, ids in load order
                conn.execute(sa.text("LOCK TABLE snapshots IN SHARE ROW EXCLUSIVE MODE"))
            current = _current_info(conn)
            if current is not None and current.content_sha256 == sha256:
                return current, True
            counts = {table.name: len(export.tables.get(table.name, ())) for table in TABLES}
            loaded_at = datetime.now(UTC).replace(tzinfo=None)
            snapshot_id = conn.execute(SNAPSHOTS.insert().values(
                content_sha256=sha256, contract_version=export.contract_version,
                exported_on=export.exported_on, organisation=export.organisation, loaded_at=loaded_at,
                is_current=False, row_counts=counts, warnings=list(export.warnings),
            ).returning(SNAPSHOTS.c.snapshot_id)).scalar_one()
            for table in TABLES:
                frame = export.tables.get(table.name)
                if frame is None or frame.empty:
                    continue
                say(f"loading {table.name} ({len(frame):,} rows)")
                _insert_table(conn, table, frame, snapshot_id)
            conn.execute(SNAPSHOTS.update().where(SNAPSHOTS.c.is_current == sa.true()).values(is_current=False))
            conn.execute(SNAPSHOTS.update().where(SNAPSHOTS.c.snapshot_id == snapshot_id).values(is_current=True))
            _prune(conn, keep)
            info = _current_info(conn)
    assert info is not None and info.snapshot_id == snapshot_id
    return info, False


def _prune(conn: Connection, keep: int) -> None:
    """Delete all but the newest `keep` snapshots (data rows first: they reference the snapshot)."""
    old = sa.select(SNAPSHOTS.c.snapshot_id).order_by(SNAPSHOTS.c.snapshot_id.desc()).offset(keep)
    old_ids = [row[0] for row in conn.execute(old)]
    if not old_ids:
        return
    for data_table in DATA_TABLES.values():
        conn.execute(data_table.delete().where(data_table.c.snapshot_id.in_(old_ids)))
    conn.execute(SNAPSHOTS.delete().where(SNAPSHOTS.c.snapshot_id.in_(old_ids)))


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------
def _info_from_row(row: Any) -> SnapshotInfo:
    loaded_at = row.loaded_at if row.loaded_at.tzinfo else row.loaded_at.replace(tzinfo=UTC)
    return SnapshotInfo(
        snapshot_id=int(row.snapshot_id), content_sha256=row.content_sha256, exported_on=row.exported_on,
        organisation=row.organisation, loaded_at=loaded_at, row_counts=dict(row.row_counts),
        contract_version=int(row.contract_version), is_current=bool(row.is_current),
        warnings=list(row.warnings or []),
    )


def _current_info(conn: Connection) -> SnapshotInfo | None:
    if not sa.inspect(conn).has_table(SNAPSHOTS.name):
        return None
    row = conn.execute(sa.select(SNAPSHOTS).where(SNAPSHOTS.c.is_current == sa.true())).first()
    return None if row is None else _info_from_row(row)


def _read_transaction(engine: Engine) -> Connection:
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")  # one snapshot for all the SELECTs
    return conn


def current_snapshot_info(engine: Engine | None = None) -> SnapshotInfo | None:
    """The current snapshot's id, content hash, export date, load time and row counts; None if empty."""
    engine = engine or get_engine()
    with _read_transaction(engine) as conn, conn.begin():
        return _current_info(conn)


def snapshot_history(engine: Engine | None = None) -> list[SnapshotInfo]:
    """Every snapshot kept in the store, newest first."""
    engine = engine or get_engine()
    with _read_transaction(engine) as conn, conn.begin():
        if not sa.inspect(conn).has_table(SNAPSHOTS.name):
            return []
        rows = conn.execute(sa.select(SNAPSHOTS).order_by(SNAPSHOTS.c.snapshot_id.desc())).all()
    return [_info_from_row(row) for row in rows]


def _typed_series(values: tuple[Any, ...] | list[Any], kind: str) -> pd.Series:
    dtype = PANDAS_DTYPES[kind]
    if kind == "date":
        return pd.to_datetime(pd.Series(values, dtype=object)).astype(dtype)
    if kind == "str" or kind in ("enum", "enum_list"):
        return pd.Series(values, dtype=object).astype(dtype)
    return pd.Series(values, dtype=dtype)


def _read_table(conn: Connection, table: Table, snapshot_id: int, include_protected: bool) -> pd.DataFrame:
    columns = [c for c in table.columns if include_protected or c.name not in PROTECTED_COLUMNS]
    data_table = DATA_TABLES[table.name]
    query = (sa.select(*(data_table.c[c.name] for c in columns))
             .where(data_table.c.snapshot_id == snapshot_id).order_by(data_table.c.row_no))
    rows = conn.execute(query).all()
    if not rows:
        return empty_table(table)[[c.name for c in columns]]
    values = list(zip(*rows, strict=True))
    return pd.DataFrame({c.name: _typed_series(v, c.type) for c, v in zip(columns, values, strict=True)})


def load_snapshot(engine: Engine | None = None, include_protected: bool = False) -> Export:
    """The current snapshot as a typed Export; protected columns only with include_protected=True.

    `Export.snapshot_id` is the snapshot's content hash (what a model was trained on). Raises
    NoSnapshot when nothing was ingested yet.
    """
    engine = engine or get_engine()
    with _read_transaction(engine) as conn, conn.begin():
        info = _current_info(conn)
        if info is None:
            raise NoSnapshot()
        tables = {t.name: _read_table(conn, t, info.snapshot_id, include_protected) for t in TABLES}
    return Export(tables, info.exported_on, info.organisation, info.contract_version, info.content_sha256,
                  list(info.warnings))
