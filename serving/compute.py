"""Where the heavy work of a request runs: worker threads behind bounded lines of their own.

The per-employee model routes (gaps, recommendations, what-if, inline gaps) are `async def` handlers
that hand exactly one function to `run_model`: everything else of the request (auth, state, response
validation and JSON) stays on the event loop, with no further thread hop. Plans (`run_plan`) have a line
and threads of their own.

Why a limiter: the model work is Python, pandas and LightGBM under one GIL. Run side by side in one
process, calls do not finish sooner; they cost more. Measured in-process without HTTP (6,000 employees):
`Predictor.recommend` does 58 calls/s on one thread, 47 on two, 42 on four (CPU per call 17 → 24 → 27
ms), and every extra model thread also delays the event loop's GIL hand-offs (a light request under a
recommendation load waited 43 ms with two model threads, 5 ms with one). So by default one model call
runs at a time (`model_concurrency`, env `KOMPETENSI_MODEL_CONCURRENCY`) and the others wait in FIFO
order on the event loop: throughput at concurrency 8 stays at its single-request rate and latency at
concurrency c is about c × the single-request latency. Scale with uvicorn workers (processes), not threads.

Why the line is bounded (backpressure): an unbounded line under more load than the model can serve
grows without end; every request in it waits longer than its client will, and is computed anyway. So:
- at most `model_queue` requests wait (KOMPETENSI_MODEL_QUEUE, 32: about a second of recommendations);
  the next is refused at once with 503 and `Retry-After` (RFC 9110 §15.6.4), which costs microseconds;
- a request that waited `request_timeout_seconds` without reaching a model thread is answered 503 too;
- a request whose client has gone while it waited is dropped before its model call starts (its answer
  would be thrown away). A model call that has started runs to its end: a thread cannot be interrupted,
  and one call is tens of milliseconds.

Plans (a solve of up to its time limit) must not hold the per-employee line, and must not take the
default thread pool that the profile, unit and batch routes share either: they run on `plan_concurrency`
threads of their own behind a line of `plan_queue`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import Request

from serving.problems import ApiProblem

T = TypeVar("T")

DEFAULT_MODEL_CONCURRENCY = 1
MODEL_LINE = "model"
PLAN_LINE = "plan"
CLIENT_CLOSED_REQUEST = 499  # nginx's status for "the client went away first"; nobody receives it


class ClientGone(ApiProblem):
    """The client disconnected while its request waited in line: nothing is computed for it."""

    def __init__(self) -> None:
        super().__init__(CLIENT_CLOSED_REQUEST, "The client closed the connection before the work started.",
                         slug="client-closed-request", title="Client Closed Request")


def overloaded(detail: str, retry_after: int) -> ApiProblem:
    """The 503 of a full or too slow line; `Retry-After` tells a well-behaved client when to come back."""
    return ApiProblem(503, detail, slug="overloaded", title="Service Unavailable",
                      headers={"Retry-After": str(retry_after)})


@dataclass
class WorkLine:
    """At most `slots` calls of a kind run at once, in threads of their own; at most `queue` wait for a slot.

    Made inside the running event loop (`line_for`): anyio limiters belong to the loop that uses them.
    Counters (`admitted`, `shed`) are read by tests and the fault benchmark; `on_shed(line, reason)` feeds
    the Prometheus counter.
    """

    name: str
    slots: int
    queue: int
    timeout_seconds: float
    retry_after: int
    on_shed: Callable[[str, str], None] | None = None
    admitted: int = 0
    shed: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._slots = CapacityLimiter(max(1, self.slots))
        # run_sync takes a limiter token for its thread; a limiter of our own (never contended, since a
        # slot is held first) keeps model threads out of the default pool the light routes use.
        self._threads = CapacityLimiter(max(1, self.slots))

    @property
    def waiting(self) -> int:
        return int(self._slots.statistics().tasks_waiting)

    def _refuse(self, reason: str, problem: ApiProblem) -> ApiProblem:
        self.shed[reason] = self.shed.get(reason, 0) + 1
        if self.on_shed is not None:
            self.on_shed(self.name, reason)
        return problem

    async def run(self, request: Request, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`func(*args, **kwargs)` in a worker thread once a slot is free; 503 when the line is full or the
        wait exceeds the timeout; dropped when the client has gone meanwhile."""
        if self._slots.available_tokens == 0 and self.waiting >= self.queue:
            raise self._refuse("full", overloaded(
                f"Too many requests are waiting for the {self.name} ({self.queue}); retry later.",
                self.retry_after))
        with anyio.move_on_after(self.timeout_seconds) as waited:
            await self._slots.acquire()
        if waited.cancelled_caught:
            raise self._refuse("timeout", overloaded(
                f"No {self.name} slot became free within {self.timeout_seconds:g} s; retry later.",
                self.retry_after))
        try:
            if await client_gone(request):
                raise self._refuse("disconnected", ClientGone())
            self.admitted += 1
            return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs), limiter=self._threads)
        finally:
            self._slots.release()


