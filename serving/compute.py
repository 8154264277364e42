"""Where the model work of a request runs: a worker thread, behind a limiter of its own.

The per-employee model routes (gaps, recommendations, what-if, inline gaps) are `async def` handlers
that hand exactly one function to `run_model`: everything else of the request (auth, state, response
validation and JSON) stays on the event loop, with no further thread hop.

Why a limiter: the model work is Python, pandas and LightGBM under one GIL. Run side by side in one
process, calls do not finish sooner; they cost more. Measured in-process without HTTP (6,000 employees):
`Predictor.recommend` does 58 calls/s on one thread, 47 on two, 42 on four (CPU per call 17 → 24 → 27
ms), and every extra model thread also delays the event loop's GIL hand-offs (a light request under a
recommendation load waited 43 ms with two model threads, 5 ms with one). So by default one model call
runs at a time (`model_concurrency`, env `KOMPETENSI_MODEL_CONCURRENCY`) and the others wait in FIFO
order on the event loop: throughput at concurrency 8 stays at its single-request rate and latency at
concurrency c is about c × the single-request latency. Scale with uvicorn workers (processes), not threads.

Long batch routes (recommendations:batch, unit summaries, plans) keep the default thread pool: behind the
same limiter, one plan would hold every per-employee request for its whole time limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import Request

T = TypeVar("T")

DEFAULT_MODEL_CONCURRENCY = 1


def model_limiter(app: Any) -> CapacityLimiter:
    """The app's limiter; made on first use inside the running event loop (TestClient runs a loop per
    `with` block, so a limiter made at import or in `create_app` could belong to a loop that is gone)."""
    limiter: CapacityLimiter | None = getattr(app.state, "model_limiter", None)
    if limiter is None:
        slots = int(getattr(app.state, "model_concurrency", DEFAULT_MODEL_CONCURRENCY))
        limiter = app.state.model_limiter = CapacityLimiter(max(1, slots))
    return limiter


async def run_model(request: Request, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, **kwargs)` in a worker thread, at most `model_concurrency` at a time per app."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs),
                                          limiter=model_limiter(request.app))
