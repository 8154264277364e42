"""Backpressure: bounded lines in front of the model and the plan solver, a wait limit, and no work for a
client that has gone (serving.compute); uvicorn's own limits set from the settings (serving.main.serve).

The model calls are held with a gate on the world's real predictor (`Gated`), so the lines fill exactly
as they would under load, without timing guesses.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from serving.compute import MODEL_LINE, PLAN_LINE, line_for
from serving.main import create_app
from serving.runtime import default_sources
from tests.serving.conftest import ServingWorld
from tests.serving.server import running_server

PROBLEM = "application/problem+json"
GATED = ("gaps", "recommend", "candidates")  # per-employee model calls, and the planner's candidate pool


class Gated:
    """The world's predictor; `hold()` makes the next gated calls wait until `release()`; counts calls."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._open = threading.Event()
        self._open.set()
        self.entered = threading.Event()
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name not in GATED:
            return attribute

        def gated(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.entered.set()
            assert self._open.wait(30), "the test never released the gate"
            return attribute(*args, **kwargs)

        return gated

    def hold(self) -> None:
        self.entered.clear()
        self._open.clear()

    def release(self) -> None:
        self._open.set()


@dataclass
class Served:
    client: TestClient
    predictor: Gated
    world: ServingWorld

    def line(self, name: str) -> Any:
        return line_for(self.client.app, name)

    def wait_until(self, check: Callable[[], bool], seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, "timed out waiting for the line to fill"
            time.sleep(0.01)

    def gaps(self, nip: str | None = None) -> Any:
        return self.client.get(f"/v1/employees/{nip or self.world.nip}/gaps", headers=self.world.auth("reader"))


def _served(world: ServingWorld, **settings: Any) -> Iterator[Served]:
    sources = default_sources(world.settings())
    load_champion = sources.load_champion
    made: list[Gated] = []

    def gated_champion(models_dir: Path) -> Any:
        loaded = load_champion(models_dir)
        made.append(Gated(loaded.bundle))
        return replace(loaded, bundle=made[-1])

    sources.load_champion = gated_champion
    app = create_app(world.settings().model_copy(update=settings), poll_seconds=None, sources=sources,
                     model_concurrency=1)
    with TestClient(app) as client:
        yield Served(client, made[0], world)
        made[0].release()


@pytest.fixture
def short_line(world: ServingWorld) -> Iterator[Served]:
    yield from _served(world, model_queue=2, request_timeout_seconds=30.0)


def test_a_full_model_line_is_refused_at_once_with_503_and_retry_after(short_line: Served) -> None:
    served = short_line
    served.predictor.hold()
    with ThreadPoolExecutor(8) as pool:
        held = pool.submit(served.gaps)
        assert served.predictor.entered.wait(15)
        queued = [pool.submit(served.gaps, nip) for nip in served.world.other_nips[:2]]
        served.wait_until(lambda: served.line(MODEL_LINE).waiting == 2)
        started = time.perf_counter()
        extra = [pool.submit(served.gaps, nip) for nip in served.world.other_nips[2:5]]
        refused = [future.result(timeout=10) for future in extra]  # answered while the gate is still shut
        refused_seconds = time.perf_counter() - started
        served.predictor.release()
        answered = [future.result(timeout=30) for future in (held, *queued)]
    assert [r.status_code for r in answered] == [200, 200, 200]
    assert [r.status_code for r in refused] == [503, 503, 503]
    assert refused_seconds < 5
    for response in refused:
        assert response.headers["content-type"] == PROBLEM
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["type"].endswith(":overloaded")
    assert served.line(MODEL_LINE).shed == {"full": 3}
    metrics = served.client.get("/metrics").text
    assert 'kompetensi_requests_shed_total{line="model",reason="full"} 3.0' in metrics


def test_waiting_longer_than_the_request_timeout_is_answered_503(world: ServingWorld) -> None:
    for served in _served(world, model_queue=8, request_timeout_seconds=0.5):
        served.predictor.hold()
        with ThreadPoolExecutor(2) as pool:
            held = pool.submit(served.gaps)
            assert served.predictor.entered.wait(15)
            started = time.perf_counter()
            waited = pool.submit(served.gaps, served.world.other_nips[0]).result(timeout=10)
            seconds = time.perf_counter() - started
            served.predictor.release()
            assert held.result(timeout=30).status_code == 200
        assert waited.status_code == 503 and "retry-after" in waited.headers
        assert 0.4 < seconds < 5
        assert served.line(MODEL_LINE).shed == {"timeout": 1}
        assert served.predictor.calls["gaps"] >= 1


def _leaving_client_request(served: Served, path: str) -> dict[str, Any]:
    """Send `path` straight to the app, from a client that closes its connection right after the request:
    every `receive` after the request message says http.disconnect. Returns the status and body sent."""
    token = served.world.keys["reader"]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    messages: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: dict[str, Any] = {"status": None, "body": b""}

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    async def call() -> None:
        await served.client.app(scope, receive, send)

    assert served.client.portal is not None
    served.client.portal.call(call)
    return sent


def test_a_request_whose_client_left_while_waiting_is_not_computed(short_line: Served) -> None:
    served = short_line
    gone_nip = served.world.other_nips[0]
    served.predictor.hold()
    before = served.predictor.calls.get("gaps", 0)
    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(served.gaps)
        assert served.predictor.entered.wait(15)
        left: Future[dict[str, Any]] = pool.submit(_leaving_client_request, served,
                                                   f"/v1/employees/{gone_nip}/gaps")
        served.wait_until(lambda: served.line(MODEL_LINE).waiting == 1)
        served.predictor.release()
        assert held.result(timeout=30).status_code == 200
        answer = left.result(timeout=30)
    assert answer["status"] == 499  # nobody reads it; the audit and the metrics say what happened
    assert served.predictor.calls["gaps"] == before + 1  # only the request whose client stayed
    assert served.line(MODEL_LINE).shed == {"disconnected": 1}


def test_plans_have_their_own_bounded_line(world: ServingWorld) -> None:
    for served in _served(world, plan_concurrency=1, plan_queue=0):
        plan = {"budget_idr": 20_000_000, "unit_ids": [world.unit_id]}
        planner = world.auth("planner")
        served.predictor.hold()
        with ThreadPoolExecutor(2) as pool:
            solving = pool.submit(served.client.post, "/v1/plans", json=plan, headers=planner)
            assert served.predictor.entered.wait(15)
            second = served.client.post("/v1/plans", json=plan, headers=planner)  # answered at once
            profile = served.client.get(f"/v1/employees/{world.nip}", headers=world.auth("reader"))
            assert not solving.done()
            served.predictor.release()
            assert solving.result(timeout=60).status_code == 200
        assert second.status_code == 503 and second.headers["content-type"] == PROBLEM
        assert "retry-after" in second.headers
        assert profile.status_code == 200  # the default thread pool is not where plans wait
        assert served.line(PLAN_LINE).shed == {"full": 1}
        assert served.line(MODEL_LINE).shed == {}
        assert served.gaps().status_code == 200


def _get(sock: socket.socket, path: str = "/healthz") -> bytes:
    """One HTTP/1.1 request on an open keep-alive connection; the raw answer (headers and body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


@pytest.mark.slow
def test_serve_sets_uvicorns_connection_limit_and_keep_alive_timeout(world: ServingWorld, tmp_path: Path) -> None:
    """KOMPETENSI_LIMIT_CONCURRENCY and KOMPETENSI_TIMEOUT_KEEP_ALIVE reach the real uvicorn of `serve()`:
    with two keep-alive connections open a request on a third is refused, and idle connections are closed."""
    env = {"KOMPETENSI_LIMIT_CONCURRENCY": "3", "KOMPETENSI_TIMEOUT_KEEP_ALIVE": "2"}
    with running_server(world, tmp_path / "server.log", env=env) as base:
        address = ("127.0.0.1", int(base.rsplit(":", 1)[1]))
        opened: list[socket.socket] = []
        try:
            for _ in range(2):  # uvicorn refuses a request once the open connections reach the limit
                opened.append(socket.create_connection(address))
                assert _get(opened[-1]).startswith(b"HTTP/1.1 200")
            opened.append(socket.create_connection(address))
            assert _get(opened[-1]).startswith(b"HTTP/1.1 503")
            opened[0].settimeout(10)
            time.sleep(3)  # idle longer than the keep-alive timeout: the server closes the connection
            assert opened[0].recv(1) == b""
            with socket.create_connection(address) as fresh:
                assert _get(fresh).startswith(b"HTTP/1.1 200")
        finally:
            for sock in opened:
                sock.close()