async def client_gone(request: Request, max_messages: int = 16) -> bool:
    """Whether the client has disconnected, without waiting. Starlette's `is_disconnected` looks at one
    message only, and for a GET (whose body nobody read) that is the request message itself: so read what
    the server has already received, without blocking, until a disconnect or nothing more. Called once the
    body has been parsed (body parameters are read before the handler runs), so nothing needed is lost."""
    for _ in range(max_messages):
        message: dict[str, Any] = {}
        with anyio.CancelScope() as scope:
            scope.cancel()  # only a message that is already there is taken
            message = dict(await request.receive())
        kind = message.get("type")
        if kind == "http.disconnect":
            return True
        if kind != "http.request":
            return False
    return False


def line_for(app: Any, name: str) -> WorkLine:
    """The app's line `name` (model or plan), made on first use inside the running event loop (TestClient
    runs a loop per `with` block, so a limiter made at import or in `create_app` could belong to a loop
    that is gone; the lifespan resets `app.state.work_lines`)."""
    lines: dict[str, WorkLine] | None = getattr(app.state, "work_lines", None)
    if lines is None:
        lines = app.state.work_lines = {}
    line = lines.get(name)
    if line is None:
        line = lines[name] = _make_line(app, name)
    return line


def _make_line(app: Any, name: str) -> WorkLine:
    settings = getattr(app.state, "settings", None)
    metrics = getattr(app.state, "metrics", None)
    timeout = float(getattr(settings, "request_timeout_seconds", 30.0))
    on_shed = None
    shed_counter = getattr(metrics, "requests_shed", None)
    if shed_counter is not None:
        def on_shed(line: str, reason: str) -> None:
            shed_counter.labels(line, reason).inc()
    if name == PLAN_LINE:
        return WorkLine(name, slots=int(getattr(settings, "plan_concurrency", 1)),
                        queue=int(getattr(settings, "plan_queue", 4)), timeout_seconds=timeout,
                        retry_after=5, on_shed=on_shed)
    slots = int(getattr(app.state, "model_concurrency", DEFAULT_MODEL_CONCURRENCY))
    return WorkLine(name, slots=slots, queue=int(getattr(settings, "model_queue", 32)), timeout_seconds=timeout,
                    retry_after=_retry_after(timeout), on_shed=on_shed)


def _retry_after(timeout_seconds: float) -> int:
    """A full model line drains in about a second; never ask a client to wait longer than a timeout."""
    return max(1, min(2, math.ceil(timeout_seconds)))


def model_limiter(app: Any) -> CapacityLimiter:
    """The slots of the app's model line (kept for callers that only need the limiter)."""
    return line_for(app, MODEL_LINE)._slots


async def run_model(request: Request, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, **kwargs)` in a model thread, at most `model_concurrency` at a time per app, behind a
    bounded line (module docstring)."""
    return await line_for(request.app, MODEL_LINE).run(request, func, *args, **kwargs)


async def run_plan(request: Request, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, **kwargs)` on the plan threads, at most `plan_concurrency` at a time per app."""
    return await line_for(request.app, PLAN_LINE).run(request, func, *args, **kwargs)
