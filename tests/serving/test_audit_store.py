"""The audit writer against real stores, SQLite and PostgreSQL 15 (issue 14, point 3): values fitted to their
columns, one bad record never drops another, retries while the store is locked or down, the shutdown's
flush, and retention (`kompetensi audit prune`)."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from features.settings import get_settings
from serving.audit import AUDIT_TABLE, OTHER_METHOD, AuditLog
from tests.conftest_pg import postgres_database
from tests.serving.conftest import wait_for
from tests.serving.test_audit import T0, _record  # one way to make a record in the audit tests

PG_AUDIT_DATABASE = "kompetensi_audit_test"  # this module's own: other modules drop and recreate theirs
STORES = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))
REFUSED_NIP = "refused-by-the-store"


def _rows(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(AUDIT_TABLE).order_by(AUDIT_TABLE.c.id)).mappings()]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_database(PG_AUDIT_DATABASE) as url:
        yield url


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store (no audit table) on SQLite, or on the module's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url: str = request.getfixturevalue("pg_url")
    _empty_postgres(url)
    yield url


def _empty_postgres(url: str) -> None:
    """No audit table and no trigger left by an earlier test of the module (they share one database)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS audit_log")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_record() CASCADE")
    engine.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(store_url)
    yield engine
    engine.dispose()


def _refuse_one_nip(engine: sa.Engine) -> None:
    """A trigger that makes the store itself refuse one record, as a constraint or a bad value would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(f"CREATE TRIGGER refuse_record BEFORE INSERT ON audit_log WHEN NEW.nip = "
                                 f"'{REFUSED_NIP}' BEGIN SELECT RAISE(ABORT, 'refused'); END")
        else:
            conn.exec_driver_sql(f"CREATE FUNCTION refuse_record() RETURNS trigger AS $$ BEGIN IF NEW.nip = "
                                 f"'{REFUSED_NIP}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ "
                                 "LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER refuse_record BEFORE INSERT ON audit_log FOR EACH ROW "
                                 "EXECUTE FUNCTION refuse_record()")


# ---------------------------------------------------------------------------------------------------------
# Values fitted to their columns; one bad record drops no other
# ---------------------------------------------------------------------------------------------------------
def test_an_invented_8_kb_method_drops_no_record_of_its_batch(store: sa.Engine) -> None:
    """The PostgreSQL finding: `method` is VARCHAR(8) and one 8 KB method failed the INSERT of its whole
    batch. Now the odd values are fitted (method OTHER, strings cut, NUL removed) and every record is stored."""
    audit = AuditLog(lambda: store, linger_seconds=30.0)  # one batch: nothing is written before the flush
    normal = [_record(i) for i in range(20)]
    odd = _record(20, method="X" * 8192, route="/v1/" + "r" * 500, nip="1985\x0003122010031001" + "9" * 40,
                  key_id="k" * 100, model_version="v\udc80" * 100)
    for record in [*normal[:10], odd, *normal[10:]]:
        audit.record(record)
    assert audit.flush(timeout=20)
    audit.close()

    stored = audit.read(T0, limit=100)
    assert [r for r in stored if r.at != odd.at] == normal  # every normal record, exactly as it was
    assert (audit.written, audit.failed, audit.dropped) == (21, 0, 0)
    fitted = next(r for r in stored if r.at == odd.at)
    assert fitted.method == OTHER_METHOD
    assert len(fitted.route) == 128 and fitted.route.startswith("/v1/rrr")
    assert fitted.nip == ("198503122010031001" + "9" * 40)[:32]  # NUL removed (PostgreSQL refuses it)
    assert len(fitted.key_id or "") == 32 and len(fitted.model_version or "") == 128
    assert "\udc80" not in (fitted.model_version or "")


def test_a_record_the_store_refuses_is_counted_and_the_rest_of_its_batch_is_stored(store: sa.Engine) -> None:
    audit = AuditLog(lambda: store, linger_seconds=30.0)
    audit.engine()  # the table, so that the store can be told to refuse one record
    _refuse_one_nip(store)
    records = [_record(i) for i in range(12)]
    records[5] = replace(records[5], nip=REFUSED_NIP)
    for record in records:
        audit.record(record)
    assert audit.flush(timeout=20)
    audit.close()

    assert audit.read(T0, limit=100) == [r for r in records if r.nip != REFUSED_NIP]
    assert (audit.written, audit.failed, audit.dropped) == (11, 1, 0)


# ---------------------------------------------------------------------------------------------------------
# A busy or unreachable store: retried with backoff, nothing lost
# ---------------------------------------------------------------------------------------------------------
ATTEMPT_TIMEOUT = 0.2  # SQLite's busy timeout per attempt in these tests; the server's store waits 30 s


def _sqlite_engine(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": ATTEMPT_TIMEOUT})


@contextmanager
def _locked_sqlite(path: Path) -> Iterator[threading.Event]:
    """Another connection holds an exclusive lock on the database until the yielded event is set."""
    release, taken = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        conn.execute("BEGIN EXCLUSIVE")
        taken.set()
        release.wait(60)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert taken.wait(10)
    try:
        yield release
    finally:
        release.set()
        holder.join(10)


def test_a_store_locked_far_longer_than_one_attempt_loses_nothing(tmp_path: Path) -> None:
    """The SQLite finding: records were lost when the store stayed locked longer than the busy timeout
    (30 s in the server). Here each attempt waits 0.2 s and the lock lasts 2 s, ten attempts' worth."""
    path = tmp_path / "store.db"
    engine = _sqlite_engine(path)
    audit = AuditLog(lambda: engine, linger_seconds=0.0)
    audit.engine()
    with _locked_sqlite(path) as release:
        for i in range(30):
            audit.record(_record(i))
        time.sleep(2.0)
        assert audit.written == 0
        release.set()
        assert audit.flush(timeout=20)
    audit.close()
    assert audit.read(T0, limit=100) == [_record(i) for i in range(30)]
    assert (audit.written, audit.failed, audit.dropped) == (30, 0, 0)
    assert audit.retries >= 3


