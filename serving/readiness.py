"""Is the store reachable? A cheap, bounded probe for GET /readyz.

The snapshot is served from memory, so the model routes keep answering while the store is down, but the
audit trail, reloads and the poller need it: a deployment should know, and a load balancer should prefer
another instance. The probe asks the store what the poller asks (the current snapshot's id), at most once
per `ttl_seconds` whatever the rate of readiness checks, and gives up after `timeout_seconds` (a locked
SQLite file or an unreachable host must not hold the probe, nor a thread per check: while one check runs,
the others get the last answer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

PROBE_TTL_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class StoreHealth:
    reachable: bool
    reason: str | None = None


class StoreProbe:
    """`await probe.health()`: the store's reachability, checked at most once per `ttl_seconds`."""

    def __init__(self, check: Callable[[], Any], *, ttl_seconds: float = PROBE_TTL_SECONDS,
                 timeout_seconds: float = PROBE_TIMEOUT_SECONDS) -> None:
        self.check = check
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_seconds
        self._last = StoreHealth(True)  # the lifespan has just read the store
        self._checked_at: float | None = None
        self._running = False

    async def health(self) -> StoreHealth:
        now = time.monotonic()
        fresh = self._checked_at is not None and now - self._checked_at < self.ttl_seconds
        if fresh or self._running:
            return self._last
        self._running = True
        try:
            self._last = await self._probe()
        finally:
            self._checked_at = time.monotonic()
            self._running = False
        return self._last

    async def _probe(self) -> StoreHealth:
        try:
            with anyio.move_on_after(self.timeout_seconds) as waited:
                # abandoned on timeout: the thread ends with the store's own timeout, nobody waits for it
                await anyio.to_thread.run_sync(self.check, abandon_on_cancel=True)
        except Exception as exc:  # noqa: BLE001 - any error of the store means "not reachable"
            return StoreHealth(False, f"the store cannot be read ({type(exc).__name__})")
        if waited.cancelled_caught:
            return StoreHealth(False, f"the store did not answer within {self.timeout_seconds:g} s")
        return StoreHealth(True)


def store_probe(app: Any) -> StoreProbe:
    """The app's probe, made on first use from the runtime's store source."""
    probe: StoreProbe | None = getattr(app.state, "store_probe", None)
    if probe is None:
        probe = app.state.store_probe = StoreProbe(app.state.runtime.sources.snapshot_id)
    return probe
