"""The counting of `make bench-faults` (benchmarks/bench_faults.py): what is a shed, what is a failure, and
when readiness turned. The run itself takes minutes (a 6,000-employee world); here its open-loop load
generator runs against a small local HTTP server with known answers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.bench_faults import open_loop, readiness_timeline, summarise

# path → (status, Retry-After or None): a shed, an admitted request, and two answers that are failures
ANSWERS = {"/ok": (200, None), "/shed": (503, "1"), "/bare503": (503, None), "/boom": (500, None)}


class Known(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        status, retry_after = ANSWERS.get(self.path, (200, None))
        self.send_response(status)
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def known_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Known)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_only_a_503_with_retry_after_counts_as_shed() -> None:
    events: list[str] = []
    ready: list[tuple[float, int | None]] = []
    with known_server() as base:
        outcomes = asyncio.run(open_loop(base, ["/ok", "/shed", "/bare503", "/boom"], "key", rate=40, seconds=1.0,
                                         events=[(0.5, lambda: events.append("stopped"))], ready_log=ready))
    summary = summarise(outcomes, 1.0, 40)
    assert summary["sent"] == 40 and summary["no_answer"] == 0
    assert (summary["admitted"], summary["shed_503_retry_after"], summary["other_5xx"]) == (10, 10, 20)
    assert summary["statuses"] == {"200": 10, "503": 20, "500": 10}
    assert events == ["stopped"] and ready and all(status == 200 for _, status in ready)


def test_readiness_timeline() -> None:
    log = [(7.5, 200), (8.2, 200), (9.1, 503), (12.0, 503), (18.1, 503), (18.4, 200), (19.0, 200)]
    timeline = readiness_timeline(log, stop_at=8.0, start_at=18.0)
    assert timeline == {"ready_before_stop": True, "not_ready_after_stop_s": 1.1, "ready_after_start_s": 0.4,
                        "turned_false": True, "came_back": True}
    never = readiness_timeline([(9.0, 200), (19.0, 200)], stop_at=8.0, start_at=18.0)
    assert never["turned_false"] is False