def test_a_store_locked_for_the_whole_retry_window_counts_what_it_could_not_write(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = _sqlite_engine(path)
    failed: list[int] = []
    audit = AuditLog(lambda: engine, linger_seconds=0.0, retry_seconds=0.5, on_fail=failed.append)
    audit.engine()
    with _locked_sqlite(path):
        for i in range(5):
            audit.record(_record(i))
        assert wait_for(lambda: audit.failed == 5), "timed out"
    assert sum(failed) == 5 and audit.dropped == 0
    audit.record(_record(9))  # the writer goes on once the store is back
    assert audit.flush(timeout=20)
    audit.close()
    assert audit.written == 1 and [r.nip for r in audit.read(T0, limit=10)] == [f"{9:018d}"]


def test_while_the_store_is_locked_the_buffer_stays_bounded_and_its_overflow_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = _sqlite_engine(path)
    dropped: list[int] = []
    audit = AuditLog(lambda: engine, linger_seconds=0.0, max_queue=5, on_drop=dropped.append)
    audit.engine()
    with _locked_sqlite(path) as release:
        audit.record(_record(0))
        assert wait_for(lambda: audit.retries >= 1), "timed out"  # the writer holds record 0 and retries it
        started = time.perf_counter()
        for i in range(1, 20):
            audit.record(_record(i))
        assert time.perf_counter() - started < 1.0  # requests never wait for the store
        assert audit.queued == 5 and audit.dropped == sum(dropped) == 14
        release.set()
        assert audit.flush(timeout=20)
    audit.close()
    assert [r.nip for r in audit.read(T0, limit=100)] == [f"{i:018d}" for i in range(6)]
    assert (audit.written, audit.failed) == (6, 0)


def test_close_writes_what_is_queued_while_the_store_is_locked(tmp_path: Path) -> None:
    """The server's shutdown (lifespan → close) flushes: a store that is busy at that moment is retried
    until close's timeout instead of losing the last records."""
    path = tmp_path / "store.db"
    engine = _sqlite_engine(path)
    audit = AuditLog(lambda: engine, linger_seconds=30.0)
    audit.engine()
    with _locked_sqlite(path) as release:
        for i in range(10):
            audit.record(_record(i))
        threading.Timer(1.0, release.set).start()
        audit.close(timeout=15)
    assert len(_rows(engine)) == 10
    assert (audit.written, audit.failed, audit.dropped) == (10, 0, 0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _tcp_forwarder(port: int, target_port: int) -> Iterator[None]:
    """Listen on `port` and pass each connection on to `target_port`: PostgreSQL "comes back" on `port`
    (before this starts, a connection there is refused) without stopping the shared test cluster."""
    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(0.1)
    stop = threading.Event()
    sockets: list[socket.socket] = [server]

    def pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", target_port))
            sockets.extend((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(source, target), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield
    finally:
        stop.set()
        acceptor.join(5)
        for sock in sockets:
            sock.close()


@pytest.mark.postgres
def test_postgres_refusing_connections_for_a_while_loses_nothing(pg_url: str) -> None:
    _empty_postgres(pg_url)
    url = sa.make_url(pg_url)
    port = _free_port()
    engine = sa.create_engine(url.set(port=port), pool_pre_ping=True)
    audit = AuditLog(lambda: engine, linger_seconds=0.0)
    try:
        for i in range(25):
            audit.record(_record(i))
        time.sleep(1.0)  # "connection refused", tried again and again
        assert audit.written == 0
        with _tcp_forwarder(port, url.port or 5432):
            assert audit.flush(timeout=30)
            assert audit.read(T0, limit=100) == [_record(i) for i in range(25)]
            assert (audit.written, audit.failed, audit.dropped) == (25, 0, 0)
            assert audit.retries >= 3
            audit.close()
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------------------
# Retention: `kompetensi audit prune --older-than DAYS`
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The `kompetensi` command configured for `store_url` (Settings are read once per process: reset)."""
    monkeypatch.setenv("KOMPETENSI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KOMPETENSI_DB_URL", store_url)
    get_settings.cache_clear()
    yield store_url
    get_settings.cache_clear()


def _kompetensi(*args: str) -> tuple[int, str, str]:
    from kompetensi.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_prune_deletes_only_records_older_than_the_limit_and_is_audited(cli_env: str, store: sa.Engine) -> None:
    now = datetime.now(UTC)
    audit = AuditLog(lambda: store, linger_seconds=0.0)
    ages = [400, 91, 89, 30, 1, 0]  # days
    for i, age in enumerate(ages):
        audit.record(_record(i, at=now - timedelta(days=age, minutes=1)))
    assert audit.flush(timeout=20)
    audit.close()

    code, _, err = _kompetensi("audit", "prune", "--older-than", "90")

    assert code == 0, err
    assert "deleted 2 audit record(s)" in err
    rows = _rows(store)
    kept = sorted(round((now - row["at"].replace(tzinfo=UTC)).total_seconds() / 86400)  # type: ignore[union-attr]
                  for row in rows if row["route"] != "kompetensi audit prune")
    assert kept == [0, 1, 30, 89]
    prune = [row for row in rows if row["route"] == "kompetensi audit prune"]
    assert len(prune) == 1 and prune[0]["method"] == "CLI" and prune[0]["key_id"] == "cli"
    assert prune[0]["inputs"] == '{"older_than_days":90,"deleted":2}'


def test_prune_works_in_chunks(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    audit = AuditLog(lambda: engine, linger_seconds=0.0)
    for i in range(25):
        audit.record(_record(i))
    assert audit.flush(timeout=20)
    assert audit.prune(T0 + timedelta(seconds=20), chunk=3) == 20
    assert [r.nip for r in audit.read(T0, limit=100)] == [f"{i:018d}" for i in range(20, 25)]
    audit.close()


def test_prune_says_in_one_line_why_it_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()  # nothing listens there
    monkeypatch.setenv("KOMPETENSI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KOMPETENSI_DB_URL", f"postgresql+psycopg://auditor:s3cret-pw@127.0.0.1:{port}/nowhere")
    get_settings.cache_clear()
    try:
        code, out, err = _kompetensi("audit", "prune", "--older-than", "30")
        assert code == 1 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot prune the audit trail in ")
        assert "refused" in lines[0] and "s3cret-pw" not in err
        code, _, err = _kompetensi("audit", "prune", "--older-than", "0")
        assert code == 2 and "--older-than" in err
    finally:
        get_settings.cache_clear()
