"""What the HTTP layer does under concurrent requests: model calls go through the model limiter one at a
time (or `model_concurrency` at a time), light routes do not wait behind them, every answer still names
its model version and is audited; the audit writer batches; small API answers are not gzipped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serving.audit import AuditLog, AuditRecord
from serving.main import create_app
from serving.runtime import default_sources
from tests.serving.conftest import ServingWorld


class CountingPredictor:
    """The world's predictor, counting the model calls that run at once; `gate` can hold them."""

    def __init__(self, real: Any, hold_seconds: float) -> None:
        self._real = real
        self._hold = hold_seconds
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        self.entered.set()
        try:
            assert self.gate.wait(20), "the test never opened the gate"
            time.sleep(self._hold)  # long enough that unlimited calls would overlap
            return method(*args, **kwargs)
        finally:
            with self._lock:
                self.active -= 1

    def gaps(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self._real.gaps, *args, **kwargs)

    def recommend(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self._real.recommend, *args, **kwargs)


def _app(world: ServingWorld, model_concurrency: int, hold_seconds: float = 0.05) -> tuple[Any, list[Any]]:
    sources = default_sources(world.settings())
    load_champion = sources.load_champion
    made: list[CountingPredictor] = []

    def counting_champion(models_dir: Path) -> Any:
        loaded = load_champion(models_dir)
        made.append(CountingPredictor(loaded.bundle, hold_seconds))
        return replace(loaded, bundle=made[-1])

    sources.load_champion = counting_champion
    app = create_app(world.settings(), poll_seconds=None, sources=sources, model_concurrency=model_concurrency)
    return app, made


@pytest.fixture
def one_at_a_time(world: ServingWorld) -> Iterator[tuple[TestClient, CountingPredictor]]:
    app, made = _app(world, model_concurrency=1)
    with TestClient(app) as client:
        yield client, made[0]


def _paths(world: ServingWorld) -> list[str]:
    nips = [world.nip, *world.other_nips[:2]]
    return [f"/v1/employees/{nip}/{kind}" for nip in nips for kind in ("gaps", "recommendations")]


def test_model_calls_run_one_at_a_time_and_all_are_answered_and_audited(
        one_at_a_time: tuple[TestClient, CountingPredictor], world: ServingWorld) -> None:
    client, predictor = one_at_a_time
    since = datetime.now(UTC).isoformat()
    paths = _paths(world)
    with ThreadPoolExecutor(len(paths)) as pool:
        responses = list(pool.map(lambda p: client.get(p, headers=world.auth("reader")), paths))
    assert [r.status_code for r in responses] == [200] * len(paths)
    assert {r.json()["model_version"] for r in responses} == {"2"}
    assert predictor.peak == 1  # six requests at once, never two model calls at once
    audit = client.get("/v1/audit", params={"since": since}, headers=world.auth("admin")).json()["items"]
    audited = sorted((item["route"], item["nip"], item["model_version"], item["status"]) for item in audit)
    expected = sorted((f"/v1/employees/{{nip}}/{p.rsplit('/', 1)[1]}", p.split("/")[3], "2", 200) for p in paths)
    assert audited == expected
    metrics = client.get("/metrics").text
    assert 'route="/v1/employees/{nip}/gaps",status="200"} 3.0' in metrics


def test_the_limit_is_a_setting(world: ServingWorld) -> None:
    app, made = _app(world, model_concurrency=3, hold_seconds=0.3)
    with TestClient(app) as client, ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda p: client.get(p, headers=world.auth("reader")), _paths(world)))
    assert {r.status_code for r in responses} == {200}
    assert 2 <= made[0].peak <= 3


def test_light_routes_do_not_wait_behind_a_model_call(
        one_at_a_time: tuple[TestClient, CountingPredictor], world: ServingWorld) -> None:
    client, predictor = one_at_a_time
    predictor.gate.clear()  # the next model call blocks until the gate opens
    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(client.get, f"/v1/employees/{world.nip}/recommendations", headers=world.auth("reader"))
        queued = pool.submit(client.get, f"/v1/employees/{world.other_nips[0]}/gaps", headers=world.auth("reader"))
        assert predictor.entered.wait(20)
        started = time.perf_counter()
        profile = client.get(f"/v1/employees/{world.nip}", headers=world.auth("reader"))
        models = client.get("/v1/models", headers=world.auth("reader"))
        health = client.get("/healthz")
        light_seconds = time.perf_counter() - started
        assert not held.done() and not queued.done()  # still held and queued behind it
        predictor.gate.set()
        assert held.result(timeout=30).status_code == 200 and queued.result(timeout=30).status_code == 200
    assert (profile.status_code, models.status_code, health.status_code) == (200, 200, 200)
    assert profile.json()["model_version"] == "2"
    assert light_seconds < 10  # they answered while the model call was held (it waits up to 20 s)


def test_small_answers_are_not_gzipped_and_ui_files_are(client: TestClient, world: ServingWorld) -> None:
    gzip = {"Accept-Encoding": "gzip"}
    gaps = client.get(f"/v1/employees/{world.nip}/gaps", headers=world.auth("reader") | gzip)
    assert gaps.status_code == 200 and len(gaps.content) > 2048
    assert "content-encoding" not in gaps.headers
    plotly = client.get("/ui/vendor/plotly.min.js", headers=gzip)
    assert plotly.status_code == 200 and plotly.headers["content-encoding"] == "gzip"


def _record(i: int) -> AuditRecord:
    return AuditRecord(at=datetime(2026, 11, 28, 9, 0, i, tzinfo=UTC), key_id="key_1", method="GET",
                       route="/v1/employees/{nip}/gaps", nip=f"{i:018d}", nips_count=None, model_version="7",
                       status=200, latency_ms=1.5)


def _counting_engine(tmp_path: Path) -> tuple[sa.Engine, list[str]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_a: statements.append(statement.split()[0].upper()))
    return engine, statements


def test_the_audit_writer_batches_a_stream_of_requests(tmp_path: Path) -> None:
    engine, statements = _counting_engine(tmp_path)
    audit = AuditLog(lambda: engine, linger_seconds=0.5)
    audit.record(_record(0))
    time.sleep(0.05)  # the writer has the first record and lingers
    for i in range(1, 40):
        audit.record(_record(i))
    time.sleep(1.0)  # the linger is over: written without a flush
    assert audit.written == 40
    assert statements.count("INSERT") == 1  # forty requests, one INSERT
    audit.close()


def test_flush_and_close_do_not_wait_for_the_linger(tmp_path: Path) -> None:
    engine, _ = _counting_engine(tmp_path)
    audit = AuditLog(lambda: engine, linger_seconds=30.0)
    audit.record(_record(1))
    started = time.perf_counter()
    assert audit.flush(timeout=10)
    assert audit.written == 1
    audit.record(_record(2))
    audit.close(timeout=10)
    assert audit.written == 2
    assert time.perf_counter() - started < 5
